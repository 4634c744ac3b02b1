#include <algorithm>
#include <functional>

#include <gtest/gtest.h>

#include "cinevault/media/transcode.hpp"

namespace cinevault::media {
namespace {

MediaInfo source(int width, int height, std::string rate = "25/1", std::string sar = "1:1", int rotation = 0,
                 std::string field_order = "progressive") {
  MediaInfo info;
  info.video_stream = 0;
  StreamInfo video;
  video.index = 0;
  video.type = "video";
  video.width = width;
  video.height = height;
  video.frame_rate_exact = rate;
  video.sample_aspect_ratio = sar;
  video.rotation_deg = rotation;
  video.field_order = field_order;
  info.streams.push_back(video);
  return info;
}

void add_audio(MediaInfo& info, std::string language) {
  StreamInfo audio;
  audio.index = static_cast<int>(info.streams.size());
  audio.type = "audio";
  audio.channels = 2;
  audio.sample_rate = 44100;
  audio.language = std::move(language);
  info.streams.push_back(audio);
}

std::vector<std::string> sizes(const LadderPlan& plan) {
  std::vector<std::string> out;
  for (const PlannedRung& rung : plan.video)
    out.push_back(std::to_string(rung.width) + "x" + std::to_string(rung.height));
  return out;
}

// A phone's 1080p H.264: what passes through as it is.
MediaInfo phone_h264() {
  MediaInfo info = source(1920, 1080, "30/1");
  StreamInfo& video = info.streams[0];
  video.codec = "h264";
  video.profile = "High";
  video.level = 40;
  video.pixel_format = "yuv420p";
  video.bit_rate = 17'000'000;
  return info;
}

TEST(Passthrough, APhonesH264PassesThroughAsTheTopRung) {
  auto plan = plan_ladder(phone_h264(), default_ladder());
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->passthrough) << passthrough_refusal(phone_h264(), *plan);
  LadderConfig off = default_ladder();
  off.passthrough = false;
  EXPECT_FALSE(plan_ladder(phone_h264(), off)->passthrough);
}

TEST(Passthrough, AnHdrH264IsToneMappedNotPassedThrough) {
  MediaInfo info = phone_h264();
  info.streams[0].color_transfer = "arib-std-b67";
  auto plan = plan_ladder(info, default_ladder());
  ASSERT_TRUE(plan);
  EXPECT_FALSE(plan->passthrough);
  EXPECT_EQ(passthrough_refusal(info, *plan), "the video is HDR: the rungs are tone-mapped to SDR");
}

TEST(Passthrough, WhatBrowsersCannotPlayAsItIsIsEncoded) {
  struct Case {
    const char* why;
    std::function<void(StreamInfo&)> change;
    const char* refusal;
  };
  const std::vector<Case> cases = {
      {"HEVC", [](StreamInfo& v) { v.codec = "hevc"; }, "not H.264"},
      {"10-bit", [](StreamInfo& v) { v.profile = "High 10"; }, "profile"},
      {"4:2:2", [](StreamInfo& v) { v.pixel_format = "yuv422p"; }, "4:2:0"},
      {"level 6.1", [](StreamInfo& v) { v.level = 61; }, "level"},
      {"interlaced", [](StreamInfo& v) { v.field_order = "tt"; }, "progressive"},
      {"portrait by its matrix", [](StreamInfo& v) { v.rotation_deg = 90; }, "turned"},
      {"anamorphic", [](StreamInfo& v) { v.sample_aspect_ratio = "4:3"; }, "square"},
      {"not a rung's size", [](StreamInfo& v) { v.width = 1940, v.height = 1090; }, "top rung"},
      {"120 fps (rungs at 60)", [](StreamInfo& v) { v.frame_rate_exact = "120/1"; }, "frame rate"},
      {"too dense", [](StreamInfo& v) { v.bit_rate = 40'000'000; }, "bitrate"},
  };
  for (const Case& c : cases) {
    MediaInfo info = phone_h264();
    c.change(info.streams[0]);
    auto plan = plan_ladder(info, default_ladder());
    ASSERT_TRUE(plan) << c.why;
    EXPECT_FALSE(plan->passthrough) << c.why;
    EXPECT_NE(passthrough_refusal(info, *plan).find(c.refusal), std::string::npos)
        << c.why << ": " << passthrough_refusal(info, *plan);
  }
  // Below 360p there is one rung, the start rung: it is encoded.
  MediaInfo tiny = phone_h264();
  tiny.streams[0].width = 320;
  tiny.streams[0].height = 180;
  EXPECT_FALSE(plan_ladder(tiny, default_ladder())->passthrough);
}

// A 10-bit HEVC HDR source (transfer "smpte2084" or "arib-std-b67").
MediaInfo hdr_hevc(const std::string& transfer) {
  MediaInfo info = source(1920, 1080, "30/1");
  StreamInfo& video = info.streams[0];
  video.codec = "hevc";
  video.pixel_format = "yuv420p10le";
  video.bit_depth = 10;
  video.color_primaries = "bt2020";
  video.color_transfer = transfer;
  video.color_space = "bt2020nc";
  video.color_range = "tv";
  return info;
}

TEST(PlanColour, PqIsToneMappedFromTheContentsPeakElseTheMasteringDisplays) {
  MediaInfo info = hdr_hevc("smpte2084");
  StreamInfo& video = info.streams[0];
  video.mastering_max_nits = 4000;
  video.max_cll = 1600;
  auto plan = plan_ladder(info, default_ladder());
  ASSERT_TRUE(plan);
  const ColourPlan& colour = plan->colour;
  EXPECT_EQ(colour.tone_mapping, ToneMapping::pq);
  EXPECT_DOUBLE_EQ(colour.peak_nits, 1600);
  EXPECT_EQ(colour.source_primaries, AVCOL_PRI_BT2020);
  EXPECT_EQ(colour.source_matrix, AVCOL_SPC_BT2020_NCL);
  EXPECT_FALSE(colour.source_full_range);
  EXPECT_EQ(colour.primaries, AVCOL_PRI_BT709);
  EXPECT_EQ(colour.transfer, AVCOL_TRC_BT709);
  EXPECT_EQ(colour.matrix, AVCOL_SPC_BT709);
  // Every rung is tagged so.
  TranscodeRequest request;
  request.plan = *plan;
  VideoEncoderSettings settings = rung_encoder_settings(request, 0);
  EXPECT_EQ(settings.color_trc, AVCOL_TRC_BT709);

  video.max_cll = 0;
  EXPECT_DOUBLE_EQ(plan_colour(video).peak_nits, 4000);
  video.mastering_max_nits = 0;
  EXPECT_DOUBLE_EQ(plan_colour(video).peak_nits, 1000);  // what most HDR10 is mastered for
  video.max_cll = 40;  // nonsense for HDR: SDR white is the least
  EXPECT_DOUBLE_EQ(plan_colour(video).peak_nits, 100);
}

TEST(PlanColour, HlgIsToneMappedFromItsReferenceDisplaysPeak) {
  MediaInfo info = hdr_hevc("arib-std-b67");
  info.streams[0].max_cll = 4000;  // HLG is relative: its metadata does not move the peak
  ColourPlan colour = plan_colour(info.streams[0]);
  EXPECT_EQ(colour.tone_mapping, ToneMapping::hlg);
  EXPECT_DOUBLE_EQ(colour.peak_nits, 1000);
  EXPECT_EQ(colour.transfer, AVCOL_TRC_BT709);
}

TEST(PlanColour, DolbyVisionIsToneMappedByItsBaseLayer) {
  StreamInfo video = hdr_hevc("").streams[0];
  video.dolby_vision_profile = 8;
  video.dolby_vision_base = "hlg";
  EXPECT_EQ(plan_colour(video).tone_mapping, ToneMapping::hlg);
  video.dolby_vision_base = "hdr10";
  EXPECT_EQ(plan_colour(video).tone_mapping, ToneMapping::pq);
  video.dolby_vision_profile = 5;
  video.dolby_vision_base = "none";  // no base layer others can show: not tone-mapped
  EXPECT_EQ(plan_colour(video).tone_mapping, ToneMapping::none);
}

TEST(PlanColour, SdrKeepsItsTagsAndUnsetOnesAreGuessedBySize) {
  StreamInfo hd = source(1920, 1080).streams[0];
  ColourPlan colour = plan_colour(hd);
  EXPECT_EQ(colour.tone_mapping, ToneMapping::none);
  EXPECT_EQ(colour.primaries, AVCOL_PRI_BT709);
  EXPECT_EQ(colour.transfer, AVCOL_TRC_BT709);
  EXPECT_EQ(colour.matrix, AVCOL_SPC_BT709);
  StreamInfo sd = source(720, 576).streams[0];
  colour = plan_colour(sd);
  EXPECT_EQ(colour.primaries, AVCOL_PRI_SMPTE170M);
  EXPECT_EQ(colour.matrix, AVCOL_SPC_SMPTE170M);
  sd.color_primaries = "bt470bg";  // PAL says so: kept
  sd.color_space = "bt470bg";
  colour = plan_colour(sd);
  EXPECT_EQ(colour.primaries, AVCOL_PRI_BT470BG);
  EXPECT_EQ(colour.matrix, AVCOL_SPC_BT470BG);
  EXPECT_EQ(colour.transfer, AVCOL_TRC_SMPTE170M);
  // A 10-bit SDR source in BT.2020 is not HDR: its tags stay.
  StreamInfo wide = hdr_hevc("bt2020-10").streams[0];
  colour = plan_colour(wide);
  EXPECT_EQ(colour.tone_mapping, ToneMapping::none);
  EXPECT_EQ(colour.primaries, AVCOL_PRI_BT2020);
  EXPECT_EQ(colour.transfer, AVCOL_TRC_BT2020_10);
}

TEST(DefaultLadder, SevenRungsTallestFirstWithCappedVbv) {
  LadderConfig ladder = default_ladder();
  ASSERT_EQ(ladder.rungs.size(), 7u);
  EXPECT_EQ(ladder.rungs.front().name, "2160p");
  EXPECT_EQ(ladder.rungs.back().name, "240p");
  for (const RungSpec& rung : ladder.rungs) {
    EXPECT_GT(rung.maxrate_kbps, rung.bitrate_kbps) << rung.name;
    EXPECT_GT(rung.bufsize_kbits, rung.maxrate_kbps) << rung.name;
  }
  auto hd = std::find_if(ladder.rungs.begin(), ladder.rungs.end(), [](const RungSpec& r) { return r.height == 1080; });
  EXPECT_EQ(hd->bitrate_kbps, 5000);
  EXPECT_EQ(hd->maxrate_kbps, 5350);
  EXPECT_EQ(hd->bufsize_kbits, 7500);
  EXPECT_EQ(ladder.segment_s, 4.0);
  EXPECT_EQ(ladder.first_segments_s, (std::vector<double>{1.0, 2.0}));
}

TEST(PlanLadder, FullHdGetsEveryRungUpTo1080pAndNeverUpscales) {
  auto plan = plan_ladder(source(1920, 1080), default_ladder());
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(sizes(*plan), (std::vector<std::string>{"1920x1080", "1280x720", "854x480", "640x360", "426x240"}));
  EXPECT_EQ(plan->video.front().spec.name, "1080p");
  // Players start on the smallest rung: it is made first and publishes the version.
  EXPECT_EQ(plan->start_rung, 4u);
  EXPECT_EQ(plan->frame_rate_num, 25);
  EXPECT_EQ(plan->frame_rate_den, 1);
  EXPECT_FALSE(plan->deinterlace);
  EXPECT_TRUE(plan->audio_streams.empty());
}

TEST(PlanLadder, DimensionsAreEvenAndKeepTheAspectRatio) {
  // 2.39:1 scope and an odd size.
  auto plan = plan_ladder(source(1917, 801), default_ladder());
  ASSERT_TRUE(plan.has_value());
  for (const PlannedRung& rung : plan->video) {
    EXPECT_EQ(rung.width % 2, 0);
    EXPECT_EQ(rung.height % 2, 0);
    EXPECT_LE(rung.width, 1917);
    EXPECT_LE(rung.height, 801);
    EXPECT_NEAR(static_cast<double>(rung.width) / rung.height, 1917.0 / 801, 0.02) << rung.width << "x" << rung.height;
  }
  EXPECT_EQ(plan->video.front().spec.name, "1080p");  // fits the 1920x1080 box at source size
  EXPECT_EQ(sizes(*plan).front(), "1916x800");
}

TEST(PlanLadder, SmallSourceGetsOneRungAtItsOwnSize) {
  auto plan = plan_ladder(source(321, 181), default_ladder());
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(sizes(*plan), (std::vector<std::string>{"320x180"}));
  EXPECT_EQ(plan->video[0].spec.name, "180p");
  EXPECT_EQ(plan->video[0].spec.bitrate_kbps, 300);
  EXPECT_EQ(plan->start_rung, 0u);
}

TEST(PlanLadder, RotatedPhoneVideoIsPortrait) {
  // A phone's 1920x1080 picture with a 90 degree display matrix: shown 1080x1920.
  auto plan = plan_ladder(source(1920, 1080, "30/1", "1:1", 90), default_ladder());
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->rotation_deg, 90);
  EXPECT_EQ(sizes(*plan), (std::vector<std::string>{"1080x1920", "720x1280", "480x854", "360x640", "240x426"}));
  EXPECT_EQ(plan->video.front().spec.name, "1080p");
  auto upside_down = plan_ladder(source(1280, 720, "30/1", "1:1", 180), default_ladder());
  EXPECT_EQ(sizes(*upside_down).front(), "1280x720");
  auto other_way = plan_ladder(source(640, 360, "30/1", "1:1", 270), default_ladder());
  EXPECT_EQ(sizes(*other_way).front(), "360x640");
}

