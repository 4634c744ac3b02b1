// Where segments are cut: one rule shared by the encoders (which force an IDR frame there)
// and the segmenters (which start a new fragment there), so that segment k covers the same
// presentation time in every rendition.
//
// Segment k has the nominal duration ramp[k] while k < ramp.size(), then `segment_s`
// (the fast-start ramp: 1 s, 2 s, then 4 s). A boundary falls on the first output video
// frame at or after its nominal time, so with 29.97 fps the 1 s boundary is frame 30
// (1.001 s). Audio is cut at the AAC frame whose start is nearest that frame's time.
// A schedule can also be given its boundaries (a source whose packets pass through: its own
// keyframes start the segments): boundary k is then an exact time, the video segment starts
// at the first frame at or after it, and audio at the AAC frame nearest it, as above.
// Immutable after construction; safe to share between threads.
#pragma once

#include <cstdint>
#include <vector>

extern "C" {
#include <libavutil/rational.h>
}

#include "cinevault/core/result.hpp"

namespace cinevault::package {

class SegmentSchedule {
 public:
  // Errors: invalid_argument for a non-positive duration or frame rate.
  static Result<SegmentSchedule> create(std::vector<double> ramp_s, double segment_s, AVRational frame_rate);
  // Segment k (k >= 1) starts at starts[k - 1] (in `time_base`, strictly increasing, after
  // 0); the last segment runs to the end. Errors: invalid_argument.
  static Result<SegmentSchedule> from_boundaries(std::vector<std::int64_t> starts, AVRational time_base,
                                                 AVRational frame_rate);

  AVRational frame_rate() const { return frame_rate_; }
  // 1 / frame_rate: the unit of frame indexes below.
  AVRational frame_time_base() const { return av_inv_q(frame_rate_); }

  // The output frame index at which segment k starts (0 for k = 0); strictly increasing.
  std::int64_t start_frame(int k) const;

  // Where a packet of `time_base` starting at `pts` belongs: the segment number whose
  // start it has reached. Video: pts >= start of segment k. Audio (`duration` > 0): the
  // frame's start is at or past start(k) - duration/2, i.e. the frame nearest the boundary
  // opens the segment.
  int segment_of(std::int64_t pts, AVRational time_base) const;
  int segment_of_audio(std::int64_t pts, std::int64_t duration, AVRational time_base) const;

 private:
  SegmentSchedule(std::vector<std::int64_t> ramp_us, std::int64_t segment_us, AVRational frame_rate);
  std::int64_t nominal_start_us(int k) const;

  std::vector<std::int64_t> ramp_us_;
  std::int64_t segment_us_ = 0;
  AVRational frame_rate_{0, 1};
  // Given boundaries (from_boundaries), else empty: the ramp and segment_us_ decide.
  std::vector<std::int64_t> starts_;
  AVRational starts_time_base_{0, 1};
};

}  // namespace cinevault::package
