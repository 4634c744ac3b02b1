#include "cinevault/media/transcode.hpp"

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "../package/cmaf_test_support.hpp"

extern "C" {
#include <libavutil/log.h>
}

namespace cinevault::media {
namespace {

namespace fs = std::filesystem;
using test::RecordingListener;

// Clips are made once per test process with the ffmpeg CLI, in a directory removed at exit.
class Clips : public ::testing::Environment {
 public:
  static test::TempDir& dir() {
    static test::TempDir made("media-transcode");
    return made;
  }
  void SetUp() override { av_log_set_level(AV_LOG_ERROR); }

  static fs::path get(const std::string& name) {
    static std::recursive_mutex mutex;
    static std::map<std::string, std::string> recipes = {
        {"basic.mp4",
         "-f lavfi -i testsrc2=size=320x240:rate=25:duration=8 -f lavfi -i "
         "sine=frequency=440:sample_rate=44100:duration=8 "
         "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -ac 2 -metadata:s:a:0 language=eng"},
        {"ntsc.mp4",
         "-f lavfi -i testsrc2=size=320x180:rate=30000/1001:duration=4 -f lavfi -i sine=sample_rate=48000:duration=4 "
         "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac"},
        {"upright.mp4",
         "-f lavfi -i testsrc2=size=320x180:rate=30:duration=2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p"},
        // A phone's clip: the picture is stored sideways with a display matrix. ffmpeg 5.1
        // writes the "rotate" tag as a matrix when stream copying.
        {"rotated.mp4", "-i upright.mp4 -c copy -metadata:s:v:0 rotate=90"},
        {"interlaced.mp4",
         "-f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "
         "-flags +ildct+ilme -x264-params tff=1"},
        {"two_audio.mkv",
         "-f lavfi -i testsrc2=size=256x144:rate=25:duration=3 -f lavfi -i sine=frequency=300:duration=3 "
         "-f lavfi -i sine=frequency=600:sample_rate=32000:duration=3 -map 0 -map 1 -map 2 -c:v libx264 "
         "-preset ultrafast -pix_fmt yuv420p -c:a aac -ac:a:1 6 -metadata:s:a:0 language=eng -metadata:s:a:1 "
         "language=deu"},
        // A tone from 3 s on, and the audio of 1-2 s missing: its timestamps jump by 1 s (a
        // recorder that dropped audio). In "audio_overlap" the audio from 2 s on is stamped
        // 0.5 s early instead, so the tone belongs at 2.5 s.
        {"audio_gap.mkv",
         "-f lavfi -i testsrc2=size=256x144:rate=25:duration=5 "
         "-f lavfi -i \"aevalsrc='if(gte(t,3),sin(2*PI*440*t),0)':s=48000:d=5\" "
         "-af \"aselect='not(between(t,1,2))'\" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac"},
        {"audio_overlap.mkv",
         "-f lavfi -i testsrc2=size=256x144:rate=25:duration=5 "
         "-f lavfi -i \"aevalsrc='if(gte(t,3),sin(2*PI*440*t),0)':s=48000:d=5\" "
         "-af \"asetpts='if(gte(T,2),PTS-0.5/TB,PTS)'\" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac"},
        // Two TS recordings joined with cat: the second starts 0.5 s before the first ends,
        // and its audio has a 1 s hole 0.2 s in (from 11.7 to 12.7 s).
        {"joined_1.ts",
         "-f lavfi -i testsrc2=size=256x144:rate=25:duration=2 -f lavfi -i sine=sample_rate=48000:duration=2 "
         "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -muxdelay 0 -muxpreload 0 -output_ts_offset 10"},
        {"joined_2.ts",
         "-f lavfi -i testsrc2=size=256x144:rate=25:duration=3 -f lavfi -i sine=sample_rate=48000:duration=3 "
         "-af \"aselect='not(between(t,0.2,1.2))'\" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac "
         "-muxdelay 0 -muxpreload 0 -output_ts_offset 11.5"},
        {"joined.ts", "cat joined_1.ts joined_2.ts"},
        {"audio_far.mkv",
         "-f lavfi -i testsrc2=size=256x144:rate=25:duration=2 -f lavfi -i sine=sample_rate=48000:duration=2 "
         "-af \"asetpts='if(gte(T,1),PTS+600/TB,PTS)'\" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac"},
        {"long.mp4",
         "-f lavfi -i testsrc2=size=640x360:rate=25:duration=30 -c:v libx264 -preset ultrafast -pix_fmt yuv420p"},
    };
    std::lock_guard lock(mutex);
    fs::path path = dir().path() / name;
    if (!fs::exists(path)) {
      std::string recipe = recipes.at(name);
      if (recipe.rfind("cat ", 0) == 0) {  // the bytes of other clips, one after the other
        std::ofstream out(path, std::ios::binary);
        std::istringstream parts(recipe.substr(4));
        for (std::string part; parts >> part;) out << std::ifstream(get(part), std::ios::binary).rdbuf();
        return path;
      }
      if (recipe.rfind("-i upright.mp4", 0) == 0) recipe.replace(3, 11, "'" + get("upright.mp4").string() + "'");
      EXPECT_TRUE(test::make_clip(path, recipe)) << name;
    }
    return path;
  }
};

[[maybe_unused]] const auto* const kClips = ::testing::AddGlobalTestEnvironment(new Clips);

// Two small rungs keep the suite fast; veryfast keeps x264's B-frames (what the timestamps
// must survive).
LadderConfig small_ladder() {
  LadderConfig ladder;
  ladder.rungs = {{"240p", 240, 300, 321, 450}, {"144p", 144, 150, 160, 225}};
  ladder.x264_preset = "veryfast";
  return ladder;
}

// A rendition as one file, its init segment then every segment, for the ffmpeg CLI to read.
fs::path write_whole(const test::RecordedRendition& rendition, const test::TempDir& dir, const std::string& name) {
  fs::path path = dir.path() / name;
  std::ofstream out(path, std::ios::binary);
  out << rendition.init;
  for (const auto& segment : rendition.segments) out << segment.bytes;
  return path;
}

struct Run {
  Result<TranscodeReport> result;
  RecordingListener listener;
  LadderPlan plan;
  MediaInfo info;
  std::vector<TranscodeProgress> progress;
};

std::unique_ptr<Run> transcode_clip(const std::string& name, LadderConfig ladder = small_ladder(),
                                    std::stop_token stop = {},
                                    EncoderPreference encoder = EncoderPreference::automatic) {
  auto run = std::make_unique<Run>();
  auto info = probe_file(Clips::get(name), MediaLimits{});
  EXPECT_TRUE(info.has_value()) << (info ? "" : info.error().message);
  if (!info) return run;
  run->info = *info;
  auto plan = plan_ladder(*info, ladder);
  EXPECT_TRUE(plan.has_value());
  run->plan = *plan;
  TranscodeRequest request;
  request.source = Clips::get(name);
  request.source_info = *info;
  request.plan = *plan;
  request.ladder = ladder;
  request.encoder = encoder;
  request.threads = 2;
  run->result = transcode(
      request, run->listener, [&](const TranscodeProgress& progress) { run->progress.push_back(progress); }, stop);
  return run;
}

// Checks what every rendition must satisfy and returns the video segment starts in seconds.
std::vector<double> check_video_rendition(const test::RecordedRendition& r, int width, int height) {
  SCOPED_TRACE(r.info.name);
  EXPECT_TRUE(r.order_errors.empty());
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.info.kind, TrackKind::video);
  EXPECT_EQ(r.info.width, width);
  EXPECT_EQ(r.info.height, height);
  EXPECT_GT(r.average_bandwidth_bps, 0);
  auto [default_duration, default_flags] = test::trex_defaults(r.init);
  const std::int64_t edit = test::edit_list_media_time(r.init);
  std::vector<double> starts;
  std::int64_t expected_start = 0;
  for (std::size_t i = 0; i < r.segments.size(); ++i) {
    const auto& segment = r.segments[i];
    SCOPED_TRACE("segment " + std::to_string(i));
    EXPECT_EQ(segment.info.number, static_cast<int>(i));
    EXPECT_EQ(segment.info.start, expected_start) << "contiguous";
    expected_start = segment.info.start + segment.info.duration;
    test::Fragment fragment = test::parse_fragment(segment.bytes, default_duration, default_flags, edit);
    EXPECT_TRUE(fragment.ok);
    EXPECT_EQ(static_cast<std::int64_t>(fragment.base_decode_time), segment.info.start) << "tfdt";
    if (fragment.samples.empty()) continue;
    EXPECT_TRUE(fragment.samples[0].sync) << "starts with an IDR frame";
    EXPECT_EQ(fragment.samples[0].presentation_time, segment.info.start);
    EXPECT_EQ(fragment.earliest_presentation(), segment.info.start);
    starts.push_back(static_cast<double>(segment.info.start) / r.info.timescale);
  }
  return starts;
}

// ffprobe on every init + segment pair: codec, size, keyframe first, codecs string.
void check_with_ffprobe(const RecordingListener& listener, const std::string& id, int width, int height) {
  SCOPED_TRACE(id);
  test::TempDir dir("transcode-out");
  const test::RecordedRendition& r = listener.renditions.at(id);
  for (const fs::path& path : listener.write_pairs(dir.path(), id)) {
    nlohmann::json probe = test::ffprobe(path, "-show_streams -show_packets");
    ASSERT_TRUE(probe.contains("streams")) << path;
    const nlohmann::json& stream = probe["streams"][0];
    EXPECT_EQ(stream["codec_name"], "h264");
    EXPECT_EQ(stream["width"], width);
    EXPECT_EQ(stream["height"], height);
    EXPECT_EQ(stream["profile"], "High");
    int level = stream["level"].get<int>();
    EXPECT_EQ(r.info.codecs, fmt::format("avc1.6400{:02x}", level)) << "codecs matches ffprobe's profile and level";
    ASSERT_FALSE(probe["packets"].empty());
    EXPECT_EQ(probe["packets"][0]["flags"].get<std::string>().substr(0, 1), "K");
  }
}

TEST(Transcode, LadderOfAlignedCmafRenditionsWithAudio) {
  auto run = transcode_clip("basic.mp4");
  ASSERT_TRUE(run->result.has_value()) << run->result.error().message;
  EXPECT_EQ(run->result->encoder_name, "libx264");
  EXPECT_FALSE(run->result->fallback_reason.empty()) << "no GPU here: auto says why it fell back";

  auto& renditions = run->listener.renditions;
  ASSERT_EQ(renditions.size(), 3u);
  if (const char* keep = std::getenv("CINEVAULT_KEEP_SEGMENTS")) run->listener.write_pairs(keep, "240p");
  auto top = check_video_rendition(renditions.at("240p"), 320, 240);
  auto low = check_video_rendition(renditions.at("144p"), 192, 144);
  // The ramp: 1 s, 2 s, then 4 s, and the 1 s left of 8 s; the same cut times in every rung.
  EXPECT_EQ(top, (std::vector<double>{0, 1, 3, 7}));
  EXPECT_EQ(low, top);
  EXPECT_TRUE(renditions.at("144p").info.start) << "players start on the last rung of the plan";
  EXPECT_FALSE(renditions.at("240p").info.start);
  EXPECT_FALSE(renditions.at("audio_0").info.start);
  const auto& segments = renditions.at("240p").segments;
  ASSERT_EQ(segments.size(), 4u);
  EXPECT_EQ(segments[0].info.duration, 90000);
  EXPECT_EQ(segments[1].info.duration, 180000);
  EXPECT_EQ(segments[2].info.duration, 360000);
  EXPECT_EQ(segments[3].info.duration, 90000);
  check_with_ffprobe(run->listener, "240p", 320, 240);
  check_with_ffprobe(run->listener, "144p", 192, 144);

  // The first segment comes from an encoder of its own, flushed at the segment's end (the
  // fast start): x264's SEI opens each encoder's stream, so segments 0 and 1 start with
  // one. The whole track still decodes as one stream: every frame, decode times rising.
  auto opens_an_x264_stream = [](const std::string& bytes) { return bytes.find("x264 - core") != std::string::npos; };
  EXPECT_TRUE(opens_an_x264_stream(segments[0].bytes));
  EXPECT_TRUE(opens_an_x264_stream(segments[1].bytes));
  EXPECT_FALSE(opens_an_x264_stream(segments[2].bytes));
  test::TempDir whole_dir("transcode-whole");
  fs::path whole = write_whole(renditions.at("240p"), whole_dir, "240p.mp4");
  nlohmann::json packets = test::ffprobe(whole, "-show_packets -select_streams v")["packets"];
  ASSERT_EQ(packets.size(), 200u);  // 8 s at 25 frames/s
  for (std::size_t i = 1; i < packets.size(); ++i)
    ASSERT_GT(packets[i]["dts"].get<std::int64_t>(), packets[i - 1]["dts"].get<std::int64_t>()) << "packet " << i;
  nlohmann::json frames = test::ffprobe(whole, "-count_frames -show_streams -select_streams v")["streams"];
  EXPECT_EQ(frames[0]["nb_read_frames"], "200");

  const test::RecordedRendition& audio = renditions.at("audio_0");
  EXPECT_TRUE(audio.finished);
  EXPECT_EQ(audio.info.codecs, "mp4a.40.2");
  EXPECT_EQ(audio.info.language, "eng");
  EXPECT_EQ(audio.info.timescale, 48000u);
  ASSERT_EQ(audio.segments.size(), 4u);
  // Cut at the AAC frame nearest each video boundary, first frame at 0 like the video.
  const std::int64_t nearest[] = {0, 47 * 1024, 141 * 1024, 328 * 1024};  // 0, 1, 3, 7 s
  auto [default_duration, default_flags] = test::trex_defaults(audio.init);
  for (std::size_t i = 0; i < audio.segments.size(); ++i) {
    EXPECT_EQ(audio.segments[i].info.number, static_cast<int>(i));
    EXPECT_EQ(audio.segments[i].info.start, nearest[i]);
    double drift_s = static_cast<double>(audio.segments[i].info.start) / 48000 - top[i];
    EXPECT_LE(std::abs(drift_s), 512.0 / 48000 + 1e-9) << "within half an AAC frame of the video cut";
    test::Fragment fragment = test::parse_fragment(audio.segments[i].bytes, default_duration, default_flags);
    EXPECT_EQ(static_cast<std::int64_t>(fragment.base_decode_time), audio.segments[i].info.start);
  }
  std::int64_t audio_end = audio.segments.back().info.start + audio.segments.back().info.duration;
  EXPECT_NEAR(static_cast<double>(audio_end) / 48000, 8.0, 0.05);

  test::TempDir dir("transcode-audio");
  auto paths = run->listener.write_pairs(dir.path(), "audio_0");
  nlohmann::json probe = test::ffprobe(paths[0], "-show_streams -show_packets");
  EXPECT_EQ(probe["streams"][0]["codec_name"], "aac");
  EXPECT_EQ(probe["streams"][0]["profile"], "LC");
  EXPECT_EQ(probe["streams"][0]["sample_rate"], "48000");
  EXPECT_EQ(probe["streams"][0]["channels"], 2);
  EXPECT_EQ(probe["packets"][0]["pts"], 0);

  // Audio and video both start at presentation time 0 (within one video frame).
  EXPECT_EQ(renditions.at("240p").segments[0].info.start, 0);
  EXPECT_EQ(audio.segments[0].info.start, 0);

  ASSERT_FALSE(run->progress.empty());
  EXPECT_EQ(run->progress.back().stage, "done");
  EXPECT_EQ(run->progress.back().percent, 100);
}

// A player starts on the smallest rung, and the video is playable once that rung's first
// segment is stored: the larger rungs keep their first pictures until it is. Two rungs of
// nearly one size, the smaller with far more bits to spend: left to themselves, the larger
// one (it gets each picture first, need not scale it, and has less to code) would finish
// its first segment first.
TEST(Transcode, TheSmallestRungsFirstSegmentComesFirst) {
  LadderConfig ladder = small_ladder();
  ladder.rungs = {{"240p", 240, 100, 107, 150}, {"232p", 232, 4000, 4280, 6000}};
  auto run = transcode_clip("basic.mp4", ladder);
  ASSERT_TRUE(run->result.has_value()) << run->result.error().message;
  const auto& events = run->listener.events;
  auto at = [&](const std::string& event) { return std::find(events.begin(), events.end(), event) - events.begin(); };
  ASSERT_LT(at("segment 240p 0"), static_cast<std::ptrdiff_t>(events.size()));
  EXPECT_LT(at("segment 232p 0"), at("segment 240p 0"));
  check_video_rendition(run->listener.renditions.at("240p"), 320, 240);
  check_video_rendition(run->listener.renditions.at("232p"), 310, 232);
}

TEST(Transcode, NtscFrameRateCutsOnTheFirstFrameAfterEachBoundary) {
  auto run = transcode_clip("ntsc.mp4");
  ASSERT_TRUE(run->result.has_value()) << run->result.error().message;
  EXPECT_EQ(run->plan.frame_rate_num, 30000);
  const auto& video = run->listener.renditions.at("144p");
  EXPECT_EQ(video.info.timescale, 90000u);
  EXPECT_NEAR(video.info.frame_rate, 29.97, 0.01);
  check_video_rendition(video, 256, 144);
  ASSERT_EQ(video.segments.size(), 3u);
  EXPECT_EQ(video.segments[1].info.start, 30 * 3003);  // frame 30, 1.001 s
  EXPECT_EQ(video.segments[2].info.start, 90 * 3003);  // frame 90, 3.003 s
  const auto& audio = run->listener.renditions.at("audio_0");
  ASSERT_EQ(audio.segments.size(), 3u);
  EXPECT_EQ(audio.segments[1].info.start, 47 * 1024);   // 1.001 s = frame 46.92 -> 47
  EXPECT_EQ(audio.segments[2].info.start, 141 * 1024);  // 3.003 s = frame 140.77 -> 141
}

TEST(Transcode, RotatedPhoneClipComesOutUpright) {
  auto run = transcode_clip("rotated.mp4");
  ASSERT_TRUE(run->result.has_value()) << run->result.error().message;
  EXPECT_EQ(run->info.streams[0].rotation_deg % 180, 90);
  EXPECT_EQ(run->plan.rotation_deg, run->info.streams[0].rotation_deg);
  ASSERT_EQ(run->listener.renditions.size(), 1u) << "no audio in the source, none out";
  check_video_rendition(run->listener.renditions.at("144p"), 144, 256);
  check_with_ffprobe(run->listener, "144p", 144, 256);
  test::TempDir dir("transcode-rotated");
  auto paths = run->listener.write_pairs(dir.path(), "144p");
  nlohmann::json probe = test::ffprobe(paths[0], "-show_streams");
  EXPECT_FALSE(probe["streams"][0].contains("side_data_list")) << "no display matrix: the pixels are turned";
  // Turned the right way: the ffmpeg CLI's own autorotation of the source is the reference.
  fs::path reference = dir.path() / "reference.y4m";
  ASSERT_TRUE(test::make_clip(reference, "-i '" + Clips::get("rotated.mp4").string() +
                                             "' -frames:v 30 -vf scale=144:256:flags=bicubic -pix_fmt yuv420p"));
  std::string psnr = test::run("ffmpeg -nostdin -v info -i '" + paths[0].string() + "' -i '" + reference.string() +
                               "' -lavfi '[0:v][1:v]psnr' -f null - 2>&1 | grep -o 'average:[0-9.inf]*'");
  ASSERT_FALSE(psnr.empty());
  double average = psnr.find("inf") != std::string::npos ? 99 : std::stod(psnr.substr(8));
  EXPECT_GT(average, 25) << "the wrong way round would be far off";
}

TEST(Transcode, InterlacedClipIsDeinterlaced) {
  auto run = transcode_clip("interlaced.mp4");
  ASSERT_TRUE(run->result.has_value()) << run->result.error().message;
  EXPECT_TRUE(run->plan.deinterlace);
  check_video_rendition(run->listener.renditions.at("240p"), 320, 240);
  test::TempDir dir("transcode-interlaced");
  auto paths = run->listener.write_pairs(dir.path(), "240p");
  nlohmann::json probe = test::ffprobe(paths[0], "-show_streams");
  EXPECT_EQ(probe["streams"][0]["field_order"], "progressive");
}

TEST(Transcode, EveryAudioTrackIsItsOwnRenditionWithItsLanguage) {
  auto run = transcode_clip("two_audio.mkv");
  ASSERT_TRUE(run->result.has_value()) << run->result.error().message;
  auto& renditions = run->listener.renditions;
  ASSERT_TRUE(renditions.count("audio_0") && renditions.count("audio_1"));
  EXPECT_EQ(renditions.at("audio_0").info.language, "eng");
  EXPECT_EQ(renditions.at("audio_1").info.language, "deu");
  test::TempDir dir("transcode-two-audio");
  auto paths = run->listener.write_pairs(dir.path(), "audio_1");
  nlohmann::json probe = test::ffprobe(paths[0], "-show_streams");
  EXPECT_EQ(probe["streams"][0]["channels"], 2) << "5.1 downmixed to stereo";
  EXPECT_EQ(probe["streams"][0]["sample_rate"], "48000") << "32 kHz resampled";
  EXPECT_EQ(probe["streams"][0]["tags"]["language"], "deu");
}

// When the tone of the audio_* clips starts, as the ffmpeg CLI hears it: the end of the
// first silence, in seconds; -1 if there is none.
double tone_onset_s(const fs::path& file) {
  std::string out = test::run("ffmpeg -nostdin -v info -i '" + file.string() +
                              "' -map 0:a -af silencedetect=n=-30dB:d=0.3 -f null - 2>&1 | grep -o 'silence_end: [0-9.]*'");
  return out.empty() ? -1 : std::stod(out.substr(13));
}

// Audio stays with its timestamps when they jump (a gap: silence fills it) or go back (an
// overlap: the early part is dropped). Jitter under 40 ms is left alone: the overlap clip's
// muxer stamped 0.5 s of audio with one time, so it is put right 40 ms at a time and may end
// up to that far off.
TEST(Transcode, AudioFollowsItsTimestampsAcrossGapsAndOverlaps) {
  for (const std::string name : {"audio_gap.mkv", "audio_overlap.mkv"}) {
    SCOPED_TRACE(name);
    auto run = transcode_clip(name);
    ASSERT_TRUE(run->result.has_value()) << run->result.error().message;
    const test::RecordedRendition& audio = run->listener.renditions.at("audio_0");
    test::TempDir dir("transcode-audio-sync");
    fs::path whole = write_whole(audio, dir, "audio.mp4");
    bool gap = name == "audio_gap.mkv";
    double onset = gap ? 3.0 : 2.5;
    // The CLI hears the source's AAC priming too (21 ms): the clip is what this test thinks.
    EXPECT_NEAR(tone_onset_s(Clips::get(name)), onset + 0.021, 0.01);
    EXPECT_NEAR(tone_onset_s(whole), onset, gap ? 0.01 : 0.04) << "the tone plays when its timestamps say";
    std::int64_t end = audio.segments.back().info.start + audio.segments.back().info.duration;
    EXPECT_NEAR(static_cast<double>(end) / 48000, gap ? 5.0 : 4.5, 0.05) << "ends where its timestamps end";
  }
}

// The second recording's first 0.2 s of audio is behind what the first one already played,
// so it is dropped, and the drop is still owed when its 1 s hole comes: the hole's silence
// is that much shorter. Silence from 2.0 s (the first recording's end) to 2.72 s (where the
// hole ends: 12.72 s, less the video's start at 10 s), not to 3.0 s.
TEST(Transcode, JoinedRecordingsKeepTheirAudioWhereItsTimestampsSay) {
  auto run = transcode_clip("joined.ts");
  ASSERT_TRUE(run->result.has_value()) << run->result.error().message;
  test::TempDir dir("transcode-joined");
  fs::path whole = write_whole(run->listener.renditions.at("audio_0"), dir, "audio.mp4");
  EXPECT_NEAR(tone_onset_s(whole), 2.716, 0.01) << "the audio after the hole plays when its timestamps say";
}

TEST(Transcode, HardwareEncodersFallBackToX264AndSayWhy) {
  VideoEncoderSettings settings;
  settings.width = 256;
  settings.height = 144;
  settings.frame_rate = {25, 1};
  settings.bitrate_kbps = 200;
  settings.maxrate_kbps = 214;
  settings.bufsize_kbits = 300;
  settings.keyint_frames = 200;
  for (EncoderPreference preference :
       {EncoderPreference::automatic, EncoderPreference::nvenc, EncoderPreference::vaapi}) {
    auto selection = select_video_encoder(preference, settings);
    ASSERT_TRUE(selection.has_value());
    if (selection->kind != EncoderKind::x264) GTEST_SKIP() << "this machine has a working " << selection->name;
    EXPECT_EQ(selection->name, "libx264");
    EXPECT_FALSE(selection->fallback_reason.empty()) << to_string(preference);
  }
  auto nvenc = select_video_encoder(EncoderPreference::nvenc, settings);
  EXPECT_NE(nvenc->fallback_reason.find("h264_nvenc"), std::string::npos) << nvenc->fallback_reason;
  EXPECT_EQ(nvenc->fallback_reason.find("vaapi"), std::string::npos) << "only what was asked for is tried";
  auto x264 = select_video_encoder(EncoderPreference::x264, settings);
  EXPECT_TRUE(x264->fallback_reason.empty());
  EXPECT_EQ(parse_encoder_preference("auto").value(), EncoderPreference::automatic);
  EXPECT_FALSE(parse_encoder_preference("quicksync").has_value());
}

TEST(Transcode, StopRequestedMidJobReturnsUnavailablePromptly) {
  std::stop_source stop;
  auto info = probe_file(Clips::get("long.mp4"), MediaLimits{});
  ASSERT_TRUE(info.has_value());
  LadderConfig ladder = small_ladder();
  TranscodeRequest request;
  request.source = Clips::get("long.mp4");
  request.source_info = *info;
  request.plan = *plan_ladder(*info, ladder);
  request.ladder = ladder;
  request.encoder = EncoderPreference::x264;

  // Stop from another thread as soon as the first media segment is reported.
  class StoppingListener : public RecordingListener {
   public:
    explicit StoppingListener(std::stop_source& stop) : stop_(stop) {}
    Result<void> on_media_segment(const Rendition& r, const Segment& s, std::string bytes) override {
      if (!stop_.stop_requested()) {
        stopper_ = std::jthread([this] { stop_.request_stop(); });
        requested_at = std::chrono::steady_clock::now();
      }
      return RecordingListener::on_media_segment(r, s, std::move(bytes));
    }
    std::chrono::steady_clock::time_point requested_at;

   private:
    std::stop_source& stop_;
    std::jthread stopper_;
  } listener(stop);

  auto result = transcode(request, listener, nullptr, stop.get_token());
  auto returned_at = std::chrono::steady_clock::now();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::unavailable);
  EXPECT_LT(std::chrono::duration<double>(returned_at - listener.requested_at).count(), 1.0);
  for (const auto& [id, r] : listener.renditions) EXPECT_FALSE(r.finished) << id;
}

