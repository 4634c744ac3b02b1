#include "daemon.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <iostream>
#include <mutex>
#include <thread>

extern "C" {
#include <libavutil/log.h>
}
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cinevault/api/api.hpp"
#include "cinevault/core/file.hpp"
#include "cinevault/core/hour_window.hpp"
#include "cinevault/core/log.hpp"
#include "cinevault/core/malloc_tuning.hpp"
#include "cinevault/db/api_keys.hpp"
#include "cinevault/db/objects.hpp"
#include "cinevault/db/users.hpp"
#include "cinevault/db/versions.hpp"
#include "cinevault/http/server.hpp"
#include "cinevault/ingest/library_watcher.hpp"
#include "cinevault/pipeline/job_queue.hpp"
#include "cinevault/pipeline/workers.hpp"
#include "cinevault/web/assets.hpp"
#include "cinevault/worker/media_worker.hpp"
#include "cinevault/worker/worker_process.hpp"
#include "data_dir_lock.hpp"
#include "service_notifier.hpp"

namespace cinevault::app {
namespace {

namespace fs = std::filesystem;

struct Services {
  std::unique_ptr<store::ObjectStore> store;
  std::unique_ptr<db::Database> database;
};

Result<Services> open_services(const Config& config) {
  Services services;
  TRY(services.store, store::make_local_store(config.data_dir));
  TRY(services.database, db::Database::open(config.data_dir / "cinevault.db"));
  return services;
}

Result<store::GcReport> collect_garbage(db::Database& database, store::ObjectStore& store, bool remove_temp_files) {
  store::ObjectStore::Collector collector{
      [&]() -> Result<std::size_t> {
        return database.write([](db::Connection& c) {
          return db::delete_unreferenced_objects(c).map([](const auto& removed) { return removed.size(); });
        });
      },
      [&](const std::string& sha256) {
        return database.read([&](db::Connection& c) { return db::object_exists(c, sha256); });
      }};
  auto report = store.collect_garbage(collector, remove_temp_files);
  if (report && (report->objects_removed || report->rows_removed || report->temp_files_removed))
    spdlog::info("gc: removed {} object(s) ({} bytes), {} row(s), {} temp file(s)", report->objects_removed,
                 report->bytes_freed, report->rows_removed, report->temp_files_removed);
  if (!report) spdlog::error("gc failed: {}", report.error().message);
  return report;
}

// On first start: an API key of the first admin (made by the schema's migration), whose
// secret goes to <data>/admin.key (0600) and nowhere else.
Result<void> ensure_admin_key(const Config& config, db::Database& database) {
  auto path = fs::absolute(config.data_dir / "admin.key");
  TRY(bool created, database.write([&](db::Connection& c) -> Result<bool> {
    TRY(auto count, db::count_api_keys(c));
    if (count > 0) return false;
    TRY(auto admin, db::first_admin(c));
    if (!admin) return fail(ErrorCode::database, "the database has no admin user");
    TRY(auto key, db::create_api_key(c, "admin", admin->id));
    // Written before the commit: a committed key always has its file.
    RETURN_IF_ERROR(write_file_atomically(path, key.secret + "\n", 0600));
    return true;
  }));
  if (created) spdlog::info("created the admin API key; it is in {} (mode 0600)", path.string());
  auto admin = database.read([](db::Connection& c) { return db::first_admin(c); });
  if (admin && *admin && !(*admin)->has_password)
    spdlog::info("the user {} has no password yet and cannot sign in to the page: cinevault users passwd {}",
                 (*admin)->name, (*admin)->name);
  return {};
}

// Periodic work off the request path: expiring abandoned uploads, collecting garbage.
class Maintenance {
 public:
  Maintenance(const Config& config, db::Database& database, store::ObjectStore& store, ingest::UploadManager& uploads,
              api::ObjectIndex& objects)
      : thread_([this, &config, &database, &store, &uploads, &objects](std::stop_token stop) {
          using namespace std::chrono;
          auto next_gc = steady_clock::now() + minutes(config.store.gc_interval_minutes);
          std::unique_lock lock(mutex_);
          while (!stop.stop_requested()) {
            wake_.wait_for(lock, stop, minutes(1), [] { return false; });
            if (stop.stop_requested()) break;
            lock.unlock();
            try {  // this round fails; the thread, and the daemon, go on
              if (auto expired = uploads.expire(); !expired)
                spdlog::error("upload expiry failed: {}", expired.error().message);
              // A player that started on a replaced version gets an hour to finish it.
              auto stale =
                  database.write([](db::Connection& c) { return db::delete_stale_versions(c, db::now_ms(), 3'600'000); });
              if (!stale) spdlog::error("removing stale versions failed: {}", stale.error().message);
              else if (*stale > 0) {
                objects.forget_all();  // their objects stop being served now
                spdlog::info("removed {} superseded or abandoned version(s)", *stale);
              }
              if (config.store.gc_interval_minutes > 0 && steady_clock::now() >= next_gc) {
                (void)collect_garbage(database, store, false);
                next_gc = steady_clock::now() + minutes(config.store.gc_interval_minutes);
              }
            } catch (const std::exception& exception) {
              spdlog::error("maintenance threw: {}", exception.what());
            }
            lock.lock();
          }
        }) {}

