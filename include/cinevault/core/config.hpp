// The daemon's configuration: compiled-in defaults, overridden by a JSON file, then by flags.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cinevault/core/result.hpp"

namespace cinevault {

struct HttpConfig {
  std::string listen = "127.0.0.1:8080";
  int io_threads = 0;        // threads running the network event loop; 0: one per core
  int blocking_threads = 4;  // threads for fsync, probing and database work of requests
  int max_connections = 1024;
  // Open connections one client address may hold: one address cannot fill the server alone.
  int max_connections_per_address = 64;
  int max_header_bytes = 16 * 1024;
  int max_url_bytes = 4096;
  std::int64_t max_json_body_bytes = 1 << 20;
  int idle_timeout_s = 60;         // keep-alive connection with no request
  int first_byte_timeout_s = 10;   // a new connection that has not sent its first byte
  int header_timeout_s = 15;       // from the first byte of a request to the end of its header
  int body_stall_timeout_s = 30;   // a request body that makes no progress
  int write_timeout_s = 60;        // a response not sent completely within this long is dropped
  int shutdown_grace_s = 15;       // how long in-flight requests may finish on SIGTERM
  bool access_log = true;          // a log line per request
  // Host names requests may be addressed to (comma-separated, no ports; "*" for any). Empty:
  // the loopback names and the listen address when listening on loopback, any otherwise.
  // Other Host headers are answered 421 (DNS rebinding, a proxy sending the wrong name).
  std::string allowed_hosts;
};

struct ListenAddress {
  std::string host;  // without IPv6 brackets
  std::uint16_t port = 0;
};
// http.listen's "HOST:PORT" ("[::1]:8080" -> "::1", 8080).
Result<ListenAddress> split_listen(std::string_view listen);

struct AuthConfig {
  bool require_key_for_reads = false;  // reads need a user (session or key) or a share link
  bool behind_tls = false;             // reached through an HTTPS proxy: the session cookie is Secure
  int session_days = 30;               // how long a sign-in lasts
};

struct UploadConfig {
  std::int64_t max_upload_bytes = 64LL << 30;  // one-shot body and tus Upload-Length
  int expire_after_hours = 24;                 // unfinished tus uploads are removed this long after creation
  // Uploads are refused (507) rather than leave less free space than this on the data
  // directory's filesystem: room for transcoding, the database and the system.
  std::int64_t reserve_bytes = 1LL << 30;
  int max_open_uploads = 100;         // unfinished tus uploads on the server (429 beyond)
  int max_open_uploads_per_key = 20;  // ... and of one API key
  // What one key's unfinished uploads (tus and one-shot) may hold in declared bytes (507 beyond).
  std::int64_t max_pending_bytes_per_key = 128LL << 30;
  // Who may watch an upload that does not say: private, unlisted, library or public.
  std::string default_visibility = "library";
};

struct MediaLimits {
  double max_duration_s = 12 * 3600;
  int max_width = 7680;
  int max_height = 4320;
  int max_streams = 16;
  std::int64_t probe_size_bytes = 32 << 20;  // bytes libavformat may read to find the streams
  double analyze_duration_s = 15;
  // Codecs whose decoders may run on uploads (libavcodec codec names, comma-separated);
  // empty: media::kDefaultCodecs, what cameras, phones, discs, broadcast and the web record.
  std::string allowed_codecs;
  int max_audio_channels = 16;
  int max_sample_rate = 192000;
  // A jump forward in the video's timestamps beyond this is refused: it would be filled with
  // copies of one picture (two frames ten hours apart: hours of encoding from a 4 KB file).
  double max_timestamp_gap_s = 30;
  // A transcode may take this many seconds per second of media (plus five minutes) before it
  // is stopped as too slow: a file that defeats every other limit still cannot hold a worker.
  double max_transcode_time_factor = 20;

  // The largest picture, in pixels: every decoder's max_pixels.
  std::int64_t max_pixels() const { return static_cast<std::int64_t>(max_width) * max_height; }
};

struct PipelineConfig {
  int concurrent_jobs = 1;       // transcodes running at once
  int threads_per_job = 2;       // decoder and encoder threads of one transcode
  std::string encoder = "auto";  // auto, x264, nvenc, vaapi
  int max_attempts = 3;          // tries before a job is a dead letter
  int retry_backoff_s = 10;      // first retry after this long, doubled per try
  double segment_s = 4;          // media segment duration
  std::string x264_preset = "veryfast";
  // auto: a source whose H.264 video browsers play as it is keeps it as the top rung; off
  std::string passthrough = "auto";
  int nice = 10;                 // media workers run this much nicer than the daemon's serving
  int worker_memory_mb = 4096;   // resident memory of a media worker; 0: no limit
  int worker_silence_s = 120;    // a worker silent this long is stopped
};

// The folders of videos people already have (docs/library.md).
struct LibraryConfig {
  std::vector<std::string> folders;  // imported at start, then watched for new files
  bool folder_tags = false;          // the names of the folders between a root and a file become tags
  int settle_s = 10;                 // a file unchanged this long is complete (not still being written)
  // How a file's bytes become the stored source: auto tries a copy-on-write clone (reflink),
  // then a hard link, then a copy; copy never shares the file's inode (a clone or a copy).
  std::string store_files = "auto";
  std::string owner;                 // who owns the videos of library.folders; empty: the first admin
  // Imports wait for people's uploads, and their media workers run at this niceness (when
  // above pipeline.nice) with the idle I/O class.
  int nice = 19;
  std::string hours;                 // "01-07": imports are transcoded only then (local time); empty: any time
};

struct StoreConfig {
  int gc_interval_minutes = 60;
};

struct WebConfig {
  std::string dir;  // empty: the page built into the binary; else read from this folder per request
};

struct Config {
  std::filesystem::path data_dir = "data";
  std::string log_level = "info";
  HttpConfig http;
  AuthConfig auth;
  UploadConfig uploads;
  MediaLimits media;
  PipelineConfig pipeline;
  StoreConfig store;
  WebConfig web;
  LibraryConfig library;
};

// One configurable key: its dotted name, what it means, and its default.
struct ConfigKey {
  std::string name;
  std::string description;
  std::string default_value;
};

std::vector<ConfigKey> config_keys();

// Applies a JSON document (the config file). Unknown keys and bad values fail, naming the key.
Result<void> apply_config_json(Config& config, const nlohmann::json& document);
Result<void> apply_config_file(Config& config, const std::filesystem::path& path);
// Applies one key given as text (a command-line flag).
Result<void> apply_config_value(Config& config, const std::string& key, const std::string& value);
// Checks relations between keys after everything is applied.
Result<void> validate_config(const Config& config);
nlohmann::json config_to_json(const Config& config);

}  // namespace cinevault
