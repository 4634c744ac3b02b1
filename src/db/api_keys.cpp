#include "cinevault/db/api_keys.hpp"

#include "cinevault/core/hash.hpp"
#include "cinevault/db/database.hpp"

namespace cinevault::db {

Result<NewApiKey> create_api_key(Connection& c, const std::string& name, std::int64_t user_id) {
  NewApiKey key;
  key.row.id = random_hex(4);
  key.row.name = name;
  key.row.created_at_ms = now_ms();
  // "cv_" marks the secret for secret scanners; 32 random bytes.
  key.secret = "cv_" + random_hex(32);
  TRY(auto user, find_user(c, user_id));
  if (!user) return fail(ErrorCode::not_found, "no such user");
  key.row.user_name = user->name;
  TRY(auto stmt, c.prepare("INSERT INTO api_keys (id, name, key_sha256, created_at, user_id) VALUES (?, ?, ?, ?, ?)"));
  RETURN_IF_ERROR(stmt.bind(1, key.row.id)
                      .bind(2, name)
                      .bind(3, sha256_hex(key.secret))
                      .bind(4, key.row.created_at_ms)
                      .bind(5, user_id)
                      .run());
  return key;
}

Result<std::vector<ApiKeyRow>> list_api_keys(Connection& c) {
  TRY(auto stmt, c.prepare("SELECT api_keys.id, api_keys.name, users.name, api_keys.created_at, last_used_at, "
                           "revoked_at FROM api_keys LEFT JOIN users ON users.id = api_keys.user_id "
                           "ORDER BY api_keys.created_at"));
  std::vector<ApiKeyRow> rows;
  for (;;) {
    TRY(bool row, stmt.step());
    if (!row) break;
    rows.push_back({stmt.text(0), stmt.text(1), stmt.text(2), stmt.int64(3), stmt.optional_int64(4),
                    stmt.optional_int64(5)});
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

Result<std::optional<KeyHolder>> find_live_key(Connection& c, const std::string& secret) {
  TRY(auto stmt, c.prepare("SELECT id, user_id FROM api_keys WHERE key_sha256 = ? AND revoked_at IS NULL"));
  stmt.bind(1, sha256_hex(secret));
  TRY(bool row, stmt.step());
  if (!row) return std::optional<KeyHolder>();
  TRY(auto user, find_user(c, stmt.int64(1)));
  if (!user) return std::optional<KeyHolder>();
  return std::optional<KeyHolder>(KeyHolder{stmt.text(0), std::move(*user)});
}

Result<void> touch_api_key(Connection& c, const std::string& id) {
  TRY(auto stmt, c.prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?"));
  return stmt.bind(1, now_ms()).bind(2, id).run();
}

}  // namespace cinevault::db
