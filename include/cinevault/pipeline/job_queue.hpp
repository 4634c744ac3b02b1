// The durable job queue: jobs are rows; a worker claims one with a lease; failures retry
// with exponential backoff and end as dead letters with a classified error.
//
// Thread safety: every method may be called from any thread (each is one transaction).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cinevault/core/hour_window.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/db/database.hpp"
#include "cinevault/db/jobs.hpp"

namespace cinevault::pipeline {

struct RetryPolicy {
  int max_attempts = 3;
  std::chrono::milliseconds first_backoff{10'000};  // doubled per attempt
  std::chrono::milliseconds max_backoff{600'000};
  std::chrono::milliseconds lease{60'000};           // renewed by every progress report
};

// input, codec, storage, hardware or internal, from an error's code.
std::string classify(const Error& error);

class JobQueue {
 public:
  // `owner` names this process's leases: "host:pid:start". Library imports are claimed
  // only within `import_hours` (library.hours), when given.
  JobQueue(db::Database& database, std::string owner, RetryPolicy policy,
           std::optional<HourWindow> import_hours = std::nullopt);

  // Takes the next job that is queued and due, or running under an expired lease: people's
  // jobs first, then library imports (within their hours).
  Result<std::optional<db::Job>> claim();
  // Records progress and renews the lease. Fails with conflict if the lease was lost.
  Result<void> report_progress(const db::Job& job, const db::JobProgress& progress);
  Result<void> complete(const db::Job& job);
  // Retries with backoff while attempts remain (input errors: never), else a dead letter.
  // A hardware failure retries in software. Returns the job as it now stands.
  Result<db::Job> record_failure(const db::Job& job, const Error& error, const std::string& log_tail);
  // Gives a job back without counting the attempt (shutdown).
  Result<void> release(const db::Job& job);
  // At start-up: running jobs whose lease belongs to another (dead) process go back to the queue.
  Result<std::size_t> requeue_abandoned();
  // POST /api/v1/jobs/{id}/retry: a dead (or cancelled) job is queued again with fresh attempts.
  Result<std::optional<db::Job>> retry(std::int64_t id);

  Result<std::optional<db::Job>> find(std::int64_t id);
  Result<std::vector<db::Job>> list(std::optional<db::JobState> state, int limit);
  Result<std::optional<db::Job>> latest_for_video(const std::string& video_id);
  // The same for a page of videos in one query, by video id (videos without a job are left out).
  Result<std::map<std::string, db::Job>> latest_for_videos(const std::vector<std::string>& video_ids);

  const std::string& owner() const { return owner_; }
  std::chrono::milliseconds backoff_after(int attempts) const;

 private:
  db::Database& database_;
  std::string owner_;
  RetryPolicy policy_;
  std::optional<HourWindow> import_hours_;
};

}  // namespace cinevault::pipeline
