#include "cinevault/manifest/manifest.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fixtures.hpp"

namespace cinevault::manifest {
namespace {

using namespace testing;

constexpr FrameRate kNtsc{30000, 1001};

std::string media(const Version& version, const std::string& name) {
  auto text = hls_media(version, name, {});
  EXPECT_TRUE(text.has_value()) << text.error().message;
  return text.value_or("");
}

int target_duration(const std::string& playlist) {
  const std::string tag = "#EXT-X-TARGETDURATION:";
  const auto at = playlist.find(tag);
  EXPECT_NE(at, std::string::npos);
  return std::stoi(playlist.substr(at + tag.size()));
}

// A version of one rung and one audio with the first `count` segments (-1: complete).
Version clip(FrameRate rate, std::int64_t frames, int count, double target_s = 4) {
  Version version = version_of({video("720p", 1280, 720, 3000000, "avc1.64001f", rate, 90000, frames, count),
                                audio("audio_0", "eng", rate, frames, count)});
  version.target_segment_s = target_s;
  return version;
}

TEST(HlsMedia, TargetDurationNeverChangesAsSegmentsAreAppended) {
  for (FrameRate rate : {FrameRate{24000, 1001}, FrameRate{24, 1}, FrameRate{25, 1}, FrameRate{30000, 1001},
                         FrameRate{30, 1}, FrameRate{50, 1}, FrameRate{60000, 1001}, FrameRate{60, 1}}) {
    SCOPED_TRACE(rate.value());
    const std::int64_t frames = 95 * rate.num / rate.den;  // 95 s: 25 segments
    const int first = target_duration(media(clip(rate, frames, 1), "720p"));
    EXPECT_EQ(first, 4);
    for (int count = 2; count <= 25; ++count) {
      const Version version = clip(rate, frames, count);
      EXPECT_EQ(target_duration(media(version, "720p")), first) << count << " segments";
      EXPECT_EQ(target_duration(media(version, "audio_0")), first) << count << " segments";
    }
    EXPECT_EQ(target_duration(media(clip(rate, frames, -1), "720p")), first);
  }
}

TEST(HlsMedia, TargetDurationFollowsTheConfiguredTarget) {
  EXPECT_EQ(target_duration(media(clip(kNtsc, 600, 1, 6), "720p")), 6);
  EXPECT_EQ(target_duration(media(clip(kNtsc, 600, 1, 2), "720p")), 2);
  // 4.5 s segments can last 4.53 s: rounded, 5.
  EXPECT_EQ(target_duration(media(clip(kNtsc, 600, 1, 4.5), "720p")), 5);
}

TEST(HlsMedia, TargetDurationCoversALongerSegmentThanTheScheduleAllows) {
  Version version = clip(kNtsc, 600, 3);
  version.renditions[0].segments.back().duration = 6 * 90000;
  EXPECT_EQ(target_duration(media(version, "720p")), 6);
}

TEST(HlsMedia, CompletionOnlyAppendsEndlist) {
  const Version complete = clip(kNtsc, 600, -1);
  const int all = static_cast<int>(complete.renditions[0].segments.size());
  const Version growing = clip(kNtsc, 600, all);
  for (const char* name : {"720p", "audio_0"}) {
    const std::string before = media(growing, name);
    EXPECT_EQ(before.find("#EXT-X-ENDLIST"), std::string::npos);
    EXPECT_EQ(media(complete, name), before + "#EXT-X-ENDLIST\n");
  }
}

// A finished rendition of a version still growing (a passthrough top rung is done long before
// the encoded ones) gets no ENDLIST: Shaka would end the whole presentation at the shortest
// playlist it had read then.
TEST(HlsMedia, EndlistWaitsForEveryRendition) {
  Version version = clip(kNtsc, 600, -1);
  version.renditions.back().finished = false;
  for (const Rendition& rendition : version.renditions) {
    EXPECT_EQ(media(version, rendition.name).find("#EXT-X-ENDLIST"), std::string::npos) << rendition.name;
  }
  version.renditions.back().finished = true;
  for (const Rendition& rendition : version.renditions) {
    EXPECT_NE(media(version, rendition.name).find("#EXT-X-ENDLIST"), std::string::npos) << rendition.name;
  }
}

TEST(HlsMedia, GrowsByAppendingOnly) {
  std::string previous;
  for (int count = 1; count <= 6; ++count) {
    const std::string text = media(clip(kNtsc, 600, count), "720p");
    EXPECT_EQ(text.compare(0, previous.size(), previous), 0) << count;
    previous = text;
  }
}

TEST(HlsMedia, ListsSegmentsWithExactDurations) {
  const std::string text = media(clip(kNtsc, 600, 3), "720p");
  const std::string init = sha256_of("720p/init");
  EXPECT_NE(text.find("#EXT-X-MAP:URI=\"/objects/" + init + ".mp4\"\n"), std::string::npos);
  EXPECT_NE(text.find("#EXTINF:1.00100,\n/objects/" + sha256_of("720p/0") + ".m4s\n"
                      "#EXTINF:2.00200,\n/objects/" + sha256_of("720p/1") + ".m4s\n"
                      "#EXTINF:4.00400,\n/objects/" + sha256_of("720p/2") + ".m4s\n"),
            std::string::npos);
}

TEST(HlsMedia, UnknownRenditionIsNotFound) {
  auto text = hls_media(clip(kNtsc, 600, 2), "1080p", {});
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().code, ErrorCode::not_found);
}

TEST(HlsMedia, RenditionWithoutSegmentsIsUnavailable) {
  auto text = hls_media(clip(kNtsc, 600, 0), "720p", {});
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().code, ErrorCode::unavailable);
}

