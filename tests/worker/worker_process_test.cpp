// The daemon's side of the media worker against a worker that lies (fake_media_worker, one
// scenario per test): every message out of order, out of range, unsealed or oversized ends
// the job as `crashed` and reaches the listener no further; a worker that aborts, exits
// early or goes silent is named for it. An honest run reaches the listener whole.
#include "cinevault/worker/worker_process.hpp"

#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace cinevault::worker {
namespace {

class RecordingListener final : public package::SegmentListener {
 public:
  Result<void> on_init_segment(const Rendition& rendition, std::string bytes) override {
    calls.push_back("init " + rendition.name + (rendition.start ? " (start) " : " ") + bytes);
    return {};
  }
  Result<void> on_media_segment(const Rendition& rendition, const Segment& segment, std::string bytes) override {
    calls.push_back("segment " + rendition.name + " " + std::to_string(segment.number) + " " + bytes);
    return {};
  }
  Result<void> on_rendition_finished(const Rendition& rendition, int average) override {
    calls.push_back("finished " + rendition.name + " " + std::to_string(average));
    return {};
  }
  std::vector<std::string> calls;
};

// One rung (360p), and a second (240p) when `two_rungs`; an audio stream when `audio`.
media::TranscodeRequest request_of(bool two_rungs = false, bool audio = false) {
  media::TranscodeRequest request;
  request.source = "/proc/self/exe";  // any readable file: the fake worker does not read it
  request.source_info.duration_s = 4;
  request.plan.video.push_back({{"360p", 360, 800, 856, 1200}, 640, 360});
  if (two_rungs) request.plan.video.push_back({{"240p", 240, 400, 428, 600}, 426, 240});
  if (audio) request.plan.audio_streams.push_back(1);
  request.plan.frame_rate_num = 25;
  request.plan.frame_rate = 25;
  return request;
}

struct Outcome {
  Result<media::TranscodeReport> report;
  std::vector<std::string> calls;
};

Outcome run(const char* scenario, const media::TranscodeRequest& request = request_of(),
            std::chrono::milliseconds silence = std::chrono::seconds(30)) {
  ::setenv("CINEVAULT_FAKE_WORKER", scenario, 1);
  WorkerSettings settings;
  settings.executable = CINEVAULT_FAKE_WORKER_PATH;
  settings.silence_limit = silence;
  WorkerPool pool(settings, /*idle_workers=*/0);
  RecordingListener listener;
  auto report = pool.transcode(request, listener, {}, std::stop_token());
  return {std::move(report), std::move(listener.calls)};
}

void expect_failure(const Outcome& outcome, ErrorCode code, const std::string& words) {
  ASSERT_FALSE(outcome.report) << "the run succeeded";
  EXPECT_EQ(outcome.report.error().code, code) << outcome.report.error().message;
  EXPECT_NE(outcome.report.error().message.find(words), std::string::npos) << outcome.report.error().message;
}

TEST(WorkerPool, AnHonestWorkersEventsReachTheListenerInOrder) {
  Outcome outcome = run("honest");
  ASSERT_TRUE(outcome.report) << outcome.report.error().message;
  EXPECT_EQ(outcome.report->encoder_name, "libx264");
  EXPECT_FALSE(outcome.report->thumbnails);
  EXPECT_EQ(outcome.calls, (std::vector<std::string>{"init 360p (start) init", "segment 360p 0 segment 0",
                                                "finished 360p 900000"}));
}

TEST(WorkerPool, ASegmentOfARenditionNeverAnnouncedIsRefused) {
  Outcome outcome = run("unannounced");
  expect_failure(outcome, ErrorCode::crashed, "did not announce");
  EXPECT_TRUE(outcome.calls.empty());
}

TEST(WorkerPool, AnUnsealedMemoryFileIsRefused) {
  Outcome outcome = run("unsealed");
  expect_failure(outcome, ErrorCode::crashed, "not sealed");
  EXPECT_TRUE(outcome.calls.empty());
}

TEST(WorkerPool, ASegmentOverTheSizeLimitIsRefusedUnread) {
  Outcome outcome = run("oversized");
  expect_failure(outcome, ErrorCode::crashed, "larger than allowed");
  EXPECT_EQ(outcome.calls, std::vector<std::string>{"init 360p (start) init"});
}

TEST(WorkerPool, MoreRenditionsThanThePlanHasAreRefused) {
  Outcome outcome = run("too_many_renditions");
  expect_failure(outcome, ErrorCode::crashed, "too many renditions");
  EXPECT_EQ(outcome.calls, std::vector<std::string>{"init 360p (start) init"});
}

TEST(WorkerPool, TwoStartRenditionsAreRefused) {
  Outcome outcome = run("two_starts", request_of(/*two_rungs=*/true));
  expect_failure(outcome, ErrorCode::crashed, "two start renditions");
  EXPECT_EQ(outcome.calls, std::vector<std::string>{"init 360p (start) init"});
}

TEST(WorkerPool, AStartRenditionOtherThanThePlansIsRefused) {
  media::TranscodeRequest request = request_of(/*two_rungs=*/true);
  request.plan.start_rung = 1;  // 240p; the worker marks 360p
  Outcome outcome = run("wrong_start", request);
  expect_failure(outcome, ErrorCode::crashed, "other than the plan's start rung");
  EXPECT_TRUE(outcome.calls.empty());
}

TEST(WorkerPool, AnAudioStartRenditionIsRefused) {
  Outcome outcome = run("audio_start", request_of(/*two_rungs=*/false, /*audio=*/true));
  expect_failure(outcome, ErrorCode::crashed, "audio rendition as the start rendition");
  EXPECT_TRUE(outcome.calls.empty());
}

TEST(WorkerPool, ASegmentOutOfOrderIsRefused) {
  Outcome outcome = run("out_of_order");
  expect_failure(outcome, ErrorCode::crashed, "out of order");
  EXPECT_EQ(outcome.calls.size(), 2u);
}

TEST(WorkerPool, AFieldOutOfRangeIsRefused) {
  expect_failure(run("bad_field"), ErrorCode::crashed, "'width'");
}

TEST(WorkerPool, ADatagramThatIsNotAHeaderIsRefused) {
  expect_failure(run("not_json"), ErrorCode::crashed, "not a message");
}

TEST(WorkerPool, DoneBeforeEveryRenditionFinishedIsRefused) {
  expect_failure(run("done_too_soon"), ErrorCode::crashed, "before rendition 360p finished");
}

TEST(WorkerPool, AWorkerCannotClaimAnErrorOnlyTheDaemonGives) {
  Outcome outcome = run("claims_a_daemon_error");
  expect_failure(outcome, ErrorCode::internal, "not a worker's error");
}

TEST(WorkerPool, AWorkerThatExitsBeforeItFinishesSaysSo) {
  expect_failure(run("exits"), ErrorCode::internal, "exited with status 0 before it finished");
}

TEST(WorkerPool, AWorkerThatAbortsIsCrashedNamingTheSignal) {
  expect_failure(run("aborts"), ErrorCode::crashed, "SIGABRT");
}

TEST(WorkerPool, ASilentWorkerIsKilledAtTheLimit) {
  expect_failure(run("silent", request_of(), std::chrono::milliseconds(500)), ErrorCode::resource, "sent nothing");
}

}  // namespace
}  // namespace cinevault::worker
