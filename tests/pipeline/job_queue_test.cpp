#include "cinevault/pipeline/job_queue.hpp"

#include <filesystem>
#include <ctime>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "cinevault/core/hash.hpp"
#include "cinevault/db/jobs.hpp"
#include "cinevault/db/objects.hpp"
#include "cinevault/db/videos.hpp"
#include "scratch_dir.hpp"

namespace cinevault::pipeline {
namespace {

using namespace std::chrono_literals;

class JobQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = db::Database::open(dir_ / "q.db").value();
  }

  void add_video(const std::string& video_id) {
    ASSERT_TRUE(db_->write([&](db::Connection& c) -> Result<void> {
      std::string sha = sha256_hex(video_id);
      RETURN_IF_ERROR(db::insert_object(c, {sha, 1, "source"}));
      db::VideoRow v;
      v.id = video_id;
      v.title = video_id;
      v.state = db::VideoState::queued;
      v.source_sha256 = sha;
      v.media_info_json = "{}";
      return db::insert_video(c, v);
    }));
  }

  // Another job for a video that is already there.
  std::int64_t enqueue(const std::string& video_id, db::JobPriority priority = db::JobPriority::person) {
    return db_->write([&](db::Connection& c) { return db::enqueue_job(c, video_id, "transcode", priority); }).value();
  }

  std::int64_t add_job(const std::string& video_id, db::JobPriority priority = db::JobPriority::person) {
    add_video(video_id);
    return enqueue(video_id, priority);
  }

  RetryPolicy fast() {
    RetryPolicy policy;
    policy.first_backoff = 0ms;
    policy.max_backoff = 0ms;
    return policy;
  }

  test_support::ScratchDir dir_{"queue"};
  std::unique_ptr<db::Database> db_;
};

TEST_F(JobQueueTest, ClaimTakesEachJobOnceWithALease) {
  add_job("a");
  add_job("b");
  JobQueue queue(*db_, "me", fast());
  auto first = queue.claim().value();
  auto second = queue.claim().value();
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->id, second->id);
  EXPECT_EQ(first->state, db::JobState::running);
  EXPECT_EQ(first->attempts, 1);
  EXPECT_EQ(first->lease_owner, "me");
  EXPECT_GT(*first->lease_expires_at_ms, db::now_ms());
  EXPECT_FALSE(queue.claim().value());
}

TEST_F(JobQueueTest, ConcurrentWorkersNeverShareAJob) {
  for (int i = 0; i < 20; ++i) add_job("v" + std::to_string(i));
  JobQueue queue(*db_, "me", fast());
  std::mutex mutex;
  std::multiset<std::int64_t> claimed;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&] {
      while (auto job = queue.claim().value()) {
        std::lock_guard lock(mutex);
        claimed.insert(job->id);
      }
    });
  for (auto& t : workers) t.join();
  EXPECT_EQ(claimed.size(), 20u);
  EXPECT_EQ(std::set<std::int64_t>(claimed.begin(), claimed.end()).size(), 20u);
}

TEST_F(JobQueueTest, ProgressIsRecordedAndCompleteFinishes) {
  add_job("a");
  JobQueue queue(*db_, "me", fast());
  auto job = *queue.claim().value();
  ASSERT_TRUE(queue.report_progress(job, {42.5, "encoding", 61.0, 3.5}));
  auto seen = *queue.find(job.id).value();
  EXPECT_DOUBLE_EQ(seen.progress_percent, 42.5);
  EXPECT_EQ(seen.stage, "encoding");
  EXPECT_DOUBLE_EQ(*seen.fps, 61.0);
  ASSERT_TRUE(queue.complete(job));
  EXPECT_EQ(queue.find(job.id).value()->state, db::JobState::done);
  // A lease that is gone cannot be used any more.
  EXPECT_EQ(queue.report_progress(job, {50, "encoding", {}, {}}).error().code, ErrorCode::conflict);
}

