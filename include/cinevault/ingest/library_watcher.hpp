// library.folders: imported when the daemon starts, then watched with inotify; a new or
// changed file is imported once it has not changed for library.settle_s seconds.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cinevault/ingest/library_import.hpp"

namespace cinevault::ingest {

// The files under `root` an import considers, sorted: regular files and links to them, not
// in hidden folders, not hidden themselves ("."-names: .DS_Store, partial downloads), not
// under `skip` (the data directory). A file `root` is itself. `visit` returns false to stop.
void walk_library(const std::filesystem::path& root, const std::filesystem::path& skip,
                  const std::function<bool(const std::filesystem::path&)>& visit);

struct WatchSettings {
  std::vector<std::filesystem::path> folders;
  std::filesystem::path data_dir;  // never walked
  std::int64_t owner_id = 0;
  db::Visibility visibility = db::Visibility::library;
  bool folder_tags = false;
  int settle_s = 10;
};

class LibraryWatcher {
 public:
  LibraryWatcher(WatchSettings settings, LibraryImporter& importer);
  ~LibraryWatcher();  // stops after the file being imported, if any
  LibraryWatcher(const LibraryWatcher&) = delete;
  LibraryWatcher& operator=(const LibraryWatcher&) = delete;

 private:
  void run(std::stop_token stop);

  WatchSettings settings_;
  LibraryImporter& importer_;
  int wake_fd_ = -1;      // an eventfd: the destructor's wake-up
  std::jthread thread_;   // last: stopped and joined first
};

}  // namespace cinevault::ingest