TEST(PlanLadder, AnamorphicSourceUsesTheDisplayAspectRatio) {
  // PAL 16:9 DVD: 720x576 with 64:45 pixels is shown at 1024x576.
  auto plan = plan_ladder(source(720, 576, "25/1", "64:45"), default_ladder());
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(sizes(*plan), (std::vector<std::string>{"854x480", "640x360", "426x240"}));
  // 4:3 NTSC DV with narrow pixels: 720x480 at 8:9 is shown at 640x480.
  auto dv = plan_ladder(source(720, 480, "30000/1001", "8:9"), default_ladder());
  EXPECT_EQ(sizes(*dv).front(), "640x480");
}

TEST(PlanLadder, FrameRates) {
  auto ntsc = plan_ladder(source(640, 360, "30000/1001"), default_ladder());
  EXPECT_EQ(ntsc->frame_rate_num, 30000);
  EXPECT_EQ(ntsc->frame_rate_den, 1001);
  EXPECT_NEAR(ntsc->frame_rate, 29.97, 0.01);
  auto fast = plan_ladder(source(640, 360, "120/1"), default_ladder());
  EXPECT_EQ(fast->frame_rate_num, 60);
  auto fast_ntsc = plan_ladder(source(640, 360, "120000/1001"), default_ladder());
  EXPECT_EQ(fast_ntsc->frame_rate_num, 60000);
  EXPECT_EQ(fast_ntsc->frame_rate_den, 1001);
  // A phone's variable frame rate averages to an odd fraction: snapped to the nearest
  // common rate (29.875 -> 29.97).
  auto vfr = plan_ladder(source(640, 360, "1800000/60251"), default_ladder());
  EXPECT_EQ(vfr->frame_rate_num, 30000);
  EXPECT_EQ(vfr->frame_rate_den, 1001);
  auto vfr_pal = plan_ladder(source(640, 360, "2500000/100333"), default_ladder());  // 24.917
  EXPECT_EQ(vfr_pal->frame_rate_num, 25);
  auto unknown = plan_ladder(source(640, 360, ""), default_ladder());
  EXPECT_EQ(unknown->frame_rate_num, 30);
  // Above 30 fps the bitrates are 1.5x.
  auto sixty = plan_ladder(source(1280, 720, "60/1"), default_ladder());
  EXPECT_EQ(sixty->video.front().spec.bitrate_kbps, 4200);
}

