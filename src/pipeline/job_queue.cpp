#include "cinevault/pipeline/job_queue.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace cinevault::pipeline {
namespace {

constexpr const char* kColumns =
    "id, video_id, kind, state, attempts, max_attempts, force_software, lease_owner, lease_expires_at, not_before, "
    "progress_percent, stage, fps, eta_s, error_class, error_message, log_tail, created_at, updated_at";

Job read_job(const db::Statement& s) {
  Job j;
  j.id = s.int64(0);
  j.video_id = s.text(1);
  j.kind = s.text(2);
  j.state = s.text(3);
  j.attempts = static_cast<int>(s.int64(4));
  j.max_attempts = static_cast<int>(s.int64(5));
  j.force_software = s.int64(6) != 0;
  j.lease_owner = s.optional_text(7);
  j.lease_expires_at_ms = s.optional_int64(8);
  j.not_before_ms = s.int64(9);
  j.progress_percent = s.real(10);
  j.stage = s.text(11);
  if (!s.is_null(12)) j.fps = s.real(12);
  if (!s.is_null(13)) j.eta_s = s.real(13);
  j.error_class = s.optional_text(14);
  j.error_message = s.optional_text(15);
  j.log_tail = s.optional_text(16);
  j.created_at_ms = s.int64(17);
  j.updated_at_ms = s.int64(18);
  return j;
}

Result<std::optional<Job>> find_job(db::Connection& c, std::int64_t id) {
  TRY(auto stmt, c.prepare("SELECT " + std::string(kColumns) + " FROM jobs WHERE id = ?"));
  stmt.bind(1, id);
  TRY(bool row, stmt.step());
  if (!row) return std::optional<Job>();
  return std::optional<Job>(read_job(stmt));
}

// Only the lease holder may change a running job.
Result<void> expect_one_change(db::Connection& c, const Job& job) {
  if (c.changes() == 1) return {};
  return fail(ErrorCode::conflict, "job " + std::to_string(job.id) + ": the lease was lost");
}

}  // namespace

std::string classify(const Error& error) {
  switch (error.code) {
    case ErrorCode::unsupported_media:
    case ErrorCode::unprocessable:
    case ErrorCode::invalid_argument: return "input";
    case ErrorCode::codec: return "codec";
    case ErrorCode::hardware: return "hardware";
    case ErrorCode::crashed: return "crashed";
    case ErrorCode::resource: return "resource";
    case ErrorCode::io:
    case ErrorCode::database:
    case ErrorCode::too_large: return "storage";
    default: return "internal";
  }
}

JobQueue::JobQueue(db::Database& database, std::string owner, RetryPolicy policy)
    : database_(database), owner_(std::move(owner)), policy_(policy) {}

std::chrono::milliseconds JobQueue::backoff_after(int attempts) const {
  auto backoff = policy_.first_backoff;
  for (int i = 1; i < attempts && backoff < policy_.max_backoff; ++i) backoff *= 2;
  return std::min(backoff, policy_.max_backoff);
}

Result<std::optional<Job>> JobQueue::claim() {
  return database_.write([&](db::Connection& c) -> Result<std::optional<Job>> {
    auto now = db::now_ms();
    TRY(auto pick, c.prepare("SELECT id FROM jobs WHERE (state = 'queued' AND not_before <= ?1) "
                             "OR (state = 'running' AND lease_expires_at < ?1) ORDER BY not_before, id LIMIT 1"));
    pick.bind(1, now);
    TRY(bool found, pick.step());
    if (!found) return std::optional<Job>();
    std::int64_t id = pick.int64(0);
    // The configured number of tries applies to every job this process runs.
    TRY(auto take, c.prepare("UPDATE jobs SET state = 'running', attempts = attempts + 1, max_attempts = ?, "
                             "lease_owner = ?, lease_expires_at = ?, progress_percent = 0, stage = 'starting', "
                             "fps = NULL, eta_s = NULL, updated_at = ? WHERE id = ?"));
    RETURN_IF_ERROR(take.bind(1, policy_.max_attempts)
                        .bind(2, owner_)
                        .bind(3, now + policy_.lease.count())
                        .bind(4, now)
                        .bind(5, id)
                        .run());
    return find_job(c, id);
  });
}

