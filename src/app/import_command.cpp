// cinevault import: brings the video files under some paths into the library. With no daemon
// on the data directory it imports them itself (their transcodes wait for the daemon); with
// one, it hands each file to it (POST /api/v1/library/imports) instead of fighting over the
// data directory.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cinevault/core/log.hpp"
#include "cinevault/core/text.hpp"
#include "cinevault/db/api_keys.hpp"
#include "cinevault/db/users.hpp"
#include "cinevault/ingest/library_watcher.hpp"
#include "cinevault/worker/worker_process.hpp"
#include "daemon.hpp"
#include "data_dir_lock.hpp"

namespace cinevault::app {
namespace {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace beast_http = beast::http;
namespace net = boost::asio;
using json = nlohmann::json;
using ingest::ImportOutcome;
using ingest::ImportResult;

std::atomic<bool> interrupted{false};

struct Options {
  std::vector<fs::path> paths;
  std::optional<std::string> user;  // owner of the new videos; default: the first admin
  std::optional<std::string> visibility;
  bool folder_tags = false;
  bool json_summary = false;
};

struct Target {
  fs::path file;
  fs::path root;
  std::uint64_t size = 0;
};

std::string shown(const fs::path& path) { return to_utf8(path.string()); }

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int unit = 0;
  while (bytes >= 1000 && unit < 4) bytes /= 1000, ++unit;
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[unit]);
}

