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

Result<std::vector<ObjectUse>> object_uses(Connection& c, const std::string& sha256, int limit) {
  // Each part an index lookup (videos_source, renditions_init, segments_object, thumbnails_object).
  TRY(auto stmt, c.prepare(
                     "SELECT 'source', id, owner_id, visibility FROM videos WHERE source_sha256 = ?1 "
                     "UNION ALL SELECT r.kind || '-init', v.id, v.owner_id, v.visibility FROM renditions AS r "
                     "  JOIN versions AS ve ON ve.id = r.version_id JOIN videos AS v ON v.id = ve.video_id "
                     "  WHERE r.init_sha256 = ?1 "
                     "UNION ALL SELECT 'segment', v.id, v.owner_id, v.visibility FROM segments AS s "
                     "  JOIN renditions AS r ON r.id = s.rendition_id JOIN versions AS ve ON ve.id = r.version_id "
                     "  JOIN videos AS v ON v.id = ve.video_id WHERE s.sha256 = ?1 "
                     "UNION ALL SELECT t.format, v.id, v.owner_id, v.visibility FROM thumbnails AS t "
                     "  JOIN versions AS ve ON ve.id = t.version_id JOIN videos AS v ON v.id = ve.video_id "
                     "  WHERE t.sha256 = ?1 LIMIT ?2"));
  stmt.bind(1, sha256).bind(2, limit);
  std::vector<ObjectUse> uses;
  for (;;) {
    TRY(bool row, stmt.step());
    if (!row) return uses;
    uses.push_back({stmt.text(0), stmt.text(1),
                    VideoAccess{stmt.int64(2), parse_visibility(stmt.text(3)).value_or(Visibility::owner_only)}});
  }
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