Result<void> JobQueue::report_progress(const Job& job, const JobProgress& progress) {
  return database_.write([&](db::Connection& c) -> Result<void> {
    auto now = db::now_ms();
    TRY(auto stmt, c.prepare("UPDATE jobs SET progress_percent = ?, stage = ?, fps = ?, eta_s = ?, "
                             "lease_expires_at = ?, updated_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?"));
    RETURN_IF_ERROR(stmt.bind(1, progress.percent)
                        .bind(2, progress.stage)
                        .bind(3, progress.fps)
                        .bind(4, progress.eta_s)
                        .bind(5, now + policy_.lease.count())
                        .bind(6, now)
                        .bind(7, job.id)
                        .bind(8, owner_)
                        .run());
    return expect_one_change(c, job);
  });
}

Result<void> JobQueue::complete(const Job& job) {
  return database_.write([&](db::Connection& c) -> Result<void> {
    // A success clears what earlier attempts left: the job is not in error any more.
    TRY(auto stmt, c.prepare("UPDATE jobs SET state = 'done', progress_percent = 100, stage = 'done', "
                             "lease_owner = NULL, lease_expires_at = NULL, eta_s = 0, error_class = NULL, "
                             "error_message = NULL, log_tail = NULL, updated_at = ? "
                             "WHERE id = ? AND state = 'running' AND lease_owner = ?"));
    RETURN_IF_ERROR(stmt.bind(1, db::now_ms()).bind(2, job.id).bind(3, owner_).run());
    return expect_one_change(c, job);
  });
}

Result<Job> JobQueue::record_failure(const Job& job, const Error& error, const std::string& log_tail) {
  std::string error_class = classify(error);
  // Bad input stays bad, and a decoder that crashed on a file crashes on it again: no point
  // in trying again. Over a budget may be the machine's state (the OOM killer): retried.
  bool dead = error_class == "input" || error_class == "crashed" || job.attempts >= job.max_attempts;
  bool software = job.force_software || error_class == "hardware";
  return database_.write([&](db::Connection& c) -> Result<Job> {
    auto now = db::now_ms();
    TRY(auto stmt, c.prepare("UPDATE jobs SET state = ?, not_before = ?, force_software = ?, lease_owner = NULL, "
                             "lease_expires_at = NULL, error_class = ?, error_message = ?, log_tail = ?, "
                             "stage = ?, updated_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?"));
    RETURN_IF_ERROR(stmt.bind(1, dead ? "dead" : "queued")
                        .bind(2, now + (dead ? 0 : backoff_after(job.attempts).count()))
                        .bind(3, software ? 1 : 0)
                        .bind(4, error_class)
                        .bind(5, error.message)
                        .bind(6, log_tail)
                        .bind(7, dead ? "failed" : "waiting to retry")
                        .bind(8, now)
                        .bind(9, job.id)
                        .bind(10, owner_)
                        .run());
    RETURN_IF_ERROR(expect_one_change(c, job));
    TRY(auto updated, find_job(c, job.id));
    return *updated;
  });
}

Result<void> JobQueue::release(const Job& job) {
  return database_.write([&](db::Connection& c) -> Result<void> {
    TRY(auto stmt, c.prepare("UPDATE jobs SET state = 'queued', attempts = max(attempts - 1, 0), lease_owner = NULL, "
                             "lease_expires_at = NULL, stage = 'queued', updated_at = ? "
                             "WHERE id = ? AND state = 'running' AND lease_owner = ?"));
    return stmt.bind(1, db::now_ms()).bind(2, job.id).bind(3, owner_).run();
  });
}

