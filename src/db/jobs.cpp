#include "cinevault/db/jobs.hpp"

#include "cinevault/db/database.hpp"

namespace cinevault::db {

Result<std::int64_t> enqueue_job(Connection& c, const std::string& video_id, const std::string& kind) {
  auto now = now_ms();
  TRY(auto stmt, c.prepare("INSERT INTO jobs (video_id, kind, state, not_before, created_at, updated_at) "
                           "VALUES (?, ?, 'queued', ?, ?, ?) RETURNING id"));
  stmt.bind(1, video_id).bind(2, kind).bind(3, now).bind(4, now).bind(5, now);
  TRY(bool row, stmt.step());
  if (!row) return fail(ErrorCode::database, "insert job returned no id");
  return stmt.int64(0);
}

Result<bool> has_active_job(Connection& c, const std::string& video_id) {
  TRY(auto stmt, c.prepare("SELECT 1 FROM jobs WHERE video_id = ? AND state IN ('queued', 'running') LIMIT 1"));
  stmt.bind(1, video_id);
  return stmt.step();
}

Result<std::int64_t> count_jobs(Connection& c, const std::string& video_id) {
  TRY(auto stmt, c.prepare("SELECT count(*) FROM jobs WHERE video_id = ?"));
  stmt.bind(1, video_id);
  TRY(bool row, stmt.step());
  return row ? stmt.int64(0) : 0;
}

}  // namespace cinevault::db
