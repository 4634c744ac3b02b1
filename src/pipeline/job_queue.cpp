#include "cinevault/pipeline/job_queue.hpp"

#include <algorithm>

namespace cinevault::pipeline {
namespace {

// Only the lease holder may change a running job.
Result<void> expect_lease(bool changed, const db::Job& job) {
  if (changed) return {};
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

JobQueue::JobQueue(db::Database& database, std::string owner, RetryPolicy policy,
                   std::optional<HourWindow> import_hours)
    : database_(database), owner_(std::move(owner)), policy_(policy), import_hours_(import_hours) {}

std::chrono::milliseconds JobQueue::backoff_after(int attempts) const {
  auto backoff = policy_.first_backoff;
  for (int i = 1; i < attempts && backoff < policy_.max_backoff; ++i) backoff *= 2;
  return std::min(backoff, policy_.max_backoff);
}

Result<std::optional<db::Job>> JobQueue::claim() {
  return database_.write([&](db::Connection& c) -> Result<std::optional<db::Job>> {
    auto now = db::now_ms();
    const bool take_imports =
        !import_hours_ || import_hours_->open_at(std::chrono::system_clock::time_point(std::chrono::milliseconds(now)));
    TRY(auto id, db::next_claimable_job(c, now, take_imports));
    if (!id) return std::optional<db::Job>();
    // The configured number of tries applies to every job this process runs.
    RETURN_IF_ERROR(db::start_job(c, *id, owner_, policy_.max_attempts, now + policy_.lease.count(), now));
    return db::find_job(c, *id);
  });
}

Result<void> JobQueue::report_progress(const db::Job& job, const db::JobProgress& progress) {
  return database_.write([&](db::Connection& c) -> Result<void> {
    auto now = db::now_ms();
    TRY(bool changed, db::record_job_progress(c, job.id, owner_, progress, now + policy_.lease.count(), now));
    return expect_lease(changed, job);
  });
}

Result<void> JobQueue::complete(const db::Job& job) {
  return database_.write([&](db::Connection& c) -> Result<void> {
    TRY(bool changed, db::finish_job(c, job.id, owner_, db::now_ms()));
    return expect_lease(changed, job);
  });
}

Result<db::Job> JobQueue::record_failure(const db::Job& job, const Error& error, const std::string& log_tail) {
  db::JobFailure failure;
  failure.error_class = classify(error);
  failure.error_message = error.message;
  failure.log_tail = log_tail;
  // Bad input stays bad, and a decoder that crashed on a file crashes on it again: no point
  // in trying again. Over a budget may be the machine's state (the OOM killer): retried.
  failure.dead =
      failure.error_class == "input" || failure.error_class == "crashed" || job.attempts >= job.max_attempts;
  failure.force_software = job.force_software || failure.error_class == "hardware";
  return database_.write([&](db::Connection& c) -> Result<db::Job> {
    auto now = db::now_ms();
    failure.not_before_ms = now + (failure.dead ? 0 : backoff_after(job.attempts).count());
    TRY(bool changed, db::record_job_failure(c, job.id, owner_, failure, now));
    RETURN_IF_ERROR(expect_lease(changed, job));
    TRY(auto updated, db::find_job(c, job.id));
    if (!updated) return fail(ErrorCode::database, "job " + std::to_string(job.id) + " went away");
    return *updated;
  });
}

Result<void> JobQueue::release(const db::Job& job) {
  return database_.write([&](db::Connection& c) -> Result<void> {
    TRY(bool changed, db::release_job(c, job.id, owner_, db::now_ms()));
    (void)changed;  // a job whose lease went elsewhere is that owner's now
    return {};
  });
}

Result<std::size_t> JobQueue::requeue_abandoned() {
  return database_.write([&](db::Connection& c) -> Result<std::size_t> {
    TRY(std::int64_t requeued, db::requeue_abandoned_jobs(c, owner_, db::now_ms()));
    return static_cast<std::size_t>(requeued);
  });
}

Result<std::optional<db::Job>> JobQueue::retry(std::int64_t id) {
  return database_.write([&](db::Connection& c) -> Result<std::optional<db::Job>> {
    TRY(auto job, db::find_job(c, id));
    if (!job) return job;
    if (job->state != db::JobState::dead && job->state != db::JobState::cancelled)
      return fail(ErrorCode::conflict,
                  std::string("only a dead or cancelled job can be retried; this one is ") + db::to_string(job->state));
    RETURN_IF_ERROR(db::requeue_job(c, id, db::now_ms()));
    return db::find_job(c, id);
  });
}

Result<std::optional<db::Job>> JobQueue::find(std::int64_t id) {
  return database_.read([&](db::Connection& c) { return db::find_job(c, id); });
}

Result<std::vector<db::Job>> JobQueue::list(std::optional<db::JobState> state, int limit) {
  return database_.read([&](db::Connection& c) { return db::list_jobs(c, state, limit); });
}

Result<std::optional<db::Job>> JobQueue::latest_for_video(const std::string& video_id) {
  TRY(auto found, latest_for_videos({video_id}));
  if (found.empty()) return std::optional<db::Job>();
  return std::optional<db::Job>(std::move(found.begin()->second));
}

Result<std::map<std::string, db::Job>> JobQueue::latest_for_videos(const std::vector<std::string>& video_ids) {
  return database_.read([&](db::Connection& c) { return db::latest_jobs(c, video_ids); });
}

}  // namespace cinevault::pipeline