TEST(PlanLadder, InterlacedSourcesAreDeinterlaced) {
  for (const char* order : {"tt", "bb", "tb", "bt"})
    EXPECT_TRUE(plan_ladder(source(720, 576, "25/1", "1:1", 0, order), default_ladder())->deinterlace) << order;
  EXPECT_FALSE(plan_ladder(source(720, 576, "25/1", "1:1", 0, "unknown"), default_ladder())->deinterlace);
}

TEST(PlanLadder, OneAudioRenditionPerAudioStream) {
  MediaInfo info = source(640, 360);
  add_audio(info, "eng");
  add_audio(info, "deu");
  auto plan = plan_ladder(info, default_ladder());
  EXPECT_EQ(plan->audio_streams, (std::vector<int>{1, 2}));
}

TEST(EncoderThreads, TheTopRungGetsItsShareOfTheCoresAndEveryRungAtLeastOne) {
  auto plan = plan_ladder(source(1920, 1080), default_ladder());
  ASSERT_TRUE(plan.has_value());
  ASSERT_EQ(plan->video.size(), 5u);  // 1080p (55 % of the pixels), 720p, 480p, 360p, 240p
  EXPECT_EQ(encoder_threads(*plan, 2), (std::vector<int>{2, 1, 1, 1, 1}));
  EXPECT_EQ(encoder_threads(*plan, 1), (std::vector<int>{1, 1, 1, 1, 1}));
  EXPECT_EQ(encoder_threads(*plan, 8), (std::vector<int>{5, 2, 1, 1, 1}));
  EXPECT_EQ(encoder_threads(*plan, 0), (std::vector<int>{1, 1, 1, 1, 1}));  // at least one

  auto single = plan_ladder(source(320, 240), default_ladder());
  ASSERT_TRUE(single.has_value());
  EXPECT_EQ(encoder_threads(*single, 4), (std::vector<int>{4}));  // one rung: all of them
}

TEST(PlanLadder, Errors) {
  MediaInfo no_video = source(640, 360);
  no_video.video_stream = -1;
  EXPECT_EQ(plan_ladder(no_video, default_ladder()).error().code, ErrorCode::unprocessable);
  LadderConfig empty;
  EXPECT_EQ(plan_ladder(source(640, 360), empty).error().code, ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace cinevault::media
