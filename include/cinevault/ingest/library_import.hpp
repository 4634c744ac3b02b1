// Importing the files of a library folder: each through the same probe, limits and
// deduplication as an upload (Ingestor), remembered in library_files so that importing the
// same folder again reads nothing it took or refused before.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "cinevault/core/config.hpp"
#include "cinevault/db/database.hpp"
#include "cinevault/db/videos.hpp"
#include "cinevault/ingest/ingestor.hpp"
#include "cinevault/ingest/library_file.hpp"
#include "cinevault/ingest/upload_budget.hpp"

namespace cinevault::ingest {

enum class ImportOutcome {
  added,      // a new video, its transcode queued
  duplicate,  // the owner has a video of these bytes already (another name, another folder)
  unchanged,  // imported before and not modified since: not read again
  refused,    // not a video we take, or unreadable: `reason` says why
  busy,       // still being written: try again once it has settled
};
const char* to_string(ImportOutcome outcome);

struct ImportRequest {
  std::filesystem::path file;  // absolute
  std::filesystem::path root;  // the folder the import started from: folder tags are below it
  std::int64_t owner_id = 0;
  db::Visibility visibility = db::Visibility::library;
  bool folder_tags = false;
};

struct ImportResult {
  ImportOutcome outcome = ImportOutcome::refused;
  std::string video_id;  // added, duplicate, unchanged (when the video still exists)
  std::string title;
  std::string reason;    // refused, busy
  std::uint64_t bytes = 0;
  std::optional<TakeMethod> method;  // added: how the source was stored
};

// Thread-safe.
class LibraryImporter {
 public:
  LibraryImporter(const Config& config, db::Database& database, store::ObjectStore& store, Ingestor& ingestor,
                  UploadBudget& budget)
      : config_(config), database_(database), store_(store), ingestor_(ingestor), budget_(budget) {}

  // Never throws; every failure is a `refused` or `busy` result with its reason.
  ImportResult import_file(const ImportRequest& request);

 private:
  ImportResult import_checked(const ImportRequest& request, const std::string& path);

  const Config& config_;
  db::Database& database_;
  store::ObjectStore& store_;
  Ingestor& ingestor_;
  UploadBudget& budget_;
};

// The tags a file's folders give it: the names between `root` and the file, made UTF-8.
std::vector<std::string> folder_tags(const std::filesystem::path& root, const std::filesystem::path& file);

}  // namespace cinevault::ingest
