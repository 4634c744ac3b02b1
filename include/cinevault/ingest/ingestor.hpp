// Turns a complete staged upload into a library entry: probe, store, record, queue.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "cinevault/core/config.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/db/database.hpp"
#include "cinevault/db/videos.hpp"
#include "cinevault/ingest/staging.hpp"
#include "cinevault/media/probe.hpp"
#include "cinevault/store/object_store.hpp"

namespace cinevault::ingest {

struct VideoMetadata {
  std::string title;
  std::string description;
  std::vector<std::string> tags;
  std::string filename;  // as the client named it; informative only, never a path we open
  std::int64_t owner_id = 0;  // the user who uploads it
  db::Visibility visibility = db::Visibility::library;
  // From a library import (LibraryImporter), not a person waiting for it: its transcode
  // waits for people's and runs at library.nice, within library.hours.
  bool library_import = false;
};

// An upload's "visibility" field: private, unlisted, library or public; empty means library.
Result<db::Visibility> visibility_field(std::string_view text);

struct IngestedVideo {
  db::VideoRow video;
  std::int64_t job_id = 0;
  bool duplicate = false;  // identical bytes were uploaded before: `video` is that upload's video
};

// "a, b,,c " → {"a", "b", "c"}: tags as forms, query strings and tus metadata carry them.
std::vector<std::string> split_tags(const std::string& text);

// Checks user-supplied metadata (lengths, characters). An empty title stays empty: the
// ingest takes the container's title, else makes one from the filename.
Result<VideoMetadata> normalize_metadata(VideoMetadata metadata);

// Thread-safe: may be called from several request threads at once.
class Ingestor {
 public:
  // Reads a staged file's media facts and checks them against the limits (the daemon runs
  // media::probe_file in a sandboxed media worker: worker::WorkerPool::probe).
  using Prober = std::function<Result<media::MediaInfo>(const std::filesystem::path& staged)>;

  // `job_queued` is called after a new transcode job is committed (to wake a worker).
  Ingestor(Prober probe, db::Database& database, store::ObjectStore& store, std::function<void()> job_queued = {})
      : probe_(std::move(probe)), database_(database), store_(store), job_queued_(std::move(job_queued)) {}

  // Probes the staged file; if the media is acceptable, moves it into the store and, in one
  // transaction, records the object, a video in state `queued` and its transcode job.
  // Bytes identical to an existing video's source return that video (duplicate = true).
  // Whatever the outcome, the staged file is gone afterwards; on failure nothing remains.
  Result<IngestedVideo> ingest(StagedFile staged, const VideoMetadata& metadata);

 private:
  Prober probe_;
  db::Database& database_;
  store::ObjectStore& store_;
  std::function<void()> job_queued_;
};

}  // namespace cinevault::ingest
