#include "messages.hpp"

#include <gtest/gtest.h>

namespace cinevault::worker::messages {
namespace {

Rendition video(bool start) {
  Rendition r;
  r.name = "720p";
  r.kind = TrackKind::video;
  r.codecs = "avc1.64001f";
  r.width = 1280;
  r.height = 720;
  r.frame_rate = 29.97;
  r.bandwidth_bps = 3000000;
  r.timescale = 30000;
  r.start = start;
  return r;
}

Rendition audio() {
  Rendition r;
  r.name = "audio_0";
  r.kind = TrackKind::audio;
  r.codecs = "mp4a.40.2";
  r.bandwidth_bps = 128000;
  r.language = "eng";
  r.channels = 2;
  r.sample_rate = 48000;
  r.timescale = 48000;
  return r;
}

void expect_same(const Rendition& parsed, const Rendition& sent) {
  EXPECT_EQ(parsed.name, sent.name);
  EXPECT_EQ(parsed.kind, sent.kind);
  EXPECT_EQ(parsed.codecs, sent.codecs);
  EXPECT_EQ(parsed.width, sent.width);
  EXPECT_EQ(parsed.height, sent.height);
  EXPECT_DOUBLE_EQ(parsed.frame_rate, sent.frame_rate);
  EXPECT_EQ(parsed.bandwidth_bps, sent.bandwidth_bps);
  EXPECT_EQ(parsed.language, sent.language);
  EXPECT_EQ(parsed.channels, sent.channels);
  EXPECT_EQ(parsed.sample_rate, sent.sample_rate);
  EXPECT_EQ(parsed.timescale, sent.timescale);
  EXPECT_EQ(parsed.start, sent.start);
}

TEST(Messages, ARenditionComesThroughWithItsKindAndStart) {
  for (const Rendition& sent : {video(true), video(false), audio()}) {
    auto parsed = parse_rendition(init_event(sent));
    ASSERT_TRUE(parsed) << parsed.error().message;
    expect_same(*parsed, sent);
  }
}

TEST(Messages, AnUnknownKindIsRefused) {
  nlohmann::json header = init_event(video(true));
  header["kind"] = "subtitles";
  auto parsed = parse_rendition(header);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(parsed.error().message.find("'kind'"), std::string::npos) << parsed.error().message;
}

TEST(Messages, AStartThatIsNoBooleanIsRefused) {
  nlohmann::json header = init_event(video(true));
  header["start"] = 1;
  EXPECT_FALSE(parse_rendition(header));
  header.erase("start");
  auto parsed = parse_rendition(header);
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("'start'"), std::string::npos) << parsed.error().message;
}

TEST(Messages, ASegmentComesThrough) {
  Segment sent;
  sent.number = 3;
  sent.start = 360000;
  sent.duration = 120000;
  auto parsed = parse_segment(segment_event(video(true), sent));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->number, 3);
  EXPECT_EQ(parsed->start, 360000);
  EXPECT_EQ(parsed->duration, 120000);
}

}  // namespace
}  // namespace cinevault::worker::messages