TEST_F(JobQueueTest, FailuresRetryThenBecomeADeadLetterWithTheirError) {
  add_job("a");
  JobQueue queue(*db_, "me", fast());
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto job = queue.claim().value();
    ASSERT_TRUE(job) << "attempt " << attempt;
    EXPECT_EQ(job->attempts, attempt);
    auto failed = queue.record_failure(*job, {ErrorCode::codec, "encoder exploded"}, "last lines");
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->state, attempt < 3 ? db::JobState::queued : db::JobState::dead);
  }
  EXPECT_FALSE(queue.claim().value());
  auto dead = queue.list(db::JobState::dead, 10).value();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].error_class, "codec");
  EXPECT_EQ(dead[0].error_message, "encoder exploded");
  EXPECT_EQ(dead[0].log_tail, "last lines");
  // Retried by hand: queued again with fresh attempts.
  auto retried = queue.retry(dead[0].id).value();
  EXPECT_EQ(retried->state, db::JobState::queued);
  EXPECT_EQ(retried->attempts, 0);
  EXPECT_TRUE(queue.claim().value());
  EXPECT_EQ(queue.retry(dead[0].id).error().code, ErrorCode::conflict);  // running now
}

TEST_F(JobQueueTest, TheConfiguredTriesApplyAndSuccessClearsOldErrors) {
  add_job("a");
  RetryPolicy two = fast();
  two.max_attempts = 2;
  JobQueue queue(*db_, "me", two);
  auto job = *queue.claim().value();
  EXPECT_EQ(job.max_attempts, 2);
  EXPECT_EQ(queue.record_failure(job, {ErrorCode::io, "disk full"}, "tail").value().state, db::JobState::queued);
  job = *queue.claim().value();
  ASSERT_TRUE(queue.complete(job));
  auto done = *queue.find(job.id).value();
  EXPECT_EQ(done.state, db::JobState::done);
  EXPECT_FALSE(done.error_class);
  EXPECT_FALSE(done.log_tail);
}

TEST_F(JobQueueTest, BadInputIsDeadAtOnceAndHardwareFailuresRetryInSoftware) {
  add_job("a");
  add_job("b");
  JobQueue queue(*db_, "me", fast());
  auto a = *queue.claim().value();
  EXPECT_EQ(queue.record_failure(a, {ErrorCode::unprocessable, "no video stream"}, "").value().state, db::JobState::dead);
  auto b = *queue.claim().value();
  auto retrying = queue.record_failure(b, {ErrorCode::hardware, "nvenc lost"}, "").value();
  EXPECT_EQ(retrying.state, db::JobState::queued);
  EXPECT_TRUE(retrying.force_software);
  EXPECT_TRUE(queue.claim().value()->force_software);
}

TEST_F(JobQueueTest, BackoffDoublesUpToTheCap) {
  RetryPolicy policy;
  policy.first_backoff = 1000ms;
  policy.max_backoff = 5000ms;
  JobQueue queue(*db_, "me", policy);
  EXPECT_EQ(queue.backoff_after(1), 1000ms);
  EXPECT_EQ(queue.backoff_after(2), 2000ms);
  EXPECT_EQ(queue.backoff_after(3), 4000ms);
  EXPECT_EQ(queue.backoff_after(4), 5000ms);
  add_job("a");
  auto job = *queue.claim().value();
  ASSERT_TRUE(queue.record_failure(job, {ErrorCode::io, "disk full"}, ""));
  EXPECT_FALSE(queue.claim().value()) << "claimed before its backoff";
}

TEST_F(JobQueueTest, JobsOfADeadProcessReturnToTheQueueAtStart) {
  add_job("a");
  JobQueue before_crash(*db_, "host:1:old", fast());
  ASSERT_TRUE(before_crash.claim().value());
  JobQueue after_restart(*db_, "host:2:new", fast());
  EXPECT_FALSE(after_restart.claim().value());  // the lease has not expired yet
  EXPECT_EQ(after_restart.requeue_abandoned().value(), 1u);
  auto job = after_restart.claim().value();
  ASSERT_TRUE(job);
  EXPECT_EQ(job->attempts, 2);
  // The old owner cannot touch it any more.
  EXPECT_FALSE(before_crash.complete(*job));
}

TEST_F(JobQueueTest, ExpiredLeasesCanBeTakenOver) {
  add_job("a");
  RetryPolicy short_lease = fast();
  short_lease.lease = 1ms;
  JobQueue other(*db_, "other", short_lease);
  ASSERT_TRUE(other.claim().value());
  std::this_thread::sleep_for(5ms);
  JobQueue me(*db_, "me", fast());
  auto job = me.claim().value();
  ASSERT_TRUE(job);
  EXPECT_EQ(job->lease_owner, "me");
}

