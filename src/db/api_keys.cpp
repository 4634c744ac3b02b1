#include "cinevault/db/api_keys.hpp"

#include "cinevault/core/hash.hpp"
#include "cinevault/db/database.hpp"

namespace cinevault::db {

Result<NewApiKey> create_api_key(Connection& c, const std::string& name) {
  NewApiKey key;
  key.row.id = random_hex(4);
  key.row.name = name;
  key.row.created_at_ms = now_ms();
  // "cv_" marks the secret for secret scanners; 32 random bytes.
  key.secret = "cv_" + random_hex(32);
  TRY(auto stmt, c.prepare("INSERT INTO api_keys (id, name, key_sha256, created_at) VALUES (?, ?, ?, ?)"));
  RETURN_IF_ERROR(
      stmt.bind(1, key.row.id).bind(2, name).bind(3, sha256_hex(key.secret)).bind(4, key.row.created_at_ms).run());
  return key;
}

Result<std::vector<ApiKeyRow>> list_api_keys(Connection& c) {
  TRY(auto stmt, c.prepare("SELECT id, name, created_at, last_used_at, revoked_at FROM api_keys ORDER BY created_at"));
  std::vector<ApiKeyRow> rows;
  for (;;) {
    TRY(bool row, stmt.step());
    if (!row) break;
    rows.push_back({stmt.text(0), stmt.text(1), stmt.int64(2), stmt.optional_int64(3), stmt.optional_int64(4)});
  }
  return rows;
}

Result<std::int64_t> count_api_keys(Connection& c) {
  TRY(auto stmt, c.prepare("SELECT count(*) FROM api_keys"));
  TRY(bool row, stmt.step());
  return row ? stmt.int64(0) : 0;
}

Result<bool> revoke_api_key(Connection& c, const std::string& id) {
  TRY(auto stmt, c.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"));
  RETURN_IF_ERROR(stmt.bind(1, now_ms()).bind(2, id).run());
  return c.changes() > 0;
}

Result<std::optional<std::string>> find_live_key(Connection& c, const std::string& secret) {
  TRY(auto stmt, c.prepare("SELECT id FROM api_keys WHERE key_sha256 = ? AND revoked_at IS NULL"));
  stmt.bind(1, sha256_hex(secret));
  TRY(bool row, stmt.step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(stmt.text(0));
}

Result<void> touch_api_key(Connection& c, const std::string& id) {
  TRY(auto stmt, c.prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?"));
  return stmt.bind(1, now_ms()).bind(2, id).run();
}

}  // namespace cinevault::db