TEST(Transcode, ListenerErrorsPassThrough) {
  auto info = probe_file(Clips::get("basic.mp4"), MediaLimits{});
  ASSERT_TRUE(info.has_value());
  TranscodeRequest request;
  request.source = Clips::get("basic.mp4");
  request.source_info = *info;
  request.ladder = small_ladder();
  request.plan = *plan_ladder(*info, request.ladder);
  RecordingListener listener;
  listener.fail_after_segments = 4;  // three inits and one segment pass, the next one fails
  auto result = transcode(request, listener, nullptr, {});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::io);
}

// The clip `name` transcoded with a duration limit of `max_duration_s`.
Result<TranscodeReport> transcode_with_limit(const std::string& name, double max_duration_s) {
  auto info = probe_file(Clips::get(name), MediaLimits{});
  if (!info) return tl::unexpected(info.error());
  TranscodeRequest request;
  request.source = Clips::get(name);
  request.source_info = *info;
  request.ladder = small_ladder();
  request.plan = *plan_ladder(*info, request.ladder);
  request.limits.max_duration_s = max_duration_s;
  RecordingListener listener;
  return transcode(request, listener, nullptr, {});
}

TEST(Transcode, MaxDurationIsEnforcedWhileDecoding) {
  auto result = transcode_with_limit("basic.mp4", 2);  // 8 s of video
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::unprocessable);
  // Audio stamped 600 s on is not reached with minutes of silence.
  result = transcode_with_limit("audio_far.mkv", 300);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::unprocessable);
  EXPECT_NE(result.error().message.find("too long: audio at 601"), std::string::npos) << result.error().message;
}

}  // namespace
}  // namespace cinevault::media
