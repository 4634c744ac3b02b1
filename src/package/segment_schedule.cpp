#include "cinevault/package/segment_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <fmt/format.h>

extern "C" {
#include <libavutil/mathematics.h>
}

namespace cinevault::package {
namespace {

constexpr std::int64_t kMicroseconds = 1'000'000;
constexpr AVRational kMicrosecondBase{1, 1'000'000};

}  // namespace

Result<SegmentSchedule> SegmentSchedule::create(std::vector<double> ramp_s, double segment_s, AVRational frame_rate) {
  if (!(segment_s > 0) || !std::isfinite(segment_s))
    return fail(ErrorCode::invalid_argument, fmt::format("segment duration must be positive, not {}", segment_s));
  if (frame_rate.num <= 0 || frame_rate.den <= 0)
    return fail(ErrorCode::invalid_argument,
                fmt::format("frame rate must be positive, not {}/{}", frame_rate.num, frame_rate.den));
  std::vector<std::int64_t> ramp_us;
  for (double seconds : ramp_s) {
    if (!(seconds > 0) || !std::isfinite(seconds))
      return fail(ErrorCode::invalid_argument, fmt::format("ramp segment duration must be positive, not {}", seconds));
    ramp_us.push_back(std::llround(seconds * kMicroseconds));
  }
  return SegmentSchedule(std::move(ramp_us), std::llround(segment_s * kMicroseconds), frame_rate);
}

Result<SegmentSchedule> SegmentSchedule::from_boundaries(std::vector<std::int64_t> starts, AVRational time_base,
                                                         AVRational frame_rate) {
  if (frame_rate.num <= 0 || frame_rate.den <= 0 || time_base.num <= 0 || time_base.den <= 0)
    return fail(ErrorCode::invalid_argument, "the frame rate and time base must be positive");
  for (std::size_t i = 0; i < starts.size(); ++i)
    if (starts[i] <= (i == 0 ? 0 : starts[i - 1]))
      return fail(ErrorCode::invalid_argument, "segment boundaries must increase from after 0");
  SegmentSchedule schedule({}, 1, frame_rate);
  schedule.starts_ = std::move(starts);
  schedule.starts_time_base_ = time_base;
  return schedule;
}

SegmentSchedule::SegmentSchedule(std::vector<std::int64_t> ramp_us, std::int64_t segment_us, AVRational frame_rate)
    : ramp_us_(std::move(ramp_us)), segment_us_(segment_us), frame_rate_(frame_rate) {}

std::int64_t SegmentSchedule::nominal_start_us(int k) const {
  std::int64_t start = 0;
  int ramp = static_cast<int>(ramp_us_.size());
  for (int i = 0; i < k && i < ramp; ++i) start += ramp_us_[static_cast<std::size_t>(i)];
  if (k > ramp) start += static_cast<std::int64_t>(k - ramp) * segment_us_;
  return start;
}

std::int64_t SegmentSchedule::start_frame(int k) const {
  if (k <= 0) return 0;
  if (starts_time_base_.num > 0) {
    if (static_cast<std::size_t>(k) > starts_.size()) return std::numeric_limits<std::int64_t>::max();
    // The first frame at or after the boundary: ceil(t * rate).
    return av_rescale_rnd(starts_[static_cast<std::size_t>(k - 1)],
                          static_cast<std::int64_t>(starts_time_base_.num) * frame_rate_.num,
                          static_cast<std::int64_t>(starts_time_base_.den) * frame_rate_.den, AV_ROUND_UP);
  }
  // The first frame at or after the nominal time: ceil(t * rate).
  return av_rescale_rnd(nominal_start_us(k), frame_rate_.num,
                        static_cast<std::int64_t>(frame_rate_.den) * kMicroseconds, AV_ROUND_UP);
}

int SegmentSchedule::segment_of(std::int64_t pts, AVRational time_base) const {
  if (starts_time_base_.num > 0) {
    // The boundaries at or before pts, compared exactly.
    auto after = std::upper_bound(starts_.begin(), starts_.end(), pts, [&](std::int64_t t, std::int64_t start) {
      return av_compare_ts(t, time_base, start, starts_time_base_) < 0;
    });
    return static_cast<int>(after - starts_.begin());
  }
  // An estimate from the nominal grid, then exact steps against the frame boundaries.
  std::int64_t t_us = av_rescale_q(pts, time_base, kMicrosecondBase);
  int k = 0;
  std::int64_t ramp_end = nominal_start_us(static_cast<int>(ramp_us_.size()));
  if (t_us >= ramp_end) {
    k = static_cast<int>(ramp_us_.size() + static_cast<std::size_t>((t_us - ramp_end) / segment_us_));
  } else {
    while (k < static_cast<int>(ramp_us_.size()) && nominal_start_us(k + 1) <= t_us) ++k;
  }
  AVRational frame_base = frame_time_base();
  while (av_compare_ts(pts, time_base, start_frame(k + 1), frame_base) >= 0) ++k;
  while (k > 0 && av_compare_ts(pts, time_base, start_frame(k), frame_base) < 0) --k;
  return k;
}

int SegmentSchedule::segment_of_audio(std::int64_t pts, std::int64_t duration, AVRational time_base) const {
  // Compare the frame's midpoint: start + duration / 2 >= boundary, in half ticks.
  AVRational half_base{time_base.num, time_base.den * 2};
  return segment_of(2 * pts + duration, half_base);
}

}  // namespace cinevault::package
