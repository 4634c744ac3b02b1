// The jobs table: every statement that reads or changes it is here. The queue's policy
// (leases, retries, backoff, dead letters) is pipeline::JobQueue's; it runs these in its
// transactions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"

namespace cinevault::db {

enum class JobState { queued, running, done, dead, cancelled };
// As stored and as the API shows it: "queued", "running", "done", "dead", "cancelled".
const char* to_string(JobState state);
std::optional<JobState> parse_job_state(std::string_view text);

// Jobs are claimed in this order first: a person waits for their upload (or the transcode
// they asked for); a library being imported can wait. Stored as 0 and 1.
enum class JobPriority { person = 0, library_import = 1 };

struct Job {
  std::int64_t id = 0;
  std::string video_id;
  std::string kind;
  JobState state = JobState::queued;
  JobPriority priority = JobPriority::person;
  int attempts = 0;  // claims so far, this one included
  int max_attempts = 0;
  bool force_software = false;
  std::optional<std::string> lease_owner;
  std::optional<std::int64_t> lease_expires_at_ms;
  std::int64_t not_before_ms = 0;
  double progress_percent = 0;
  std::string stage;
  std::optional<double> fps;
  std::optional<double> eta_s;
  std::optional<std::string> error_class;
  std::optional<std::string> error_message;
  std::optional<std::string> log_tail;
  std::optional<std::int64_t> started_at_ms;  // of the current (or last) attempt
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  // While queued: 1 for the next job to be claimed, counting queued jobs in claim order
  // (whatever their not_before). Read with the row, never stored.
  std::optional<std::int64_t> queue_position;
};

struct JobProgress {
  double percent = 0;
  std::string stage;
  std::optional<double> fps;
  std::optional<double> eta_s;
};

// How an attempt failed, and what becomes of the job.
struct JobFailure {
  bool dead = false;  // a dead letter; else queued again at `not_before_ms`
  std::int64_t not_before_ms = 0;
  bool force_software = false;
  std::string error_class;
  std::string error_message;
  std::string log_tail;
};

// Queues a job of `kind` for a video; returns the job id.
Result<std::int64_t> enqueue_job(Connection& c, const std::string& video_id, const std::string& kind,
                                 JobPriority priority);
// A job of the video is queued or running.
Result<bool> has_active_job(Connection& c, const std::string& video_id);
Result<std::int64_t> count_jobs(Connection& c, const std::string& video_id);

Result<std::optional<Job>> find_job(Connection& c, std::int64_t id);
Result<std::vector<Job>> list_jobs(Connection& c, std::optional<JobState> state, int limit);
// The newest job of each video, by video id (videos without a job are left out).
Result<std::map<std::string, Job>> latest_jobs(Connection& c, const std::vector<std::string>& video_ids);

// The next job that is queued and due at `now`, or running under a lease expired by then:
// people's jobs before library imports, then the earliest due, then the oldest. Without
// `take_imports` (outside library.hours), library imports are left where they are.
Result<std::optional<std::int64_t>> next_claimable_job(Connection& c, std::int64_t now, bool take_imports);
// Runs the job under `owner`'s lease until `lease_until`, counting the attempt.
Result<void> start_job(Connection& c, std::int64_t id, const std::string& owner, int max_attempts,
                       std::int64_t lease_until, std::int64_t now);

// The next four change a running job only while `owner` holds its lease; false when it
// does not (the lease was lost).
Result<bool> record_job_progress(Connection& c, std::int64_t id, const std::string& owner,
                                 const JobProgress& progress, std::int64_t lease_until, std::int64_t now);
// Done, clearing the errors of earlier attempts.
Result<bool> finish_job(Connection& c, std::int64_t id, const std::string& owner, std::int64_t now);
Result<bool> record_job_failure(Connection& c, std::int64_t id, const std::string& owner, const JobFailure& failure,
                                std::int64_t now);
// Queued again without counting the attempt (shutdown).
Result<bool> release_job(Connection& c, std::int64_t id, const std::string& owner, std::int64_t now);

// Running jobs whose lease is not `owner`'s go back to the queue, or become dead letters when
// their attempts are spent (the attempt that died with its process counts). Returns how many.
Result<std::int64_t> requeue_abandoned_jobs(Connection& c, const std::string& owner, std::int64_t now);
// A job queued again with fresh attempts (a dead letter retried by hand).
Result<void> requeue_job(Connection& c, std::int64_t id, std::int64_t now);

// The jobs of library imports, for GET /api/v1/library/status.
struct ImportJobsSummary {
  std::int64_t queued = 0, running = 0, done = 0, failed = 0;  // failed: dead or cancelled
  // Media seconds still to transcode: the whole of the queued ones' sources, what the
  // running ones have left by their progress.
  double remaining_media_s = 0;
  // Those finished since `recent_since`: media seconds and the wall time of their runs.
  double recent_media_s = 0, recent_wall_s = 0;
  // The running ones: media seconds done by their progress, and wall time since they started.
  double running_media_s = 0, running_wall_s = 0;
};
Result<ImportJobsSummary> summarize_import_jobs(Connection& c, std::int64_t now, std::int64_t recent_since);

}  // namespace cinevault::db
