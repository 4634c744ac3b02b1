#include "cinevault/db/sessions.hpp"

#include "cinevault/core/hash.hpp"
#include "cinevault/db/database.hpp"

namespace cinevault::db {

Result<NewSession> create_session(Connection& c, std::int64_t user_id, std::int64_t lifetime_ms) {
  const std::int64_t now = now_ms();
  TRY(auto expired, c.prepare("DELETE FROM sessions WHERE expires_at <= ?"));
  RETURN_IF_ERROR(expired.bind(1, now).run());
  NewSession session{random_hex(32), random_hex(16), now + lifetime_ms};
  TRY(auto stmt, c.prepare("INSERT INTO sessions (token_sha256, user_id, csrf_token, created_at, expires_at) "
                           "VALUES (?, ?, ?, ?, ?)"));
  RETURN_IF_ERROR(stmt.bind(1, sha256_hex(session.token))
                      .bind(2, user_id)
                      .bind(3, session.csrf_token)
                      .bind(4, now)
                      .bind(5, session.expires_at_ms)
                      .run());
  return session;
}

Result<std::optional<SessionUser>> find_session(Connection& c, const std::string& token) {
  TRY(auto stmt, c.prepare("SELECT users.id, users.name, users.role, users.created_at, users.updated_at, "
                           "sessions.csrf_token FROM sessions JOIN users ON users.id = sessions.user_id "
                           "WHERE token_sha256 = ? AND expires_at > ?"));
  stmt.bind(1, sha256_hex(token)).bind(2, now_ms());
  TRY(bool row, stmt.step());
  if (!row) return std::optional<SessionUser>();
  SessionUser found;
  found.user.id = stmt.int64(0);
  found.user.name = stmt.text(1);
  found.user.role = parse_role(stmt.text(2)).value_or(Role::viewer);
  found.user.created_at_ms = stmt.int64(3);
  found.user.updated_at_ms = stmt.int64(4);
  found.csrf_token = stmt.text(5);
  return std::optional<SessionUser>(std::move(found));
}

Result<void> delete_session(Connection& c, std::int64_t user_id, const std::string& csrf_token) {
  TRY(auto stmt, c.prepare("DELETE FROM sessions WHERE user_id = ? AND csrf_token = ?"));
  return stmt.bind(1, user_id).bind(2, csrf_token).run();
}

Result<void> delete_sessions_of(Connection& c, std::int64_t user_id) {
  TRY(auto stmt, c.prepare("DELETE FROM sessions WHERE user_id = ?"));
  return stmt.bind(1, user_id).run();
}

}  // namespace cinevault::db
