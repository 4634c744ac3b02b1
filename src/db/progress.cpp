#include "cinevault/db/progress.hpp"

#include "cinevault/db/database.hpp"

namespace cinevault::db {

Result<void> save_progress(Connection& c, std::int64_t user_id, const std::string& video_id, double position_s) {
  TRY(auto stmt, c.prepare("INSERT INTO watch_progress (user_id, video_id, position_s, updated_at) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (user_id, video_id) DO UPDATE SET position_s = excluded.position_s, "
                           "updated_at = excluded.updated_at"));
  return stmt.bind(1, user_id).bind(2, video_id).bind(3, position_s).bind(4, now_ms()).run();
}

Result<std::optional<WatchProgress>> find_progress(Connection& c, std::int64_t user_id, const std::string& video_id) {
  TRY(auto stmt, c.prepare("SELECT position_s, updated_at FROM watch_progress WHERE user_id = ? AND video_id = ?"));
  stmt.bind(1, user_id).bind(2, video_id);
  TRY(bool row, stmt.step());
  if (!row) return std::optional<WatchProgress>();
  return std::optional<WatchProgress>(WatchProgress{video_id, stmt.real(0), stmt.int64(1)});
}

Result<std::vector<WatchProgress>> recent_progress(Connection& c, std::int64_t user_id, int limit) {
  TRY(auto stmt, c.prepare("SELECT video_id, position_s, updated_at FROM watch_progress WHERE user_id = ? "
                           "ORDER BY updated_at DESC LIMIT ?"));
  stmt.bind(1, user_id).bind(2, limit);
  std::vector<WatchProgress> recent;
  for (;;) {
    TRY(bool row, stmt.step());
    if (!row) return recent;
    recent.push_back({stmt.text(0), stmt.real(1), stmt.int64(2)});
  }
}

Result<std::optional<std::string>> current_signing_key(Connection& c) {
  TRY(auto stmt, c.prepare("SELECT secret FROM signing_keys ORDER BY id DESC LIMIT 1"));
  TRY(bool row, stmt.step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(stmt.text(0));
}

Result<void> replace_signing_key(Connection& c, const std::string& secret) {
  RETURN_IF_ERROR(c.exec("DELETE FROM signing_keys"));
  TRY(auto stmt, c.prepare("INSERT INTO signing_keys (secret, created_at) VALUES (?, ?)"));
  return stmt.bind(1, secret).bind(2, now_ms()).run();
}

}  // namespace cinevault::db