TEST_F(JobQueueTest, ReleaseGivesTheAttemptBack) {
  add_job("a");
  JobQueue queue(*db_, "me", fast());
  auto job = *queue.claim().value();
  ASSERT_TRUE(queue.release(job));
  auto again = *queue.claim().value();
  EXPECT_EQ(again.attempts, 1);
}

// library.hours: outside the window, imports stay queued and uploads are still taken; inside
// it, imports are taken as well.
TEST_F(JobQueueTest, ImportsAreClaimedOnlyWithinTheirHours) {
  auto import = add_job("imported", db::JobPriority::library_import);
  auto upload = add_job("uploaded");
  std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  const int hour = local.tm_hour;
  // Two hours from now to three: this hour and the next are outside (a test at 59:59 passes too).
  HourWindow later{(hour + 2) % 24, (hour + 3) % 24 == 0 ? 24 : (hour + 3) % 24};
  JobQueue closed(*db_, "me", fast(), later);
  auto first = closed.claim().value();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->id, upload);
  EXPECT_FALSE(closed.claim().value()) << "an import was claimed outside library.hours";
  EXPECT_EQ(closed.find(import).value()->state, db::JobState::queued);

  HourWindow now_and_next{hour, (hour + 2) % 24 == 0 ? 24 : (hour + 2) % 24};
  JobQueue open(*db_, "me", fast(), now_and_next);
  auto second = open.claim().value();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, import);
}

// An upload that failed and waits to retry keeps its priority: once due, it goes before
// imports queued long before it.
TEST_F(JobQueueTest, ARetryKeepsItsJobsPriority) {
  auto upload = add_job("uploaded");
  JobQueue queue(*db_, "me", fast());
  auto job = *queue.claim().value();
  auto import = add_job("imported", db::JobPriority::library_import);
  auto failed = queue.record_failure(job, {ErrorCode::io, "disk full"}, "").value();
  EXPECT_EQ(failed.state, db::JobState::queued);
  EXPECT_EQ(failed.priority, db::JobPriority::person);
  EXPECT_EQ(queue.claim().value()->id, upload);
  EXPECT_EQ(queue.claim().value()->id, import);
}

TEST_F(JobQueueTest, LatestJobsOfManyVideosInOneRead) {
  // Jobs of a and b interleaved, so that neither the first job of a video nor the newest
  // job overall is the answer; "quiet" has no job; "other" has the newest job but is not asked for.
  auto a_first = add_job("a");
  add_job("b");
  enqueue("a");
  auto b_latest = enqueue("b");
  auto a_latest = enqueue("a");
  add_video("quiet");
  add_job("other");
  JobQueue queue(*db_, "me", fast());
  // An older job in another state: the latest one is still the one reported.
  auto claimed = *queue.claim().value();
  ASSERT_EQ(claimed.id, a_first);
  ASSERT_EQ(queue.record_failure(claimed, {ErrorCode::unprocessable, "no video stream"}, "").value().state, db::JobState::dead);

  auto latest = queue.latest_for_videos({"a", "b", "quiet", "unknown"}).value();
  ASSERT_EQ(latest.size(), 2u);
  ASSERT_TRUE(latest.contains("a") && latest.contains("b"));
  EXPECT_EQ(latest.at("a").id, a_latest);
  EXPECT_EQ(latest.at("a").video_id, "a");
  EXPECT_EQ(latest.at("a").state, db::JobState::queued);
  EXPECT_FALSE(latest.at("a").error_class);
  EXPECT_EQ(latest.at("b").id, b_latest);
  EXPECT_EQ(latest.at("b").video_id, "b");
  EXPECT_TRUE(queue.latest_for_videos({}).value().empty());
  // The one-video form gives the same answers.
  EXPECT_EQ(queue.latest_for_video("a").value()->id, a_latest);
  EXPECT_EQ(queue.latest_for_video("b").value()->id, b_latest);
  EXPECT_FALSE(queue.latest_for_video("quiet").value());
}

}  // namespace
}  // namespace cinevault::pipeline
