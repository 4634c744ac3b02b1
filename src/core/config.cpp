#include "cinevault/core/config.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <limits>

#include <nlohmann/json.hpp>

#include "cinevault/core/hour_window.hpp"
#include "cinevault/core/parse.hpp"

namespace cinevault {
namespace {

using json = nlohmann::json;

// A key binds a dotted name to a member; every access goes through this table so that the
// file, the flags, --help and --print-config can never disagree.
struct KeyBinding {
  const char* name;
  const char* description;
  std::function<Result<void>(Config&, const json&)> set;
  std::function<json(const Config&)> get;
};

Result<void> bad(const std::string& key, const std::string& why) {
  return fail(ErrorCode::invalid_argument, "config key '" + key + "': " + why);
}

template <typename Member>
KeyBinding integer(const char* name, const char* description, std::function<Member&(Config&)> at,
                   std::int64_t min, std::int64_t max) {
  return KeyBinding{
      name, description,
      [=](Config& c, const json& v) -> Result<void> {
        if (!v.is_number_integer()) return bad(name, "expected an integer");
        auto n = v.get<std::int64_t>();
        if (n < min || n > max)
          return bad(name, "must be between " + std::to_string(min) + " and " + std::to_string(max));
        at(c) = static_cast<Member>(n);
        return {};
      },
      [=](const Config& c) { return json(at(const_cast<Config&>(c))); }};
}

KeyBinding number(const char* name, const char* description, std::function<double&(Config&)> at, double min,
                  double max) {
  return KeyBinding{name, description,
                    [=](Config& c, const json& v) -> Result<void> {
                      if (!v.is_number()) return bad(name, "expected a number");
                      double n = v.get<double>();
                      if (!(n >= min && n <= max))
                        return bad(name, "must be between " + json(min).dump() + " and " + json(max).dump());
                      at(c) = n;
                      return {};
                    },
                    [=](const Config& c) { return json(at(const_cast<Config&>(c))); }};
}

KeyBinding boolean(const char* name, const char* description, std::function<bool&(Config&)> at) {
  return KeyBinding{name, description,
                    [=](Config& c, const json& v) -> Result<void> {
                      if (!v.is_boolean()) return bad(name, "expected true or false");
                      at(c) = v.get<bool>();
                      return {};
                    },
                    [=](const Config& c) { return json(at(const_cast<Config&>(c))); }};
}

KeyBinding text(const char* name, const char* description, std::function<std::string&(Config&)> at,
                std::function<Result<void>(const std::string&)> check) {
  return KeyBinding{name, description,
                    [=](Config& c, const json& v) -> Result<void> {
                      if (!v.is_string()) return bad(name, "expected a string");
                      auto s = v.get<std::string>();
                      if (auto ok = check(s); !ok) return bad(name, ok.error().message);
                      at(c) = s;
                      return {};
                    },
                    [=](const Config& c) { return json(at(const_cast<Config&>(c))); }};
}

// A list of absolute paths: a JSON array in the file; a flag's value is one path, or an array.
KeyBinding path_list(const char* name, const char* description, std::function<std::vector<std::string>&(Config&)> at) {
  return KeyBinding{name, description,
                    [=](Config& c, const json& v) -> Result<void> {
                      if (!v.is_array()) return bad(name, "expected an array of absolute paths");
                      std::vector<std::string> paths;
                      for (const json& item : v) {
                        if (!item.is_string() || item.get<std::string>().empty() || item.get<std::string>()[0] != '/')
                          return bad(name, "expected an array of absolute paths");
                        paths.push_back(item.get<std::string>());
                      }
                      at(c) = std::move(paths);
                      return {};
                    },
                    [=](const Config& c) { return json(at(const_cast<Config&>(c))); }};
}

// A text key's check: every byte must pass ALLOWED, else MESSAGE.
std::function<Result<void>(const std::string&)> only_characters(bool (*allowed)(unsigned char), const char* message) {
  return [allowed, message](const std::string& s) -> Result<void> {
    for (char c : s)
      if (!allowed(static_cast<unsigned char>(c))) return fail(ErrorCode::invalid_argument, message);
    return {};
  };
}

}  // namespace

Result<ListenAddress> split_listen(std::string_view s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return fail(ErrorCode::invalid_argument, "expected HOST:PORT");
  std::string host(s.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto port = parse_integer<std::uint16_t>(std::string_view(s).substr(colon + 1));
  if (!port) return fail(ErrorCode::invalid_argument, "port must be a number from 0 to 65535");
  return ListenAddress{host, *port};
}

namespace {

const std::vector<KeyBinding>& bindings() {
  static const std::vector<KeyBinding> table = [] {
    constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();
    std::vector<KeyBinding> t;
    t.push_back(KeyBinding{"data_dir", "directory holding the database, objects and staged uploads",
                           [](Config& c, const json& v) -> Result<void> {
                             if (!v.is_string() || v.get<std::string>().empty())
                               return bad("data_dir", "expected a non-empty path");
                             c.data_dir = v.get<std::string>();
                             return {};
                           },
                           [](const Config& c) { return json(c.data_dir.string()); }});
    t.push_back(text("log_level", "trace, debug, info, warn, error or critical",
                     [](Config& c) -> std::string& { return c.log_level; },
                     [](const std::string& s) -> Result<void> {
                       for (auto level : {"trace", "debug", "info", "warn", "error", "critical", "off"})
                         if (s == level) return {};
                       return fail(ErrorCode::invalid_argument, "unknown level '" + s + "'");
                     }));
    t.push_back(text("http.listen", "address and port to listen on, HOST:PORT",
                     [](Config& c) -> std::string& { return c.http.listen; },
                     [](const std::string& s) -> Result<void> { return split_listen(s).map([](auto&&) {}); }));
    t.push_back(text("http.allowed_hosts",
                     "Host names the server answers to, comma-separated (\"*\": any); empty: the loopback names "
                     "and the listen address when listening on loopback, any name otherwise",
                     [](Config& c) -> std::string& { return c.http.allowed_hosts; },
                     only_characters([](unsigned char c) { return c > 0x20 && c < 0x7f && c != '/'; },
                                     "host names are printable ASCII without spaces")));
    t.push_back(integer<int>("http.io_threads", "threads running the network event loop (0: one per core)",
                             [](Config& c) -> int& { return c.http.io_threads; }, 0, 256));
    t.push_back(integer<int>("http.blocking_threads", "threads for fsync, probing and database work of requests",
                             [](Config& c) -> int& { return c.http.blocking_threads; }, 1, 256));
    t.push_back(integer<int>("http.max_connections", "open connections beyond this are answered 503 and closed",
                             [](Config& c) -> int& { return c.http.max_connections; }, 1, 1000000));
    t.push_back(integer<int>("http.max_connections_per_address",
                             "open connections one client address may hold; beyond them its new ones get 503",
                             [](Config& c) -> int& { return c.http.max_connections_per_address; }, 1, 1000000));
    t.push_back(integer<int>("http.max_header_bytes", "largest request line plus headers (431 beyond)",
                             [](Config& c) -> int& { return c.http.max_header_bytes; }, 1024, 1 << 20));
    t.push_back(integer<int>("http.max_url_bytes", "longest request target (414 beyond)",
                             [](Config& c) -> int& { return c.http.max_url_bytes; }, 64, 1 << 20));
    t.push_back(integer<std::int64_t>("http.max_json_body_bytes", "largest JSON request body (413 beyond)",
                                      [](Config& c) -> std::int64_t& { return c.http.max_json_body_bytes; }, 1024,
                                      1 << 30));
    t.push_back(integer<int>("http.idle_timeout_s", "keep-alive connections idle this long are closed",
                             [](Config& c) -> int& { return c.http.idle_timeout_s; }, 1, 86400));
    t.push_back(integer<int>("http.first_byte_timeout_s", "a new connection that sends nothing for this long is closed",
                             [](Config& c) -> int& { return c.http.first_byte_timeout_s; }, 1, 3600));
    t.push_back(integer<int>("http.header_timeout_s", "time allowed to send a request header",
                             [](Config& c) -> int& { return c.http.header_timeout_s; }, 1, 3600));
    t.push_back(integer<int>("http.body_stall_timeout_s", "a request body with no progress for this long is dropped",
                             [](Config& c) -> int& { return c.http.body_stall_timeout_s; }, 1, 3600));
    t.push_back(boolean("http.access_log", "log a line per request (method, path, status, bytes, time)",
                        [](Config& c) -> bool& { return c.http.access_log; }));
    t.push_back(integer<int>("http.write_timeout_s", "a response not sent completely within this long is dropped (slow readers)",
                             [](Config& c) -> int& { return c.http.write_timeout_s; }, 1, 3600));
    t.push_back(integer<int>("http.shutdown_grace_s", "on SIGTERM, in-flight requests get this long to finish",
                             [](Config& c) -> int& { return c.http.shutdown_grace_s; }, 0, 3600));
    t.push_back(boolean("auth.require_key_for_reads",
                        "reads need a signed-in user, an API key or a share link (not the web page's own files)",
                        [](Config& c) -> bool& { return c.auth.require_key_for_reads; }));
    t.push_back(boolean("auth.behind_tls", "the server is reached through an HTTPS proxy: the session cookie is Secure",
                        [](Config& c) -> bool& { return c.auth.behind_tls; }));
    t.push_back(integer<int>("auth.session_days", "how long a sign-in lasts",
                             [](Config& c) -> int& { return c.auth.session_days; }, 1, 365));
    t.push_back(integer<std::int64_t>("uploads.max_upload_bytes", "largest upload, one-shot or tus (413 beyond)",
                                      [](Config& c) -> std::int64_t& { return c.uploads.max_upload_bytes; }, 1,
                                      kI64Max));
    t.push_back(text("uploads.default_visibility",
                     "who may watch an upload that does not say: private, unlisted, library (every signed-in "
                     "user) or public",
                     [](Config& c) -> std::string& { return c.uploads.default_visibility; },
                     [](const std::string& s) -> Result<void> {
                       for (auto v : {"private", "unlisted", "library", "public"})
                         if (s == v) return {};
                       return fail(ErrorCode::invalid_argument, "expected private, unlisted, library or public");
                     }));
    t.push_back(integer<int>("uploads.expire_after_hours", "unfinished tus uploads are removed this long after creation",
                             [](Config& c) -> int& { return c.uploads.expire_after_hours; }, 1, 24 * 365));
    t.push_back(integer<std::int64_t>("uploads.reserve_bytes",
                                      "free space uploads leave on the data directory's filesystem (507 beyond)",
                                      [](Config& c) -> std::int64_t& { return c.uploads.reserve_bytes; }, 0, kI64Max));
    t.push_back(integer<int>("uploads.max_open_uploads", "unfinished tus uploads on the server (429 beyond)",
                             [](Config& c) -> int& { return c.uploads.max_open_uploads; }, 1, 1000000));
    t.push_back(integer<int>("uploads.max_open_uploads_per_key", "unfinished tus uploads of one uploader, all their keys and sessions (429 beyond)",
                             [](Config& c) -> int& { return c.uploads.max_open_uploads_per_key; }, 1, 1000000));
    t.push_back(integer<std::int64_t>("uploads.max_pending_bytes_per_key",
                                      "declared bytes of one uploader's unfinished uploads (507 beyond)",
                                      [](Config& c) -> std::int64_t& { return c.uploads.max_pending_bytes_per_key; },
                                      1, kI64Max));
    t.push_back(number("media.max_duration_s", "longest accepted video, in seconds",
                       [](Config& c) -> double& { return c.media.max_duration_s; }, 1, 1e7));
    t.push_back(integer<int>("media.max_width", "widest accepted video, in pixels",
                             [](Config& c) -> int& { return c.media.max_width; }, 16, 65536));
    t.push_back(integer<int>("media.max_height", "tallest accepted video, in pixels",
                             [](Config& c) -> int& { return c.media.max_height; }, 16, 65536));
    t.push_back(integer<int>("media.max_streams", "most streams accepted in one file",
                             [](Config& c) -> int& { return c.media.max_streams; }, 1, 1024));
    t.push_back(text("media.allowed_codecs",
                     "codecs whose decoders may run on uploads, libavcodec names comma-separated; empty: the "
                     "built-in list of what cameras, phones, discs, broadcast and the web record",
                     [](Config& c) -> std::string& { return c.media.allowed_codecs; },
                     only_characters([](unsigned char c) { return std::isalnum(c) || c == '_' || c == ','; },
                                     "codec names are letters, digits and '_'")));
    t.push_back(integer<int>("media.max_audio_channels", "most channels accepted in an audio track",
                             [](Config& c) -> int& { return c.media.max_audio_channels; }, 1, 64));
    t.push_back(integer<int>("media.max_sample_rate", "highest accepted audio sample rate, in Hz",
                             [](Config& c) -> int& { return c.media.max_sample_rate; }, 8000, 768000));
    t.push_back(number("media.max_timestamp_gap_s",
                       "a forward jump in the video's timestamps beyond this fails the job (it would be padding)",
                       [](Config& c) -> double& { return c.media.max_timestamp_gap_s; }, 1, 86400));
    t.push_back(number("media.max_transcode_time_factor",
                       "a transcode may take this many seconds per second of media (plus 300 s) before it is stopped",
                       [](Config& c) -> double& { return c.media.max_transcode_time_factor; }, 1, 10000));
    t.push_back(integer<std::int64_t>("media.probe_size_bytes", "bytes the prober may read to find the streams",
                                      [](Config& c) -> std::int64_t& { return c.media.probe_size_bytes; }, 32 * 1024,
                                      1LL << 32));
    t.push_back(number("media.analyze_duration_s", "media time the prober may read to find the streams",
                       [](Config& c) -> double& { return c.media.analyze_duration_s; }, 0.1, 3600));
    t.push_back(integer<int>("pipeline.concurrent_jobs", "transcodes running at once (0: this daemon only ingests and serves)",
                             [](Config& c) -> int& { return c.pipeline.concurrent_jobs; }, 0, 64));
    t.push_back(integer<int>("pipeline.threads_per_job", "decoder and encoder threads of one transcode",
                             [](Config& c) -> int& { return c.pipeline.threads_per_job; }, 1, 256));
    t.push_back(text("pipeline.encoder", "auto (try NVENC, then VAAPI, then libx264), x264, nvenc or vaapi",
                     [](Config& c) -> std::string& { return c.pipeline.encoder; },
                     [](const std::string& s) -> Result<void> {
                       for (auto name : {"auto", "x264", "nvenc", "vaapi"})
                         if (s == name) return {};
                       return fail(ErrorCode::invalid_argument, "must be auto, x264, nvenc or vaapi");
                     }));
    t.push_back(integer<int>("pipeline.max_attempts", "tries before a failing job becomes a dead letter",
                             [](Config& c) -> int& { return c.pipeline.max_attempts; }, 1, 100));
    t.push_back(integer<int>("pipeline.retry_backoff_s", "first retry after this long, doubled per try",
                             [](Config& c) -> int& { return c.pipeline.retry_backoff_s; }, 0, 86400));
    t.push_back(number("pipeline.segment_s", "media segment duration in seconds",
                       [](Config& c) -> double& { return c.pipeline.segment_s; }, 1, 20));
    t.push_back(integer<int>("pipeline.nice",
                             "how much nicer than the daemon transcodes run (0-19): serving goes first",
                             [](Config& c) -> int& { return c.pipeline.nice; }, 0, 19));
    t.push_back(integer<int>("pipeline.worker_memory_mb",
                             "memory of one media worker (a probe or a transcode), in MiB; 0: no limit",
                             [](Config& c) -> int& { return c.pipeline.worker_memory_mb; }, 0, 1 << 20));
    t.push_back(integer<int>("pipeline.worker_silence_s",
                             "a media worker that reports nothing for this many seconds is stopped",
                             [](Config& c) -> int& { return c.pipeline.worker_silence_s; }, 1, 86400));
    t.push_back(text("pipeline.passthrough",
                     "auto: a source whose H.264 video browsers play as it is becomes the top rung without "
                     "re-encoding; off: every rung is encoded",
                     [](Config& c) -> std::string& { return c.pipeline.passthrough; },
                     [](const std::string& s) -> Result<void> {
                       if (s == "auto" || s == "off") return {};
                       return fail(ErrorCode::invalid_argument, "must be auto or off");
                     }));
    t.push_back(text("pipeline.x264_preset", "libx264 preset (speed against size)",
                     [](Config& c) -> std::string& { return c.pipeline.x264_preset; },
                     [](const std::string& s) -> Result<void> {
                       for (auto name : {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                                         "slower", "veryslow"})
                         if (s == name) return {};
                       return fail(ErrorCode::invalid_argument, "not an x264 preset");
                     }));
    t.push_back(path_list("library.folders", "folders of videos imported at start and watched for new files",
                          [](Config& c) -> std::vector<std::string>& { return c.library.folders; }));
    t.push_back(boolean("library.folder_tags", "the names of the folders between a library folder and a file become tags",
                        [](Config& c) -> bool& { return c.library.folder_tags; }));
    t.push_back(integer<int>("library.settle_s", "a library file unchanged for this many seconds is complete",
                             [](Config& c) -> int& { return c.library.settle_s; }, 0, 86400));
    t.push_back(text("library.store_files",
                     "auto (a reflink clone, else a hard link, else a copy) or copy (a reflink clone, else a copy: "
                     "the stored source never shares the library file's inode)",
                     [](Config& c) -> std::string& { return c.library.store_files; },
                     [](const std::string& s) -> Result<void> {
                       if (s == "auto" || s == "copy") return {};
                       return fail(ErrorCode::invalid_argument, "must be auto or copy");
                     }));
    t.push_back(text("library.owner", "the user who owns the videos of library.folders; empty: the first admin",
                     [](Config& c) -> std::string& { return c.library.owner; },
                     [](const std::string&) -> Result<void> { return {}; }));
    t.push_back(integer<int>("library.nice",
                             "niceness (0-19) of the media workers of imported files when above pipeline.nice; "
                             "they also get the idle I/O class",
                             [](Config& c) -> int& { return c.library.nice; }, 0, 19));
    t.push_back(text("library.hours",
                     "hours when imported files are transcoded, local time, e.g. 01-07 or 22-06; empty: any time",
                     [](Config& c) -> std::string& { return c.library.hours; },
                     [](const std::string& s) -> Result<void> {
                       if (auto window = parse_hour_window(s); !window) return tl::unexpected(window.error());
                       return {};
                     }));
    t.push_back(integer<int>("store.gc_interval_minutes", "how often unreferenced objects are collected (0: only at start)",
                             [](Config& c) -> int& { return c.store.gc_interval_minutes; }, 0, 1 << 20));
    t.push_back(text("web.dir",
                     "serve the web page from this folder (a checkout's web/) instead of the copy built in; for development",
                     [](Config& c) -> std::string& { return c.web.dir; },
                     [](const std::string&) -> Result<void> { return {}; }));
    return t;
  }();
  return table;
}

const KeyBinding* find_binding(const std::string& name) {
  for (auto& b : bindings())
    if (name == b.name) return &b;
  return nullptr;
}

Result<void> apply_object(Config& config, const json& object, const std::string& prefix) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    std::string name = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (const KeyBinding* binding = find_binding(name)) {
      RETURN_IF_ERROR(binding->set(config, it.value()));
      continue;
    }
    bool is_section = false;
    for (auto& b : bindings())
      if (std::string_view(b.name).starts_with(name + ".")) is_section = true;
    if (!is_section) return bad(name, "unknown key");
    if (!it.value().is_object()) return bad(name, "expected an object");
    RETURN_IF_ERROR(apply_object(config, it.value(), name));
  }
  return {};
}

}  // namespace