// A player that starts on the start rung needs it and the audio; the others' playlists
// follow (the daemon holds their requests until their first segment is stored).
TEST(HlsMaster, AvailableOnceTheAudioAndTheStartRungHaveASegment) {
  auto three_rungs = [] {
    return version_of({video("1080p", 1920, 1080, 6000000, "avc1.640028", kNtsc, 90000, 600, 1),
                       video("240p", 426, 240, 400000, "avc1.640015", kNtsc, 90000, 600, 1),
                       video("480p", 854, 480, 1400000, "avc1.64001e", kNtsc, 90000, 600, 1),
                       audio("audio_0", "eng", kNtsc, 600, 1)});
  };
  Version version = three_rungs();
  version.renditions[0].segments.clear();
  version.renditions[2].segments.clear();
  auto text = hls_master(version, {});
  ASSERT_TRUE(text.has_value()) << text.error().message;
  for (const char* name : {"/1080p.m3u8", "/480p.m3u8", "/240p.m3u8", "/audio_0.m3u8"})
    EXPECT_NE(text->find(name), std::string::npos) << name << " is listed before its first segment";

  for (std::size_t missing : {1u, 3u}) {  // the start rung (the smallest), the audio
    version = three_rungs();
    version.renditions[missing].segments.clear();
    text = hls_master(version, {});
    ASSERT_FALSE(text.has_value()) << version.renditions[missing].name;
    EXPECT_EQ(text.error().code, ErrorCode::unavailable);
  }

  // The rung marked start is the one needed, whatever its height.
  version = three_rungs();
  version.renditions[1].start = false;
  version.renditions[2].start = true;
  version.renditions[1].segments.clear();
  EXPECT_TRUE(hls_master(version, {}).has_value()) << "240p is not the start rung";
  version.renditions[2].segments.clear();
  EXPECT_FALSE(hls_master(version, {}).has_value()) << "480p is";
}

TEST(HlsMaster, VariantsTallestFirstWhateverTheInputOrder) {
  Version version = version_of({video("240p", 426, 240, 400000, "avc1.640015", kNtsc, 90000, 600, 1),
                                video("1080p", 1920, 1080, 6000000, "avc1.640028", kNtsc, 90000, 600, 1),
                                video("480p", 854, 480, 1400000, "avc1.64001e", kNtsc, 90000, 600, 1)});
  auto text = hls_master(version, {});
  ASSERT_TRUE(text.has_value()) << text.error().message;
  const auto p1080 = text->find("/1080p.m3u8");
  const auto p480 = text->find("/480p.m3u8");
  const auto p240 = text->find("/240p.m3u8");
  EXPECT_LT(p1080, p480);
  EXPECT_LT(p480, p240);
  // No audio: no AUDIO group, no audio codec.
  EXPECT_EQ(text->find("AUDIO"), std::string::npos);
  EXPECT_NE(text->find("BANDWIDTH=6000000,CODECS=\"avc1.640028\",RESOLUTION=1920x1080,FRAME-RATE=29.970\n"),
            std::string::npos);
}

TEST(HlsMaster, AverageBandwidthOnlyWhenMeasured) {
  auto growing = hls_master(clip(kNtsc, 600, 2), {});
  ASSERT_TRUE(growing.has_value());
  EXPECT_EQ(growing->find("AVERAGE-BANDWIDTH"), std::string::npos);
  EXPECT_NE(growing->find("BANDWIDTH=3128000,"), std::string::npos);  // video peak + audio peak

  auto complete = hls_master(clip(kNtsc, 600, -1), {});
  ASSERT_TRUE(complete.has_value());
  EXPECT_NE(complete->find("BANDWIDTH=3128000,AVERAGE-BANDWIDTH=2229000,"), std::string::npos);  // 2100000 + 129000
}

