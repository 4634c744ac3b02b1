#include "cinevault/db/jobs.hpp"

#include <nlohmann/json.hpp>

#include "cinevault/db/database.hpp"

namespace cinevault::db {
namespace {

constexpr const char* kColumns =
    "id, video_id, kind, state, attempts, max_attempts, force_software, lease_owner, lease_expires_at, not_before, "
    "progress_percent, stage, fps, eta_s, error_class, error_message, log_tail, created_at, updated_at, priority, "
    "started_at, position";

// The order jobs are claimed in (next_claimable_job), which queue positions count.
const std::string kClaimOrder = "priority, not_before, id";

// Every job read comes with its place in the queue: one numbering of the queued jobs per
// statement, joined to the rows read, rather than a count per job.
const std::string kFrom = " FROM jobs LEFT JOIN (SELECT id AS queued_id, row_number() OVER (ORDER BY " + kClaimOrder +
                          ") AS position FROM jobs WHERE state = 'queued') ON queued_id = jobs.id";

Job read_job(const Statement& s) {
  Job j;
  j.id = s.int64(0);
  j.video_id = s.text(1);
  j.kind = s.text(2);
  // The table's CHECK admits only these; a row outside them would be a damaged database.
  j.state = parse_job_state(s.text(3)).value_or(JobState::dead);
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
  j.priority = s.int64(19) == 0 ? JobPriority::person : JobPriority::library_import;
  j.started_at_ms = s.optional_int64(20);
  j.queue_position = s.optional_int64(21);
  return j;
}

Result<std::vector<Job>> read_jobs(Statement& stmt) {
  std::vector<Job> jobs;
  for (;;) {
    TRY(bool row, stmt.step());
    if (!row) return jobs;
    jobs.push_back(read_job(stmt));
  }
}

}  // namespace

const char* to_string(JobState state) {
  switch (state) {
    case JobState::queued: return "queued";
    case JobState::running: return "running";
    case JobState::done: return "done";
    case JobState::dead: return "dead";
    case JobState::cancelled: return "cancelled";
  }
  return "dead";
}

std::optional<JobState> parse_job_state(std::string_view text) {
  for (JobState state : {JobState::queued, JobState::running, JobState::done, JobState::dead, JobState::cancelled})
    if (text == to_string(state)) return state;
  return std::nullopt;
}

Result<std::int64_t> enqueue_job(Connection& c, const std::string& video_id, const std::string& kind,
                                 JobPriority priority) {
  auto now = now_ms();
  TRY(auto stmt, c.prepare("INSERT INTO jobs (video_id, kind, state, priority, not_before, created_at, updated_at) "
                           "VALUES (?, ?, 'queued', ?, ?, ?, ?) RETURNING id"));
  stmt.bind(1, video_id).bind(2, kind).bind(3, static_cast<int>(priority)).bind(4, now).bind(5, now).bind(6, now);
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

Result<std::optional<Job>> find_job(Connection& c, std::int64_t id) {
  TRY(auto stmt, c.prepare("SELECT " + std::string(kColumns) + kFrom + " WHERE id = ?"));
  stmt.bind(1, id);
  TRY(bool row, stmt.step());
  if (!row) return std::optional<Job>();
  return std::optional<Job>(read_job(stmt));
}

Result<std::vector<Job>> list_jobs(Connection& c, std::optional<JobState> state, int limit) {
  std::string sql = "SELECT " + std::string(kColumns) + kFrom;
  if (state) sql += " WHERE state = ?";
  sql += " ORDER BY id DESC LIMIT ?";
  TRY(auto stmt, c.prepare(sql));
  if (state) stmt.bind(1, to_string(*state));
  stmt.bind(state ? 2 : 1, limit);
  return read_jobs(stmt);
}

Result<std::map<std::string, Job>> latest_jobs(Connection& c, const std::vector<std::string>& video_ids) {
  std::map<std::string, Job> found;
  if (video_ids.empty()) return found;
  // The ids go in as one JSON array, so that every page size uses the same prepared statement.
  TRY(auto stmt, c.prepare("SELECT " + std::string(kColumns) + kFrom + " WHERE id IN "
                           "(SELECT max(id) FROM jobs WHERE video_id IN (SELECT value FROM json_each(?)) "
                           "GROUP BY video_id)"));
  stmt.bind(1, nlohmann::json(video_ids).dump());
  TRY(std::vector<Job> jobs, read_jobs(stmt));
  for (Job& job : jobs) {
    std::string video_id = job.video_id;
    found.emplace(std::move(video_id), std::move(job));
  }
  return found;
}

Result<std::optional<std::int64_t>> next_claimable_job(Connection& c, std::int64_t now, bool take_imports) {
  TRY(auto stmt, c.prepare("SELECT id FROM jobs WHERE ((state = 'queued' AND not_before <= ?1) "
                           "OR (state = 'running' AND lease_expires_at < ?1)) AND (priority = 0 OR ?2) "
                           "ORDER BY " + kClaimOrder + " LIMIT 1"));
  stmt.bind(1, now).bind(2, take_imports ? 1 : 0);
  TRY(bool found, stmt.step());
  if (!found) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(stmt.int64(0));
}

Result<void> start_job(Connection& c, std::int64_t id, const std::string& owner, int max_attempts,
                       std::int64_t lease_until, std::int64_t now) {
  TRY(auto stmt, c.prepare("UPDATE jobs SET state = 'running', attempts = attempts + 1, max_attempts = ?, "
                           "lease_owner = ?, lease_expires_at = ?, progress_percent = 0, stage = 'starting', "
                           "fps = NULL, eta_s = NULL, started_at = ?4, updated_at = ?4 WHERE id = ?5"));
  return stmt.bind(1, max_attempts).bind(2, owner).bind(3, lease_until).bind(4, now).bind(5, id).run();
}

Result<bool> record_job_progress(Connection& c, std::int64_t id, const std::string& owner,
                                 const JobProgress& progress, std::int64_t lease_until, std::int64_t now) {
  TRY(auto stmt, c.prepare("UPDATE jobs SET progress_percent = ?, stage = ?, fps = ?, eta_s = ?, "
                           "lease_expires_at = ?, updated_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?"));
  RETURN_IF_ERROR(stmt.bind(1, progress.percent)
                      .bind(2, progress.stage)
                      .bind(3, progress.fps)
                      .bind(4, progress.eta_s)
                      .bind(5, lease_until)
                      .bind(6, now)
                      .bind(7, id)
                      .bind(8, owner)
                      .run());
  return c.changes() == 1;
}

Result<bool> finish_job(Connection& c, std::int64_t id, const std::string& owner, std::int64_t now) {
  TRY(auto stmt, c.prepare("UPDATE jobs SET state = 'done', progress_percent = 100, stage = 'done', "
                           "lease_owner = NULL, lease_expires_at = NULL, eta_s = 0, error_class = NULL, "
                           "error_message = NULL, log_tail = NULL, updated_at = ? "
                           "WHERE id = ? AND state = 'running' AND lease_owner = ?"));
  RETURN_IF_ERROR(stmt.bind(1, now).bind(2, id).bind(3, owner).run());
  return c.changes() == 1;
}

Result<bool> record_job_failure(Connection& c, std::int64_t id, const std::string& owner, const JobFailure& failure,
                                std::int64_t now) {
  TRY(auto stmt, c.prepare("UPDATE jobs SET state = ?, not_before = ?, force_software = ?, lease_owner = NULL, "
                           "lease_expires_at = NULL, error_class = ?, error_message = ?, log_tail = ?, "
                           "stage = ?, updated_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?"));
  RETURN_IF_ERROR(stmt.bind(1, to_string(failure.dead ? JobState::dead : JobState::queued))
                      .bind(2, failure.not_before_ms)
                      .bind(3, failure.force_software ? 1 : 0)
                      .bind(4, failure.error_class)
                      .bind(5, failure.error_message)
                      .bind(6, failure.log_tail)
                      .bind(7, failure.dead ? "failed" : "waiting to retry")
                      .bind(8, now)
                      .bind(9, id)
                      .bind(10, owner)
                      .run());
  return c.changes() == 1;
}

Result<bool> release_job(Connection& c, std::int64_t id, const std::string& owner, std::int64_t now) {
  TRY(auto stmt, c.prepare("UPDATE jobs SET state = 'queued', attempts = max(attempts - 1, 0), lease_owner = NULL, "
                           "lease_expires_at = NULL, stage = 'queued', updated_at = ? "
                           "WHERE id = ? AND state = 'running' AND lease_owner = ?"));
  RETURN_IF_ERROR(stmt.bind(1, now).bind(2, id).bind(3, owner).run());
  return c.changes() == 1;
}

Result<std::int64_t> requeue_abandoned_jobs(Connection& c, const std::string& owner, std::int64_t now) {
  TRY(auto stmt, c.prepare("UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, "
                           "error_class = CASE WHEN attempts >= max_attempts THEN 'internal' ELSE error_class END, "
                           "error_message = CASE WHEN attempts >= max_attempts "
                           "THEN 'the process running the job stopped on every try' ELSE error_message END, "
                           "lease_owner = NULL, lease_expires_at = NULL, stage = 'queued', updated_at = ? "
                           "WHERE state = 'running' AND (lease_owner IS NULL OR lease_owner <> ?)"));
  RETURN_IF_ERROR(stmt.bind(1, now).bind(2, owner).run());
  return static_cast<std::int64_t>(c.changes());
}

Result<void> requeue_job(Connection& c, std::int64_t id, std::int64_t now) {
  TRY(auto stmt, c.prepare("UPDATE jobs SET state = 'queued', attempts = 0, not_before = ?, stage = 'queued', "
                           "progress_percent = 0, updated_at = ? WHERE id = ?"));
  return stmt.bind(1, now).bind(2, now).bind(3, id).run();
}

Result<ImportJobsSummary> summarize_import_jobs(Connection& c, std::int64_t now, std::int64_t recent_since) {
  // d: the source's duration, from the probed facts; a finished run's wall time is from its
  // attempt's start to the job's last update (finish_job's).
  TRY(auto stmt, c.prepare(
      "SELECT count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'running'), "
      "count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state IN ('dead', 'cancelled')), "
      "total(CASE state WHEN 'queued' THEN d WHEN 'running' THEN d * (100 - progress_percent) / 100 END), "
      "total(d) FILTER (WHERE state = 'done' AND updated_at >= ?2 AND started_at IS NOT NULL), "
      "total(updated_at - started_at) FILTER (WHERE state = 'done' AND updated_at >= ?2 AND started_at IS NOT NULL), "
      "total(d * progress_percent / 100) FILTER (WHERE state = 'running' AND started_at IS NOT NULL), "
      "total(?1 - started_at) FILTER (WHERE state = 'running' AND started_at IS NOT NULL) "
      "FROM (SELECT jobs.state, jobs.progress_percent, jobs.started_at, jobs.updated_at, "
      "      coalesce(json_extract(videos.media_info, '$.duration_s'), 0) AS d "
      "      FROM jobs JOIN videos ON videos.id = jobs.video_id WHERE jobs.priority = 1)"));
  stmt.bind(1, now).bind(2, recent_since);
  TRY(bool row, stmt.step());
  ImportJobsSummary summary;
  if (!row) return summary;
  summary.queued = stmt.int64(0);
  summary.running = stmt.int64(1);
  summary.done = stmt.int64(2);
  summary.failed = stmt.int64(3);
  summary.remaining_media_s = stmt.real(4);
  summary.recent_media_s = stmt.real(5);
  summary.recent_wall_s = stmt.real(6) / 1000;
  summary.running_media_s = stmt.real(7);
  summary.running_wall_s = stmt.real(8) / 1000;
  return summary;
}

}  // namespace cinevault::db