Result<std::size_t> JobQueue::requeue_abandoned() {
  return database_.write([&](db::Connection& c) -> Result<std::size_t> {
    // The attempt that died with its process still counts: a job that crashes the daemon
    // every time must end as a dead letter, not loop forever.
    TRY(auto stmt, c.prepare("UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, "
                             "error_class = CASE WHEN attempts >= max_attempts THEN 'internal' ELSE error_class END, "
                             "error_message = CASE WHEN attempts >= max_attempts "
                             "THEN 'the process running the job stopped on every try' ELSE error_message END, "
                             "lease_owner = NULL, lease_expires_at = NULL, stage = 'queued', updated_at = ? "
                             "WHERE state = 'running' AND (lease_owner IS NULL OR lease_owner <> ?)"));
    RETURN_IF_ERROR(stmt.bind(1, db::now_ms()).bind(2, owner_).run());
    return static_cast<std::size_t>(c.changes());
  });
}

Result<std::optional<Job>> JobQueue::retry(std::int64_t id) {
  return database_.write([&](db::Connection& c) -> Result<std::optional<Job>> {
    TRY(auto job, find_job(c, id));
    if (!job) return job;
    if (job->state != "dead" && job->state != "cancelled")
      return fail(ErrorCode::conflict, "only a dead or cancelled job can be retried; this one is " + job->state);
    TRY(auto stmt, c.prepare("UPDATE jobs SET state = 'queued', attempts = 0, not_before = ?, stage = 'queued', "
                             "progress_percent = 0, updated_at = ? WHERE id = ?"));
    auto now = db::now_ms();
    RETURN_IF_ERROR(stmt.bind(1, now).bind(2, now).bind(3, id).run());
    return find_job(c, id);
  });
}

Result<std::optional<Job>> JobQueue::find(std::int64_t id) {
  return database_.read([&](db::Connection& c) { return find_job(c, id); });
}

Result<std::vector<Job>> JobQueue::list(const std::optional<std::string>& state, int limit) {
  return database_.read([&](db::Connection& c) -> Result<std::vector<Job>> {
    std::string sql = "SELECT " + std::string(kColumns) + " FROM jobs";
    if (state) sql += " WHERE state = ?";
    sql += " ORDER BY id DESC LIMIT ?";
    TRY(auto stmt, c.prepare(sql));
    if (state) stmt.bind(1, *state);
    stmt.bind(state ? 2 : 1, limit);
    std::vector<Job> jobs;
    for (;;) {
      TRY(bool row, stmt.step());
      if (!row) break;
      jobs.push_back(read_job(stmt));
    }
    return jobs;
  });
}

Result<std::optional<Job>> JobQueue::latest_for_video(const std::string& video_id) {
  TRY(auto found, latest_for_videos({video_id}));
  if (found.empty()) return std::optional<Job>();
  return std::optional<Job>(std::move(found.begin()->second));
}

Result<std::map<std::string, Job>> JobQueue::latest_for_videos(const std::vector<std::string>& video_ids) {
  std::map<std::string, Job> found;
  if (video_ids.empty()) return found;
  return database_.read([&](db::Connection& c) -> Result<std::map<std::string, Job>> {
    // The ids go in as one JSON array, so that every page size uses the same prepared statement.
    TRY(auto stmt, c.prepare("SELECT " + std::string(kColumns) + " FROM jobs WHERE id IN "
                             "(SELECT max(id) FROM jobs WHERE video_id IN (SELECT value FROM json_each(?)) "
                             "GROUP BY video_id)"));
    stmt.bind(1, nlohmann::json(video_ids).dump());
    for (;;) {
      TRY(bool row, stmt.step());
      if (!row) break;
      Job job = read_job(stmt);
      std::string video_id = job.video_id;
      found.emplace(std::move(video_id), std::move(job));
    }
    return found;
  });
}

}  // namespace cinevault::pipeline