std::string human_duration(double seconds) {
  auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

// Imports one file: in this process, or through the daemon.
using ImportOne = std::function<ImportResult(const Target&)>;

// The running daemon's API, on a kept-alive connection to its listen address.
class DaemonClient {
 public:
  DaemonClient(const Config& config, std::string key) : key_(std::move(key)) {
    auto listen = split_listen(config.http.listen);
    host_ = listen ? listen->host : "127.0.0.1";
    port_ = listen ? listen->port : 8080;
    if (host_ == "0.0.0.0" || host_.empty()) host_ = "127.0.0.1";
    if (host_ == "::") host_ = "::1";
    // The Host header must be one the daemon answers to (http.allowed_hosts).
    std::string name = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
    if (!config.http.allowed_hosts.empty() && config.http.allowed_hosts != "*")
      name = config.http.allowed_hosts.substr(0, config.http.allowed_hosts.find(','));
    host_header_ = fmt::format("{}:{}", trim_blanks(name), port_);
  }

  // One request; a dropped kept-alive connection is opened again once.
  Result<std::pair<unsigned, json>> post(const std::string& target, const json& body) {
    for (int attempt = 0;; ++attempt) {
      auto answer = try_post(target, body);
      if (answer || attempt == 1) return answer;
      stream_.reset();
    }
  }

 private:
  Result<std::pair<unsigned, json>> try_post(const std::string& target, const json& body) {
    try {
      if (!stream_) {
        stream_.emplace(io_);
        stream_->expires_after(std::chrono::seconds(10));
        stream_->connect(net::ip::tcp::endpoint(net::ip::make_address(host_), port_));
      }
      beast_http::request<beast_http::string_body> request{beast_http::verb::post, target, 11};
      request.set(beast_http::field::host, host_header_);
      request.set(beast_http::field::authorization, "Bearer " + key_);
      request.set(beast_http::field::content_type, "application/json");
      request.body() = json_text(body);
      request.prepare_payload();
      // A large file's copy or hash takes the daemon a while.
      stream_->expires_after(std::chrono::hours(1));
      beast_http::write(*stream_, request);
      beast::flat_buffer buffer;
      beast_http::response<beast_http::string_body> response;
      beast_http::read(*stream_, buffer, response);
      if (!response.keep_alive()) stream_.reset();
      json document = json::parse(response.body(), nullptr, false);
      return std::pair<unsigned, json>(response.result_int(), document.is_discarded() ? json::object() : document);
    } catch (const std::exception& error) {
      stream_.reset();
      return fail(ErrorCode::unavailable, fmt::format("the daemon at {}:{} did not answer: {}", host_, port_, error.what()));
    }
  }

  std::string key_, host_, host_header_;
  std::uint16_t port_ = 8080;
  net::io_context io_;
  std::optional<beast::tcp_stream> stream_;
};

ImportResult result_from_answer(unsigned status, const json& answer) {
  ImportResult result;
  std::string outcome = answer.value("outcome", std::string());
  for (auto candidate : {ImportOutcome::added, ImportOutcome::duplicate, ImportOutcome::unchanged,
                         ImportOutcome::refused, ImportOutcome::busy})
    if (outcome == ingest::to_string(candidate)) result.outcome = candidate;
  if (outcome.empty()) result.outcome = ImportOutcome::refused;
  if (answer.contains("error") && answer["error"].is_object())
    result.reason = answer["error"].value("message", std::string());
  if (outcome.empty() && result.reason.empty()) result.reason = fmt::format("the daemon answered {}", status);
  if (answer.contains("video") && answer["video"].is_object()) {
    result.video_id = answer["video"].value("id", std::string());
    result.title = answer["video"].value("title", std::string());
  }
  result.bytes = answer.value("bytes", std::uint64_t{0});
  return result;
}

void on_interrupt(int) { interrupted = true; }

// Runs the import and prints the progress line and the summary.
int run_import(const std::vector<Target>& targets, const ImportOne& import_one, bool json_summary, const char* where) {
  std::uint64_t total_bytes = 0;
  for (const Target& target : targets) total_bytes += target.size;
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t done_bytes = 0;
  std::size_t done_files = 0;
  std::map<ImportOutcome, std::vector<std::pair<const Target*, ImportResult>>> outcomes;

  auto progress = [&](const Target& target) {
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    double rate = elapsed > 0 ? done_bytes / elapsed : 0;
    std::string left = rate > 0 && total_bytes > done_bytes ? human_duration((total_bytes - done_bytes) / rate) + " left" : "";
    std::string line = fmt::format("[{}/{} files] {} of {}, {}/s, {}  {}", done_files, targets.size(),
                                   human_bytes(done_bytes), human_bytes(total_bytes), human_bytes(rate), left,
                                   shown(target.file.filename()));
    if (tty) std::cerr << "\r\033[K" << line.substr(0, 160) << std::flush;
    else std::cerr << line << "\n";
  };

  std::cerr << fmt::format("importing {} file(s), {}, {}\n", targets.size(), human_bytes(total_bytes), where);
  std::vector<const Target*> busy;
  for (const Target& target : targets) {
    if (interrupted) break;
    ImportResult result = import_one(target);
    if (result.outcome == ImportOutcome::busy) {
      busy.push_back(&target);
      continue;
    }
    done_bytes += target.size;
    ++done_files;
    progress(target);
    outcomes[result.outcome].emplace_back(&target, std::move(result));
  }
  // Files still being written: taken once they have stopped changing.
  while (!busy.empty() && !interrupted) {
    if (tty) std::cerr << "\r\033[K";
    std::cerr << fmt::format("waiting for {} file(s) still being written: {}\n", busy.size(), shown(busy.front()->file));
    for (int i = 0; i < 20 && !interrupted; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::vector<const Target*> still;
    for (const Target* target : busy) {
      if (interrupted) break;
      ImportResult result = import_one(*target);
      if (result.outcome == ImportOutcome::busy) {
        still.push_back(target);
        continue;
      }
      done_bytes += std::max(result.bytes, target->size);
      ++done_files;
      progress(*target);
      outcomes[result.outcome].emplace_back(target, std::move(result));
    }
    busy = std::move(still);
  }
  if (tty) std::cerr << "\n";

  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto count = [&](ImportOutcome outcome) { return outcomes[outcome].size(); };
  if (json_summary) {
    json summary = {{"seconds", elapsed}, {"bytes", done_bytes}, {"interrupted", interrupted.load()}};
    for (auto outcome : {ImportOutcome::added, ImportOutcome::duplicate, ImportOutcome::unchanged,
                         ImportOutcome::refused}) {
      json list = json::array();
      for (auto& [target, result] : outcomes[outcome]) {
        json entry = {{"path", shown(target->file)}};
        if (!result.video_id.empty()) entry["video"] = result.video_id;
        if (!result.title.empty()) entry["title"] = result.title;
        if (!result.reason.empty()) entry["reason"] = result.reason;
        list.push_back(std::move(entry));
      }
      summary[ingest::to_string(outcome)] = std::move(list);
    }
    std::cout << json_text(summary, 2) << "\n";
  } else {
    std::cout << fmt::format("{} file(s), {} in {}: {} added, {} duplicate, {} already imported, {} refused{}\n",
                             done_files, human_bytes(done_bytes), human_duration(elapsed), count(ImportOutcome::added),
                             count(ImportOutcome::duplicate), count(ImportOutcome::unchanged),
                             count(ImportOutcome::refused), interrupted ? " (interrupted)" : "");
    for (auto& [target, result] : outcomes[ImportOutcome::refused])
      std::cout << "  refused " << shown(target->file) << ": " << result.reason << "\n";
  }
  return interrupted ? 130 : 0;
}

Result<Options> parse_options(const std::vector<std::string>& args) {
  Options options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--user" && i + 1 < args.size()) options.user = args[++i];
    else if (arg == "--visibility" && i + 1 < args.size()) options.visibility = args[++i];
    else if (arg == "--folder-tags") options.folder_tags = true;
    else if (arg == "--json") options.json_summary = true;
    else if (arg.rfind("--", 0) == 0) return fail(ErrorCode::invalid_argument, "unknown option " + arg);
    else options.paths.emplace_back(arg);
  }
  if (options.paths.empty()) return fail(ErrorCode::invalid_argument, "name at least one file or folder");
  return options;
}

}  // namespace

