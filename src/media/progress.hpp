// A job's progress (internal to media/): how far the slowest rung is through the source's
// expected frames, the decode rate, and the time left, passed to the caller's callback at
// most twice a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "cinevault/media/transcode.hpp"

namespace cinevault::media {

class ProgressReporter {
 public:
  using Clock = std::chrono::steady_clock;

  ProgressReporter(const std::function<void(const TranscodeProgress&)>& callback, double expected_frames)
      : callback_(callback), expected_frames_(expected_frames) {}

  Clock::time_point started() const { return started_; }
  double elapsed_s() const { return std::chrono::duration<double>(Clock::now() - started_).count(); }

  // `stage`: "opening", "encoding", "finishing" or "done" (100 %). Unless `force`, nothing
  // happens within half a second of the last report.
  void report(const char* stage, std::int64_t frames_encoded, std::int64_t frames_decoded, bool force);

 private:
  const std::function<void(const TranscodeProgress&)>& callback_;
  double expected_frames_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point last_{};
};

}  // namespace cinevault::media
