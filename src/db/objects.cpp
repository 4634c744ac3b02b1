#include "cinevault/db/objects.hpp"

#include "cinevault/db/database.hpp"

namespace cinevault::db {

Result<void> insert_object(Connection& c, const ObjectRow& object) {
  TRY(auto stmt, c.prepare("INSERT INTO objects (sha256, size, kind, created_at) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (sha256) DO NOTHING"));
  return stmt.bind(1, object.sha256).bind(2, object.size).bind(3, object.kind).bind(4, now_ms()).run();
}

Result<bool> object_exists(Connection& c, const std::string& sha256) {
  TRY(auto stmt, c.prepare("SELECT 1 FROM objects WHERE sha256 = ?"));
  return stmt.bind(1, sha256).step();
}

Result<std::optional<std::string>> object_use(Connection& c, const std::string& sha256) {
  // Each part an index lookup (videos_source, renditions_init, segments_object, thumbnails_object).
  TRY(auto stmt, c.prepare("SELECT 'source' FROM videos WHERE source_sha256 = ?1 "
                           "UNION ALL SELECT kind || '-init' FROM renditions WHERE init_sha256 = ?1 "
                           "UNION ALL SELECT 'segment' FROM segments WHERE sha256 = ?1 "
                           "UNION ALL SELECT format FROM thumbnails WHERE sha256 = ?1 LIMIT 1"));
  TRY(bool row, stmt.bind(1, sha256).step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(stmt.text(0));
}

Result<std::vector<std::string>> delete_unreferenced_objects(Connection& c) {
  TRY(auto stmt, c.prepare("DELETE FROM objects WHERE sha256 NOT IN (SELECT sha256 FROM object_references) "
                           "RETURNING sha256"));
  std::vector<std::string> deleted;
  for (;;) {
    TRY(bool row, stmt.step());
    if (!row) break;
    deleted.push_back(stmt.text(0));
  }
  return deleted;
}

}  // namespace cinevault::db