int import_command(const Config& config, const std::vector<std::string>& args) {
  auto options = parse_options(args);
  if (!options) {
    std::cerr << "cinevault: " << options.error().message
              << " (usage: cinevault import [--user NAME] [--visibility V] [--folder-tags] [--json] PATH...)\n";
    return 2;
  }
  if (!init_logging(config.log_level)) return 2;
  spdlog::set_level(std::max(spdlog::get_level(), spdlog::level::warn));  // the progress line speaks instead
  const fs::path data_dir = fs::absolute(config.data_dir);

  std::vector<Target> targets;
  for (const fs::path& argument : options->paths) {
    fs::path root = fs::absolute(argument).lexically_normal();
    std::error_code ec;
    if (!fs::exists(root, ec)) {
      std::cerr << "cinevault: no such file or folder: " << shown(argument) << "\n";
      return 1;
    }
    ingest::walk_library(root, data_dir, [&](const fs::path& file) {
      targets.push_back({file, fs::is_directory(root, ec) ? root : root.parent_path(), fs::file_size(file, ec)});
      return true;
    });
  }
  auto visibility = ingest::visibility_field(options->visibility.value_or(config.uploads.default_visibility));
  if (!visibility) return std::cerr << "cinevault: " << visibility.error().message << "\n", 2;
  const bool folder_tags = options->folder_tags || config.library.folder_tags;
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);

  auto lock = DataDirLock::acquire(config.data_dir);
  if (!lock && lock.error().code != ErrorCode::unavailable) return std::cerr << "cinevault: " << lock.error().message << "\n", 1;

  if (!lock) {
    // A daemon runs here: it imports, with a key of an admin that lasts this command.
    auto database = db::Database::open(config.data_dir / "cinevault.db", 1);
    if (!database) return std::cerr << "cinevault: " << database.error().message << "\n", 1;
    auto key = (*database)->write([&](db::Connection& c) -> Result<db::NewApiKey> {
      TRY(auto admin, db::first_admin(c));
      if (!admin) return fail(ErrorCode::not_found, "no admin user");
      if (options->user) {
        TRY(auto user, db::find_user(c, *options->user));
        if (!user) return fail(ErrorCode::not_found, "no user named " + *options->user);
      }
      return db::create_api_key(c, "cinevault import (revoked when it ends)", admin->id);
    });
    if (!key) return std::cerr << "cinevault: " << key.error().message << "\n", 1;
    DaemonClient daemon(config, key->secret);
    int status = run_import(
        targets,
        [&](const Target& target) -> ImportResult {
          const std::string path = target.file.string(), root = target.root.string();
          if (!is_utf8(path) || !is_utf8(root)) {
            ImportResult refused;
            refused.reason = "its path is not UTF-8: import it with the daemon stopped, or rename it";
            return refused;
          }
          // What the command line does not say, the daemon's configuration decides.
          json body = {{"path", path}, {"root", root}};
          if (options->folder_tags) body["folder_tags"] = true;
          if (options->visibility) body["visibility"] = db::to_string(*visibility);
          if (options->user) body["owner"] = *options->user;
          auto answer = daemon.post("/api/v1/library/imports", body);
          if (!answer) {
            ImportResult failed;
            failed.reason = answer.error().message;
            return failed;
          }
          return result_from_answer(answer->first, answer->second);
        },
        options->json_summary, "through the running daemon");
    (void)(*database)->write([&](db::Connection& c) { return db::revoke_api_key(c, key->row.id); });
    return status;
  }

  // No daemon: this process imports, holding the data directory as the daemon would.
  auto store = store::make_local_store(config.data_dir);
  if (!store) return std::cerr << "cinevault: " << store.error().message << "\n", 1;
  auto database = db::Database::open(config.data_dir / "cinevault.db", 1);
  if (!database) return std::cerr << "cinevault: " << database.error().message << "\n", 1;
  auto owner = (*database)->read([&](db::Connection& c) {
    return options->user ? db::find_user(c, *options->user) : db::first_admin(c);
  });
  if (!owner || !*owner)
    return std::cerr << "cinevault: " << (options->user ? "no user named " + *options->user : "no admin user") << "\n", 1;
  worker::WorkerPool media_workers(worker::worker_settings(config));
  ingest::Ingestor ingestor([&](const fs::path& staged) { return media_workers.probe(staged, config.media); },
                            **database, **store);
  ingest::UploadBudget budget(config.uploads, ingest::UploadBudget::free_space_of(config.data_dir));
  ingest::LibraryImporter importer(config, **database, **store, ingestor, budget);
  const std::int64_t owner_id = (*owner)->id;
  return run_import(
      targets,
      [&](const Target& target) {
        return importer.import_file({target.file, target.root, owner_id, *visibility, folder_tags});
      },
      options->json_summary, "their transcodes start with the daemon");
}

}  // namespace cinevault::app
