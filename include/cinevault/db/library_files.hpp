// Rows of the library_files table: what became of each file imported from a library folder.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"

namespace cinevault::db {

struct LibraryFileRow {
  std::int64_t owner_id = 0;
  std::string path;  // absolute, as the import found it
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::string outcome;  // added, duplicate, refused
  std::optional<std::string> video_id;  // the video it became (null once that video is deleted)
  std::string reason;                   // why it was refused
};

Result<std::optional<LibraryFileRow>> find_library_file(Connection& c, std::int64_t owner_id, const std::string& path);
// Inserts or replaces the row of (owner_id, path).
Result<void> record_library_file(Connection& c, const LibraryFileRow& row);

}  // namespace cinevault::db
