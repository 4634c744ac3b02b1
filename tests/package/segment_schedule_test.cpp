#include "cinevault/package/segment_schedule.hpp"

#include <limits>

#include <gtest/gtest.h>

extern "C" {
#include <libavutil/mathematics.h>
}

namespace cinevault::package {
namespace {

SegmentSchedule make(AVRational rate, std::vector<double> ramp = {1.0, 2.0}, double segment_s = 4.0) {
  auto schedule = SegmentSchedule::create(std::move(ramp), segment_s, rate);
  EXPECT_TRUE(schedule.has_value());
  return *schedule;
}

TEST(SegmentSchedule, RampThenFixedAt25Fps) {
  SegmentSchedule schedule = make({25, 1});
  EXPECT_EQ(schedule.start_frame(0), 0);
  EXPECT_EQ(schedule.start_frame(1), 25);   // 1 s
  EXPECT_EQ(schedule.start_frame(2), 75);   // 3 s
  EXPECT_EQ(schedule.start_frame(3), 175);  // 7 s
  EXPECT_EQ(schedule.start_frame(4), 275);  // 11 s
}

TEST(SegmentSchedule, NtscBoundariesAreTheFirstFrameAtOrAfter) {
  SegmentSchedule schedule = make({30000, 1001});
  EXPECT_EQ(schedule.start_frame(1), 30);   // 29.97 -> frame 30 at 1.001 s
  EXPECT_EQ(schedule.start_frame(2), 90);   // 89.91
  EXPECT_EQ(schedule.start_frame(3), 210);  // 209.79
  AVRational tb{1001, 30000};
  EXPECT_EQ(schedule.segment_of(29, tb), 0);
  EXPECT_EQ(schedule.segment_of(30, tb), 1);
  EXPECT_EQ(schedule.segment_of(89, tb), 1);
  EXPECT_EQ(schedule.segment_of(90, tb), 2);
  EXPECT_EQ(schedule.segment_of(schedule.start_frame(10), tb), 10);
  EXPECT_EQ(schedule.segment_of(schedule.start_frame(10) - 1, tb), 9);
}

TEST(SegmentSchedule, SegmentOfMatchesStartFrameAtAnyTimeBase) {
  SegmentSchedule schedule = make({60000, 1001});
  for (int k = 1; k < 40; ++k) {
    std::int64_t frame = schedule.start_frame(k);
    EXPECT_EQ(schedule.segment_of(frame, schedule.frame_time_base()), k);
    EXPECT_EQ(schedule.segment_of(frame - 1, schedule.frame_time_base()), k - 1);
    // The same instant at 90 kHz: 1501.5 ticks per frame.
    std::int64_t ticks = av_rescale_q(frame, schedule.frame_time_base(), AVRational{1, 90000});
    EXPECT_EQ(schedule.segment_of(ticks, AVRational{1, 90000}), k);
  }
}

TEST(SegmentSchedule, AudioCutsAtTheNearestFrame) {
  SegmentSchedule schedule = make({25, 1});
  AVRational tb{1, 48000};
  // The 1 s boundary at 48 kHz is sample 48000 = frame 46.875: frame 47 (1.0027 s) is nearer
  // than frame 46 (0.9813 s).
  EXPECT_EQ(schedule.segment_of_audio(46 * 1024, 1024, tb), 0);
  EXPECT_EQ(schedule.segment_of_audio(47 * 1024, 1024, tb), 1);
  // 3 s = sample 144000 = frame 140.625: frame 141 starts 0.375 frames after, 140 0.625 before.
  EXPECT_EQ(schedule.segment_of_audio(140 * 1024, 1024, tb), 1);
  EXPECT_EQ(schedule.segment_of_audio(141 * 1024, 1024, tb), 2);
}

TEST(SegmentSchedule, NoRampIsFixedSegments) {
  SegmentSchedule schedule = make({24, 1}, {}, 2.0);
  EXPECT_EQ(schedule.start_frame(1), 48);
  EXPECT_EQ(schedule.start_frame(5), 240);
}

TEST(SegmentSchedule, GivenBoundariesCutAtExactTimesAndEncodersAtTheFrameAtOrAfter) {
  // A source's IDR frames at 1 s and 3.1 s, in a 1/15360 time base; the rungs at 30 fps.
  auto given = SegmentSchedule::from_boundaries({15360, 47616}, {1, 15360}, {30, 1});
  ASSERT_TRUE(given);
  EXPECT_EQ(given->start_frame(0), 0);
  EXPECT_EQ(given->start_frame(1), 30);
  EXPECT_EQ(given->start_frame(2), 93);  // 3.1 s
  EXPECT_EQ(given->start_frame(3), std::numeric_limits<std::int64_t>::max());  // the last runs to the end
  // The source's packets, in their own time base: exactly at and after each boundary.
  EXPECT_EQ(given->segment_of(15359, {1, 15360}), 0);
  EXPECT_EQ(given->segment_of(15360, {1, 15360}), 1);
  EXPECT_EQ(given->segment_of(47616, {1, 15360}), 2);
  EXPECT_EQ(given->segment_of(999999, {1, 15360}), 2);
  // The encoders' frames (1/30): the same segments as start_frame says.
  for (std::int64_t frame = 0; frame < 120; ++frame) {
    int k = given->segment_of(frame, {1, 30});
    EXPECT_GE(frame, given->start_frame(k)) << frame;
    EXPECT_LT(frame, given->start_frame(k + 1)) << frame;
  }
  // Audio: the AAC frame nearest the boundary opens the segment (1024 samples at 48 kHz).
  EXPECT_EQ(given->segment_of_audio(47104, 1024, {1, 48000}), 0);  // 0.981 s: its middle is before 1 s
  EXPECT_EQ(given->segment_of_audio(47616, 1024, {1, 48000}), 1);  // 0.992 s: its middle is past 1 s

  EXPECT_FALSE(SegmentSchedule::from_boundaries({0}, {1, 1000}, {30, 1}));
  EXPECT_FALSE(SegmentSchedule::from_boundaries({2000, 1000}, {1, 1000}, {30, 1}));
  EXPECT_FALSE(SegmentSchedule::from_boundaries({1000}, {0, 1}, {30, 1}));
  EXPECT_TRUE(SegmentSchedule::from_boundaries({}, {1, 1000}, {30, 1}));  // one segment
}

TEST(SegmentSchedule, RejectsNonsense) {
  EXPECT_FALSE(SegmentSchedule::create({1.0}, 0.0, {25, 1}).has_value());
  EXPECT_FALSE(SegmentSchedule::create({-1.0}, 4.0, {25, 1}).has_value());
  EXPECT_FALSE(SegmentSchedule::create({}, 4.0, {0, 1}).has_value());
}

}  // namespace
}  // namespace cinevault::package