std::vector<ConfigKey> config_keys() {
  Config defaults;
  std::vector<ConfigKey> keys;
  for (auto& b : bindings()) keys.push_back({b.name, b.description, b.get(defaults).dump()});
  return keys;
}

Result<void> apply_config_json(Config& config, const json& document) {
  if (!document.is_object()) return fail(ErrorCode::invalid_argument, "config: the top level must be an object");
  return apply_object(config, document, "");
}

Result<void> apply_config_file(Config& config, const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::invalid_argument, "config file " + path.string() + " cannot be opened");
  json document = json::parse(in, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (document.is_discarded()) return fail(ErrorCode::invalid_argument, "config file " + path.string() + " is not valid JSON");
  return apply_config_json(config, document);
}

Result<void> apply_config_value(Config& config, const std::string& key, const std::string& value) {
  const KeyBinding* binding = find_binding(key);
  if (!binding) return bad(key, "unknown key");
  // Flags are text: read numbers and booleans as JSON, anything else as a string.
  json parsed = json::parse(value, nullptr, false);
  const bool wants_list = binding->get(Config{}).is_array();
  if (parsed.is_discarded() || parsed.is_object() || (parsed.is_array() && !wants_list)) parsed = value;
  if (binding->get(Config{}).is_string()) parsed = value;
  if (wants_list && !parsed.is_array()) parsed = json::array({value});
  return binding->set(config, parsed);
}

Result<void> validate_config(const Config&) { return {}; }

json config_to_json(const Config& config) {
  json out = json::object();
  for (auto& b : bindings()) {
    std::string pointer = std::string("/") + b.name;  // "pipeline.nice" -> "/pipeline/nice"
    std::replace(pointer.begin(), pointer.end(), '.', '/');
    out[json::json_pointer(pointer)] = b.get(config);
  }
  return out;
}

}  // namespace cinevault
