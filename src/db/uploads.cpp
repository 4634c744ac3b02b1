#include "cinevault/db/uploads.hpp"

#include "cinevault/db/database.hpp"

namespace cinevault::db {
namespace {

Result<std::vector<std::string>> collect_ids(Statement& stmt) {
  std::vector<std::string> ids;
  for (;;) {
    TRY(bool row, stmt.step());
    if (!row) break;
    ids.push_back(stmt.text(0));
  }
  return ids;
}

constexpr const char* kSelect =
    "SELECT id, length, offset, metadata, state, sha256, video_id, created_at, updated_at, expires_at, owner FROM uploads";

UploadRow read_row(const Statement& stmt) {
  UploadRow u;
  u.id = stmt.text(0);
  u.length = stmt.int64(1);
  u.offset = stmt.int64(2);
  u.metadata_json = stmt.text(3);
  u.state = stmt.text(4);
  u.sha256 = stmt.optional_text(5);
  u.video_id = stmt.optional_text(6);
  u.created_at_ms = stmt.int64(7);
  u.updated_at_ms = stmt.int64(8);
  u.expires_at_ms = stmt.int64(9);
  u.owner = stmt.text(10);
  return u;
}

}  // namespace

Result<void> insert_upload(Connection& c, const UploadRow& u) {
  TRY(auto stmt, c.prepare("INSERT INTO uploads (id, length, offset, metadata, state, video_id, created_at, "
                           "updated_at, expires_at, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  return stmt.bind(1, u.id)
      .bind(2, u.length)
      .bind(3, u.offset)
      .bind(4, u.metadata_json)
      .bind(5, u.state)
      .bind(6, u.video_id)
      .bind(7, u.created_at_ms)
      .bind(8, u.updated_at_ms)
      .bind(9, u.expires_at_ms)
      .bind(10, u.owner)
      .run();
}

Result<std::optional<UploadRow>> find_upload(Connection& c, const std::string& id) {
  TRY(auto stmt, c.prepare(std::string(kSelect) + " WHERE id = ?"));
  stmt.bind(1, id);
  TRY(bool row, stmt.step());
  if (!row) return std::optional<UploadRow>();
  return std::optional<UploadRow>(read_row(stmt));
}

Result<std::vector<UploadRow>> all_uploads(Connection& c) {
  TRY(auto stmt, c.prepare(kSelect));
  std::vector<UploadRow> rows;
  for (;;) {
    TRY(bool row, stmt.step());
    if (!row) break;
    rows.push_back(read_row(stmt));
  }
  return rows;
}

Result<void> set_upload_received(Connection& c, const std::string& id, const std::string& sha256) {
  TRY(auto stmt, c.prepare("UPDATE uploads SET offset = length, sha256 = ?, updated_at = ? WHERE id = ?"));
  return stmt.bind(1, sha256).bind(2, now_ms()).bind(3, id).run();
}

Result<void> set_upload_offset(Connection& c, const std::string& id, std::int64_t offset) {
  TRY(auto stmt, c.prepare("UPDATE uploads SET offset = ?, updated_at = ? WHERE id = ?"));
  return stmt.bind(1, offset).bind(2, now_ms()).bind(3, id).run();
}

Result<void> complete_upload(Connection& c, const std::string& id, const std::string& video_id) {
  TRY(auto stmt, c.prepare("UPDATE uploads SET state = 'complete', offset = length, video_id = ?, updated_at = ? "
                           "WHERE id = ?"));
  return stmt.bind(1, video_id).bind(2, now_ms()).bind(3, id).run();
}

Result<bool> delete_upload(Connection& c, const std::string& id) {
  TRY(auto stmt, c.prepare("DELETE FROM uploads WHERE id = ?"));
  RETURN_IF_ERROR(stmt.bind(1, id).run());
  return c.changes() > 0;
}

Result<std::vector<std::string>> expired_uploads(Connection& c, std::int64_t now) {
  TRY(auto stmt, c.prepare("SELECT id FROM uploads WHERE expires_at <= ?"));
  stmt.bind(1, now);
  return collect_ids(stmt);
}

}  // namespace cinevault::db