TEST(HlsMaster, UnknownOrMalformedLanguageIsLeftOut) {
  for (const char* language : {"", "und", "en\",URI=\"http://evil", "e"}) {
    Version version = clip(kNtsc, 600, 1);
    version.renditions[1].language = language;
    auto text = hls_master(version, {});
    ASSERT_TRUE(text.has_value());
    EXPECT_EQ(text->find("LANGUAGE"), std::string::npos) << language;
    EXPECT_EQ(text->find("evil"), std::string::npos);
  }
}

TEST(Manifest, BrokenDataIsAnInternalError) {
  using Break = void (*)(Version&);
  const std::vector<std::pair<const char*, Break>> cases = {
      {"unsafe rendition name", [](Version& v) { v.renditions[0].name = "72\"0p"; }},
      {"dot-dot name", [](Version& v) { v.renditions[0].name = ".."; }},
      {"unsafe video id", [](Version& v) { v.video_id = "a/b"; }},
      {"duplicate name", [](Version& v) { v.renditions[1].name = "720p"; }},
      {"uppercase hash", [](Version& v) { v.renditions[0].segments[0].sha256[0] = 'A'; }},
      {"short init hash", [](Version& v) { v.renditions[0].init_sha256.pop_back(); }},
      {"gap", [](Version& v) { v.renditions[0].segments[1].start += 1; }},
      {"zero duration", [](Version& v) { v.renditions[0].segments[1].duration = 0; }},
      {"timescale 0", [](Version& v) { v.renditions[0].timescale = 0; }},
      {"codecs with a quote", [](Version& v) { v.renditions[0].codecs = "avc1\""; }},
      {"unknown kind", [](Version& v) { v.renditions[0].kind = static_cast<TrackKind>(2); }},
      {"no video", [](Version& v) { v.renditions.erase(v.renditions.begin()); }},
      {"no start rendition", [](Version& v) { v.renditions[0].start = false; }},
      {"two start renditions", [](Version& v) {
         Rendition other = v.renditions[0];
         other.name = "360p";
         v.renditions.push_back(other);
       }},
      {"audio start rendition", [](Version& v) { v.renditions[1].start = true; }},
      {"finished without segments", [](Version& v) {
         v.renditions[1].finished = true;
         v.renditions[1].segments.clear();
       }},
      {"no target", [](Version& v) { v.target_segment_s = 0; }},
  };
  for (const auto& [what, breaker] : cases) {
    Version version = clip(kNtsc, 600, 3);
    breaker(version);
    for (const auto& text : {hls_master(version, {}), hls_media(version, "audio_0", {}), dash_mpd(version, {})}) {
      ASSERT_FALSE(text.has_value()) << what;
      EXPECT_EQ(text.error().code, ErrorCode::internal) << what;
    }
  }
}

TEST(Manifest, BaseUrlWithForbiddenCharactersIsRejected) {
  for (const char* base : {"https://x/\"", "https://x y", "https://x/$Time$", "https://x/\n"}) {
    auto text = hls_master(clip(kNtsc, 600, 1), Options{base, ""});
    ASSERT_FALSE(text.has_value()) << base;
    EXPECT_EQ(text.error().code, ErrorCode::invalid_argument);
  }
}

TEST(Manifest, BaseUrlPrefixesEveryUrl) {
  const Version version = clip(kNtsc, 600, 2);
  const Options options{"https://cdn.example.com/cv", ""};
  auto master = hls_master(version, options);
  auto playlist = hls_media(version, "720p", options);
  auto mpd = dash_mpd(version, options);
  ASSERT_TRUE(master && playlist && mpd);
  EXPECT_NE(master->find("\nhttps://cdn.example.com/cv/videos/3f9c2a7b1d4e8f60/v3/720p.m3u8\n"), std::string::npos);
  EXPECT_NE(playlist->find("URI=\"https://cdn.example.com/cv/objects/"), std::string::npos);
  EXPECT_NE(playlist->find("\nhttps://cdn.example.com/cv/objects/"), std::string::npos);
  EXPECT_NE(mpd->find("media=\"https://cdn.example.com/cv/videos/3f9c2a7b1d4e8f60/v3/$RepresentationID$/$Time$.m4s\""),
            std::string::npos);
  EXPECT_NE(mpd->find("value=\"https://cdn.example.com/cv/api/v1/time\""), std::string::npos);
}

}  // namespace
}  // namespace cinevault::manifest
