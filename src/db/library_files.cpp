#include "cinevault/db/library_files.hpp"

#include "cinevault/db/database.hpp"

namespace cinevault::db {

Result<std::optional<LibraryFileRow>> find_library_file(Connection& c, std::int64_t owner_id, const std::string& path) {
  TRY(auto stmt, c.prepare("SELECT size, mtime_ns, outcome, video_id, reason FROM library_files "
                           "WHERE owner_id = ? AND path = ?"));
  stmt.bind(1, owner_id).bind(2, path);
  TRY(bool row, stmt.step());
  if (!row) return std::optional<LibraryFileRow>();
  LibraryFileRow file{owner_id, path, static_cast<std::uint64_t>(stmt.int64(0)), stmt.int64(1), stmt.text(2),
                      std::nullopt, stmt.text(4)};
  if (!stmt.is_null(3)) file.video_id = stmt.text(3);
  return std::optional<LibraryFileRow>(std::move(file));
}

Result<void> record_library_file(Connection& c, const LibraryFileRow& row) {
  TRY(auto stmt, c.prepare("INSERT OR REPLACE INTO library_files "
                           "(owner_id, path, size, mtime_ns, outcome, video_id, reason, updated_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  return stmt.bind(1, row.owner_id)
      .bind(2, row.path)
      .bind(3, static_cast<std::int64_t>(row.size))
      .bind(4, row.mtime_ns)
      .bind(5, row.outcome)
      .bind(6, row.video_id)
      .bind(7, row.reason)
      .bind(8, now_ms())
      .run();
}

}  // namespace cinevault::db
