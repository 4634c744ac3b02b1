#include "cinevault/manifest/manifest.hpp"

#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fixtures.hpp"

namespace cinevault::manifest {
namespace {

using namespace testing;

constexpr FrameRate kNtsc{30000, 1001};

std::string mpd(const Version& version) {
  auto text = dash_mpd(version, {});
  EXPECT_TRUE(text.has_value()) << text.error().message;
  return text.value_or("");
}

// One video rendition (timescale 90000) whose segments have these durations.
Version with_durations(const std::vector<std::int64_t>& durations, bool finished) {
  Rendition rendition = video("720p", 1280, 720, 3000000, "avc1.64001f", kNtsc, 90000, 600, 0);
  std::int64_t start = 0;
  for (std::size_t i = 0; i < durations.size(); ++i) {
    rendition.segments.push_back(Segment{static_cast<int>(i), start, durations[i], 0, sha256_of(std::to_string(i))});
    start += durations[i];
  }
  rendition.finished = finished;
  return version_of({rendition});
}

std::string timeline(const std::string& text) {
  const auto begin = text.find("<SegmentTimeline>");
  const auto end = text.find("</SegmentTimeline>");
  EXPECT_NE(begin, std::string::npos);
  return std::regex_replace(text.substr(begin, end - begin), std::regex("\\s+"), " ");
}

TEST(DashMpd, TimelineCompressesRunsOfEqualDurations) {
  EXPECT_EQ(timeline(mpd(with_durations({90090, 180180, 360360, 360360, 360360, 360360, 90090}, true))),
            "<SegmentTimeline> <S t=\"0\" d=\"90090\"/> <S d=\"180180\"/> <S d=\"360360\" r=\"3\"/> "
            "<S d=\"90090\"/> ");
  EXPECT_EQ(timeline(mpd(with_durations({5, 5, 5}, false))), "<SegmentTimeline> <S t=\"0\" d=\"5\" r=\"2\"/> ");
  EXPECT_EQ(timeline(mpd(with_durations({5, 6, 5, 6}, false))),
            "<SegmentTimeline> <S t=\"0\" d=\"5\"/> <S d=\"6\"/> <S d=\"5\"/> <S d=\"6\"/> ");
}

TEST(DashMpd, TimelineStartsAtTheFirstSegment) {
  Version version = with_durations({100, 100}, false);
  for (Segment& segment : version.renditions[0].segments) segment.start += 1000;
  EXPECT_EQ(timeline(mpd(version)), "<SegmentTimeline> <S t=\"1000\" d=\"100\" r=\"1\"/> ");
}

TEST(DashMpd, CompleteVersionIsStaticWithItsDuration) {
  const Version version = version_of({video("720p", 1280, 720, 3000000, "avc1.64001f", kNtsc, 90000, 600, -1),
                                      audio("audio_0", "eng", kNtsc, 600, -1)});
  const std::string text = mpd(version);
  EXPECT_NE(text.find(" type=\"static\" "), std::string::npos);
  // Video: 600 frames = 20.020 s; audio: 939 AAC frames = 20.032 s: the later end wins.
  EXPECT_NE(text.find(" mediaPresentationDuration=\"PT20.032S\" "), std::string::npos);
  for (const char* dynamic_only : {"minimumUpdatePeriod", "UTCTiming", "availabilityStartTime", "publishTime",
                                   "timeShiftBufferDepth", "dynamic"}) {
    EXPECT_EQ(text.find(dynamic_only), std::string::npos) << dynamic_only;
  }
}

TEST(DashMpd, DurationOverAMinute) {
  const std::string text = mpd(with_durations({90000 * 60, 90000 * 4, 45000}, true));
  EXPECT_NE(text.find(" mediaPresentationDuration=\"PT1M4.500S\" "), std::string::npos);
}

TEST(DashMpd, GrowingVersionIsDynamicAndAnchoredToItsCreation) {
  Version version = with_durations({90090, 180180}, false);
  version.created_at_ms = kCreatedAtMs + 750;  // rounded down to the second, then a day back
  version.updated_at_ms = kCreatedAtMs + 5125;
  const std::string text = mpd(version);
  EXPECT_NE(text.find(" type=\"dynamic\" availabilityStartTime=\"2026-11-22T10:00:00Z\" "
                      "publishTime=\"2026-11-23T10:00:05.125Z\" minimumUpdatePeriod=\"PT1S\" "),
            std::string::npos);
  EXPECT_NE(text.find("<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-iso:2014\" value=\"/api/v1/time\"/>"),
            std::string::npos);
  EXPECT_EQ(text.find("mediaPresentationDuration"), std::string::npos);

  // The anchor does not move as the version grows; only publishTime does.
  Version later = with_durations({90090, 180180, 360360}, false);
  later.created_at_ms = version.created_at_ms;
  later.updated_at_ms = version.updated_at_ms + 4000;
  EXPECT_NE(mpd(later).find("availabilityStartTime=\"2026-11-22T10:00:00Z\""), std::string::npos);
}

TEST(DashMpd, OneRenditionStillGrowingKeepsItDynamic) {
  Version version = version_of({video("720p", 1280, 720, 3000000, "avc1.64001f", kNtsc, 90000, 600, -1),
                                audio("audio_0", "eng", kNtsc, 600, 5)});
  EXPECT_NE(mpd(version).find(" type=\"dynamic\" "), std::string::npos);
}

TEST(DashMpd, FrameRatesAreDashRationals) {
  for (const auto& [rate, text] : std::vector<std::pair<FrameRate, std::string>>{
           {{30000, 1001}, "30000/1001"}, {{24000, 1001}, "24000/1001"}, {{25, 1}, "25"}, {{25, 2}, "25/2"}}) {
    const std::string manifest =
        mpd(version_of({video("720p", 1280, 720, 3000000, "avc1.64001f", rate, 90000, 600, 2)}));
    EXPECT_NE(manifest.find(" frameRate=\"" + text + "\" "), std::string::npos) << text;
    EXPECT_NE(manifest.find(" maxFrameRate=\"" + text + "\""), std::string::npos) << text;
  }
}

TEST(DashMpd, UnavailableUntilEveryRenditionHasASegment) {
  Version version = version_of({video("720p", 1280, 720, 3000000, "avc1.64001f", kNtsc, 90000, 600, 2),
                                audio("audio_0", "eng", kNtsc, 600, 0)});
  auto text = dash_mpd(version, {});
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().code, ErrorCode::unavailable);
}

}  // namespace
}  // namespace cinevault::manifest