 private:
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: stopped and joined first
};

// library.folders as the watcher takes them: whose videos they become, and who may watch.
Result<ingest::WatchSettings> library_watch_settings(const Config& config, db::Database& database) {
  ingest::WatchSettings settings;
  for (const std::string& folder : config.library.folders) {
    std::error_code ec;
    if (!fs::is_directory(folder, ec))
      return fail(ErrorCode::invalid_argument, "library.folders: " + folder + " is not a folder");
    settings.folders.push_back(fs::path(folder).lexically_normal());
  }
  settings.data_dir = fs::absolute(config.data_dir);
  settings.folder_tags = config.library.folder_tags;
  settings.settle_s = config.library.settle_s;
  TRY(settings.visibility, ingest::visibility_field(config.uploads.default_visibility));
  TRY(auto owner, database.read([&](db::Connection& c) {
    return config.library.owner.empty() ? db::first_admin(c) : db::find_user(c, config.library.owner);
  }));
  if (!owner) return fail(ErrorCode::invalid_argument, "library.owner: no user named " + config.library.owner);
  settings.owner_id = owner->id;
  return settings;
}

int fatal(const std::string& message) {
  spdlog::critical("{}", message);
  return 1;
}

}  // namespace

int serve(const Config& config) {
  // The daemon's threads (I/O, blocking pool, upload hashing) share a few arenas.
  cap_malloc_arenas();
  // sendfile(2) has no MSG_NOSIGNAL: a client that hangs up mid-body must not kill the daemon.
  ::signal(SIGPIPE, SIG_IGN);
  if (auto logging = init_logging(config.log_level); !logging) {
    std::cerr << "cinevault: " << logging.error().message << "\n";
    return 2;
  }
  av_log_set_level(AV_LOG_ERROR);
  auto lock = DataDirLock::acquire(config.data_dir);
  if (!lock) return fatal(lock.error().message);
  auto services = open_services(config);
  if (!services) return fatal(services.error().message);
  auto& database = *services->database;
  auto& store = *services->store;

  // Nothing is being written yet: leftovers of a crash (temp files, unreferenced objects) go.
  if (!collect_garbage(database, store, true)) return 1;
  if (auto key = ensure_admin_key(config, database); !key) return fatal(key.error().message);

  // Jobs: leases carry this process's name; jobs of a dead process go back to the queue.
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  pipeline::RetryPolicy policy;
  policy.max_attempts = config.pipeline.max_attempts;
  policy.first_backoff = std::chrono::seconds(config.pipeline.retry_backoff_s);
  auto import_hours = parse_hour_window(config.library.hours);  // checked with the configuration
  if (!import_hours) return fatal(import_hours.error().message);
  if (*import_hours) spdlog::info("library imports are transcoded from {:02}:00 to {:02}:00 (library.hours)",
                                  (*import_hours)->start, (*import_hours)->end);
  pipeline::JobQueue queue(database, fmt::format("{}:{}:{}", host, ::getpid(), db::now_ms()), policy, *import_hours);
  if (auto requeued = queue.requeue_abandoned(); !requeued) return fatal(requeued.error().message);
  else if (*requeued > 0) spdlog::info("{} job(s) of a stopped process went back to the queue", *requeued);
  // Probes and transcodes run in media worker processes (docs/design.md, the worker boundary).
  worker::WorkerPool media_workers(worker::worker_settings(config));
  auto workers = pipeline::make_workers(config, database, store, queue, media_workers);

  // Uploads are probed in a sandboxed media worker: the daemon never decodes a byte of them.
  auto probe = [&config, &media_workers](const fs::path& staged) { return media_workers.probe(staged, config.media); };
  ingest::Ingestor ingestor(probe, database, store, [&workers] { workers->wake(); });
  ingest::UploadBudget upload_budget(config.uploads, ingest::UploadBudget::free_space_of(config.data_dir));
  ingest::UploadManager uploads(config.uploads, config.data_dir / "uploads", database, ingestor, upload_budget);
  if (auto recovered = uploads.recover(); !recovered) return fatal("upload recovery failed: " + recovered.error().message);

  std::unique_ptr<web::Assets> assets;
  if (config.web.dir.empty()) {
    assets = web::make_embedded_assets();
  } else {
    spdlog::info("serving the web page from {}", fs::absolute(config.web.dir).string());
    assets = web::make_directory_assets(config.web.dir);
  }

  std::unique_ptr<http::Server> server;
  api::ObjectIndex objects(100000);  // 100,000 hashes: about 15 MB, a large library's hot set
  auto share_links = api::ShareLinks::open(database);
  if (!share_links) return fatal(share_links.error().message);
  ingest::LibraryImporter importer(config, database, store, ingestor, upload_budget);
  auto library = library_watch_settings(config, database);
  if (!library) return fatal(library.error().message);
  api::ApiContext context{config,  database, store,   ingestor, uploads,      upload_budget,
                          importer, queue,   *assets, objects,  **share_links,
                          [&workers] { workers->wake(); },
                          [&server] { return server->draining(); },
                          [&] { return collect_garbage(database, store, false); }};
  server = http::make_server(config.http, api::make_gate(context), api::make_routes(context));
  if (auto listening = server->listen(); !listening) return fatal(listening.error().message);
  spdlog::info("cinevault listening on http://{}:{} with data in {}", split_listen(config.http.listen)->host,
               server->port(), fs::absolute(config.data_dir).string());
  workers->start();
  {
    ServiceNotifier notifier(*server);
    notifier.ready(fmt::format("serving on port {}", server->port()));
    Maintenance maintenance(config, database, store, uploads, objects);
    std::optional<ingest::LibraryWatcher> watcher;
    if (!library->folders.empty()) watcher.emplace(std::move(*library), importer);
    server->run();
  }
  // Running transcodes stop; their jobs go back to the queue for the next start.
  workers->stop();
  server.reset();
  spdlog::info("stopped cleanly");
  return 0;
}

int keys_command(const Config& config, std::vector<std::string> args) {
  auto usage = [] {
    std::cerr << "cinevault: usage: cinevault keys create [NAME] [--user USER] | list | revoke ID\n";
    return 2;
  };
  std::optional<std::string> user_name;
  if (auto user = std::find(args.begin(), args.end(), "--user"); user != args.end() && user + 1 != args.end()) {
    user_name = *(user + 1);
    args.erase(user, user + 2);
  }
  bool well_formed = !args.empty() && ((args[0] == "create" && args.size() <= 2) ||
                                       (args[0] == "list" && args.size() == 1 && !user_name) ||
                                       (args[0] == "revoke" && args.size() == 2 && !user_name));
  if (!well_formed) return usage();
  std::error_code ec;
  fs::create_directories(config.data_dir, ec);
  auto database = db::Database::open(config.data_dir / "cinevault.db", 1);
  if (!database) {
    std::cerr << "cinevault: " << database.error().message << "\n";
    return 1;
  }
  auto& db = **database;
  if (args[0] == "create" && args.size() <= 2) {
    std::string name = args.size() == 2 ? args[1] : "key";
    auto key = db.write([&](db::Connection& c) -> Result<db::NewApiKey> {
      TRY(auto user, user_name ? db::find_user(c, *user_name) : db::first_admin(c));
      if (!user) return fail(ErrorCode::not_found, user_name ? "no user named " + *user_name : "no admin user");
      return db::create_api_key(c, name, user->id);
    });
    if (!key) return std::cerr << "cinevault: " << key.error().message << "\n", 1;
    std::cerr << "created key " << key->row.id << " (" << name << ") of " << key->row.user_name
              << "; the secret is shown once:\n";
    std::cout << key->secret << "\n";
    return 0;
  }
  if (args[0] == "list" && args.size() == 1) {
    auto keys = db.read([](db::Connection& c) { return db::list_api_keys(c); });
    if (!keys) return std::cerr << "cinevault: " << keys.error().message << "\n", 1;
    std::cout << "ID        NAME                 USER         CREATED (unix ms)  LAST USED          REVOKED\n";
    for (auto& k : *keys) {
      std::printf("%-9s %-20s %-12s %-18lld %-18s %s\n", k.id.c_str(), k.name.c_str(), k.user_name.c_str(),
                  static_cast<long long>(k.created_at_ms),
                  k.last_used_at_ms ? std::to_string(*k.last_used_at_ms).c_str() : "-",
                  k.revoked_at_ms ? std::to_string(*k.revoked_at_ms).c_str() : "-");
    }
    return 0;
  }
  if (args[0] == "revoke" && args.size() == 2) {
    auto revoked = db.write([&](db::Connection& c) { return db::revoke_api_key(c, args[1]); });
    if (!revoked) return std::cerr << "cinevault: " << revoked.error().message << "\n", 1;
    if (!*revoked) return std::cerr << "cinevault: no live key with id " << args[1] << "\n", 1;
    std::cerr << "revoked key " << args[1] << "\n";
    return 0;
  }
  return usage();
}

int gc_command(const Config& config) {
  if (!init_logging(config.log_level)) return 2;
  auto lock = DataDirLock::acquire(config.data_dir);
  if (!lock) return fatal(lock.error().message + " (stop the daemon, or POST /api/v1/admin/gc)");
  auto services = open_services(config);
  if (!services) return fatal(services.error().message);
  auto report = collect_garbage(*services->database, *services->store, true);
  if (!report) return 1;
  std::cout << "removed " << report->objects_removed << " object(s), " << report->bytes_freed << " bytes, "
            << report->rows_removed << " row(s), " << report->temp_files_removed << " temp file(s)\n";
  return 0;
}

int rotate_share_key_command(const Config& config) {
  if (!init_logging(config.log_level)) return 2;
  // A running daemon keeps the key it loaded: it rotates through POST /api/v1/admin/signing-key.
  auto lock = DataDirLock::acquire(config.data_dir);
  if (!lock) return fatal(lock.error().message + " (stop the daemon, or POST /api/v1/admin/signing-key)");
  auto database = db::Database::open(config.data_dir / "cinevault.db", 1);
  if (!database) return fatal(database.error().message);
  auto links = api::ShareLinks::open(**database);
  if (!links) return fatal(links.error().message);
  if (auto rotated = (*links)->rotate(**database); !rotated) return fatal(rotated.error().message);
  std::cerr << "rotated the share-link signing key: every link made before no longer opens\n";
  return 0;
}

void media_worker_command(const Config& config) {
  int status = 2;
  if (init_logging(config.log_level)) {
    // Its lines go to the daemon's standard error (the journal) beside the daemon's own.
    spdlog::default_logger()->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ media-worker %P: %v", spdlog::pattern_time_type::utc);
    status = worker::run_media_worker(worker::kWorkerChannelFd);
    spdlog::default_logger()->flush();
  }
  ::_exit(status);
}

}  // namespace cinevault::app
