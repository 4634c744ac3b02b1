#include "cinevault/package/cmaf_segmenter.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cinevault/media/av_ptr.hpp"
#include "cmaf_test_support.hpp"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
}

namespace cinevault::package {
namespace {

using media::CodecContextPtr;
using media::make_frame;
using media::make_packet;
using media::PacketPtr;
using test::Fragment;
using test::RecordingListener;

// An encoded track made here with libavcodec, standing in for media/'s encoders.
struct Track {
  CodecContextPtr encoder;
  std::vector<PacketPtr> packets;
};

// x264 with B-frames, `seconds` of a moving gradient, IDR frames forced where `schedule`
// cuts (or nowhere but the first frame when force_idr is false).
Track encode_video(const SegmentSchedule& schedule, int frames, bool force_idr = true, int width = 160,
                   int height = 96) {
  Track track;
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  track.encoder.reset(avcodec_alloc_context3(codec));
  AVCodecContext* c = track.encoder.get();
  c->width = width;
  c->height = height;
  c->pix_fmt = AV_PIX_FMT_YUV420P;
  c->time_base = schedule.frame_time_base();
  c->framerate = schedule.frame_rate();
  c->gop_size = 1000;
  c->max_b_frames = 3;
  c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  c->thread_count = 1;
  av_opt_set(c->priv_data, "preset", "veryfast", 0);
  av_opt_set(c->priv_data, "x264-params", "scenecut=0:open-gop=0", 0);
  av_opt_set_int(c->priv_data, "forced-idr", 1, 0);
  EXPECT_EQ(avcodec_open2(c, codec, nullptr), 0);
  auto frame = make_frame();
  frame->format = c->pix_fmt;
  frame->width = width;
  frame->height = height;
  EXPECT_EQ(av_frame_get_buffer(frame.get(), 0), 0);
  auto drain = [&] {
    for (;;) {
      PacketPtr packet = make_packet();
      if (avcodec_receive_packet(c, packet.get()) < 0) break;
      packet->duration = 1;
      track.packets.push_back(std::move(packet));
    }
  };
  int next = 1;
  for (int i = 0; i < frames; ++i) {
    EXPECT_EQ(av_frame_make_writable(frame.get()), 0);
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) frame->data[0][y * frame->linesize[0] + x] = std::uint8_t(x + y + 3 * i);
    for (int p = 1; p < 3; ++p)
      for (int y = 0; y < height / 2; ++y)
        std::memset(frame->data[p] + y * frame->linesize[p], 128 + i % 50, width / 2);
    frame->pts = i;
    frame->pict_type = AV_PICTURE_TYPE_NONE;
    if (force_idr && i == schedule.start_frame(next)) {
      frame->pict_type = AV_PICTURE_TYPE_I;
      ++next;
    }
    EXPECT_EQ(avcodec_send_frame(c, frame.get()), 0);
    drain();
  }
  avcodec_send_frame(c, nullptr);
  drain();
  return track;
}

// AAC-LC stereo 48 kHz, timestamps shifted by the encoder delay so the first packet is at 0.
Track encode_audio(int frames) {
  Track track;
  const AVCodec* codec = avcodec_find_encoder_by_name("aac");
  track.encoder.reset(avcodec_alloc_context3(codec));
  AVCodecContext* c = track.encoder.get();
  c->sample_rate = 48000;
  c->sample_fmt = AV_SAMPLE_FMT_FLTP;
  c->bit_rate = 128000;
  c->time_base = {1, 48000};
  c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
  EXPECT_EQ(av_channel_layout_copy(&c->ch_layout, &stereo), 0);
  EXPECT_EQ(avcodec_open2(c, codec, nullptr), 0);
  auto frame = make_frame();
  frame->format = c->sample_fmt;
  frame->nb_samples = c->frame_size;
  frame->sample_rate = 48000;
  EXPECT_EQ(av_channel_layout_copy(&frame->ch_layout, &stereo), 0);
  EXPECT_EQ(av_frame_get_buffer(frame.get(), 0), 0);
  auto drain = [&] {
    for (;;) {
      PacketPtr packet = make_packet();
      if (avcodec_receive_packet(c, packet.get()) < 0) break;
      packet->pts += c->initial_padding;
      packet->dts += c->initial_padding;
      track.packets.push_back(std::move(packet));
    }
  };
  for (int i = 0; i < frames; ++i) {
    EXPECT_EQ(av_frame_make_writable(frame.get()), 0);
    for (int ch = 0; ch < 2; ++ch) {
      auto* samples = reinterpret_cast<float*>(frame->data[ch]);
      for (int s = 0; s < frame->nb_samples; ++s)
        samples[s] = 0.3f * std::sin(2 * M_PI * 440 * (i * frame->nb_samples + s) / 48000.0);
    }
    frame->pts = static_cast<std::int64_t>(i) * frame->nb_samples;
    EXPECT_EQ(avcodec_send_frame(c, frame.get()), 0);
    drain();
  }
  avcodec_send_frame(c, nullptr);
  drain();
  return track;
}

AVCodecParameters* parameters_of(const Track& track) {
  AVCodecParameters* parameters = avcodec_parameters_alloc();
  avcodec_parameters_from_context(parameters, track.encoder.get());
  return parameters;
}

struct ParametersDeleter {
  void operator()(AVCodecParameters* p) const { avcodec_parameters_free(&p); }
};
using ParametersPtr = std::unique_ptr<AVCodecParameters, ParametersDeleter>;

class QuietLibav : public ::testing::Environment {
 public:
  void SetUp() override { av_log_set_level(AV_LOG_ERROR); }
};
[[maybe_unused]] const auto* const kQuiet = ::testing::AddGlobalTestEnvironment(new QuietLibav);

SegmentSchedule schedule_25fps() { return *SegmentSchedule::create({1.0, 2.0}, 4.0, {25, 1}); }

// The segmenter of rendition `name` of an encoded track (its parameters and time base). The
// schedule and the listener must outlive it.
Result<std::unique_ptr<CmafSegmenter>> make_segmenter(const Track& track, const SegmentSchedule& schedule,
                                                      SegmentListener& listener, std::string name,
                                                      TrackKind kind = TrackKind::video, std::string language = "") {
  ParametersPtr parameters(parameters_of(track));
  Rendition info;
  info.name = std::move(name);
  info.kind = kind;
  info.language = std::move(language);
  return CmafSegmenter::create(info, *parameters, track.encoder->time_base, schedule, listener);
}

TEST(Rfc6381, FromAvcCAnnexBAndAac) {
  AVCodecParameters* p = avcodec_parameters_alloc();
  ParametersPtr owner(p);
  p->codec_type = AVMEDIA_TYPE_VIDEO;
  p->codec_id = AV_CODEC_ID_H264;
  std::vector<std::uint8_t> avcc = {1, 0x64, 0x00, 0x1f, 0xff};
  p->extradata = avcc.data();
  p->extradata_size = static_cast<int>(avcc.size());
  EXPECT_EQ(rfc6381_codecs(*p).value(), "avc1.64001f");
  std::vector<std::uint8_t> annex_b = {0, 0, 0, 1, 0x67, 0x4d, 0x40, 0x1e, 0xaa, 0, 0, 1, 0x68, 0xce};
  p->extradata = annex_b.data();
  p->extradata_size = static_cast<int>(annex_b.size());
  EXPECT_EQ(rfc6381_codecs(*p).value(), "avc1.4d401e");
  std::vector<std::uint8_t> asc = {0x11, 0x90};  // AAC-LC, 48 kHz, stereo
  p->codec_type = AVMEDIA_TYPE_AUDIO;
  p->codec_id = AV_CODEC_ID_AAC;
  p->extradata = asc.data();
  p->extradata_size = static_cast<int>(asc.size());
  EXPECT_EQ(rfc6381_codecs(*p).value(), "mp4a.40.2");
  p->extradata_size = 0;
  EXPECT_FALSE(rfc6381_codecs(*p).has_value());
  p->extradata = nullptr;  // not ours to free
}

TEST(CmafSegmenter, VideoSegmentsFollowTheRampAndStartWithIdrAtTheirTfdt) {
  SegmentSchedule schedule = schedule_25fps();
  Track track = encode_video(schedule, 200);  // 8 s: 1 + 2 + 4 + 1
  RecordingListener listener;
  auto segmenter = make_segmenter(track, schedule, listener, "96p", TrackKind::video);
  ASSERT_TRUE(segmenter.has_value()) << segmenter.error().message;
  for (const PacketPtr& packet : track.packets) ASSERT_TRUE((*segmenter)->write(*packet).has_value());
  ASSERT_TRUE((*segmenter)->finish().has_value());

  const test::RecordedRendition& r = listener.renditions.at("96p");
  EXPECT_TRUE(r.order_errors.empty());
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.info.timescale, 90000u);
  EXPECT_EQ(r.info.codecs.substr(0, 5), "avc1.");
  EXPECT_EQ(test::top_level_boxes(r.init), (std::vector<std::string>{"ftyp", "moov"}));
  EXPECT_NE(r.init.find("cmfc"), std::string::npos) << "CMAF brand";
  // x264's B-pyramid decodes the first frame two frames (7200 ticks) before it is shown:
  // the edit list moves presentation back by as much.
  const std::int64_t edit = test::edit_list_media_time(r.init);
  EXPECT_EQ(edit, 7200);
  ASSERT_EQ(r.segments.size(), 4u);
  const std::int64_t expected_start[] = {0, 90000, 270000, 630000};
  const std::int64_t expected_duration[] = {90000, 180000, 360000, 90000};
  auto [default_duration, default_flags] = test::trex_defaults(r.init);
  std::int64_t bytes = 0;
  for (std::size_t i = 0; i < r.segments.size(); ++i) {
    const test::RecordedSegment& segment = r.segments[i];
    SCOPED_TRACE("segment " + std::to_string(i));
    bytes += static_cast<std::int64_t>(segment.bytes.size());
    EXPECT_EQ(segment.info.number, static_cast<int>(i));
    EXPECT_EQ(segment.info.start, expected_start[i]);
    EXPECT_EQ(segment.info.duration, expected_duration[i]);
    EXPECT_EQ(test::top_level_boxes(segment.bytes), (std::vector<std::string>{"moof", "mdat"}));
    Fragment fragment = test::parse_fragment(segment.bytes, default_duration, default_flags, edit);
    ASSERT_TRUE(fragment.ok);
    EXPECT_EQ(fragment.trun_version, 0) << "composition offsets that are never negative";
    EXPECT_EQ(static_cast<std::int64_t>(fragment.base_decode_time), expected_start[i]) << "tfdt";
    ASSERT_FALSE(fragment.samples.empty());
    EXPECT_TRUE(fragment.samples[0].sync);
    EXPECT_EQ(fragment.samples[0].presentation_time, expected_start[i]) << "the IDR is presented at the tfdt";
    EXPECT_EQ(fragment.earliest_presentation(), expected_start[i]);
    for (std::size_t s = 1; s < fragment.samples.size(); ++s) EXPECT_FALSE(fragment.samples[s].sync);
  }
  // (bytes * 8) / 8 s
  EXPECT_NEAR(r.average_bandwidth_bps, static_cast<double>(bytes), 2.0);

  // ffprobe reads every init + segment pair as H.264 starting with a keyframe, presented
  // where MSE presents it: FFmpeg's mov demuxer moves a fragment with negative composition
  // offsets later by the largest of them, so the trun v1 form was read two frames late.
  test::TempDir dir("package");
  auto paths = listener.write_pairs(dir.path(), "96p");
  for (std::size_t i = 0; i < paths.size(); ++i) {
    nlohmann::json probe = test::ffprobe(paths[i], "-show_streams -show_packets");
    ASSERT_TRUE(probe.contains("streams")) << paths[i];
    EXPECT_EQ(probe["streams"][0]["codec_name"], "h264");
    EXPECT_EQ(probe["streams"][0]["width"], 160);
    EXPECT_EQ(probe["streams"][0]["height"], 96);
    EXPECT_EQ(probe["packets"][0]["flags"].get<std::string>().substr(0, 1), "K");
    std::int64_t earliest = std::numeric_limits<std::int64_t>::max();
    for (const auto& packet : probe["packets"]) earliest = std::min(earliest, packet["pts"].get<std::int64_t>());
    EXPECT_EQ(earliest, expected_start[i]) << paths[i];
  }
}

TEST(CmafSegmenter, AudioIsCutAtTheFrameNearestEachVideoBoundary) {
  SegmentSchedule schedule = schedule_25fps();
  Track track = encode_audio(48000 * 5 / 1024);  // ~5 s
  RecordingListener listener;
  auto segmenter = make_segmenter(track, schedule, listener, "audio_0", TrackKind::audio, "fra");
  ASSERT_TRUE(segmenter.has_value()) << segmenter.error().message;
  for (const PacketPtr& packet : track.packets) ASSERT_TRUE((*segmenter)->write(*packet).has_value());
  ASSERT_TRUE((*segmenter)->finish().has_value());
  const test::RecordedRendition& r = listener.renditions.at("audio_0");
  EXPECT_EQ(r.info.codecs, "mp4a.40.2");
  EXPECT_EQ(r.info.timescale, 48000u);
  ASSERT_EQ(r.segments.size(), 3u);
  EXPECT_EQ(r.segments[0].info.start, 0);
  EXPECT_EQ(r.segments[1].info.start, 47 * 1024);   // nearest to 1 s
  EXPECT_EQ(r.segments[2].info.start, 141 * 1024);  // nearest to 3 s
  EXPECT_EQ(r.segments[0].info.duration, 47 * 1024);
  auto [default_duration, default_flags] = test::trex_defaults(r.init);
  for (const auto& segment : r.segments) {
    Fragment fragment = test::parse_fragment(segment.bytes, default_duration, default_flags);
    ASSERT_TRUE(fragment.ok);
    EXPECT_EQ(static_cast<std::int64_t>(fragment.base_decode_time), segment.info.start);
  }
  test::TempDir dir("package");
  auto paths = listener.write_pairs(dir.path(), "audio_0");
  nlohmann::json probe = test::ffprobe(paths[0], "-show_streams");
  EXPECT_EQ(probe["streams"][0]["codec_name"], "aac");
  EXPECT_EQ(probe["streams"][0]["profile"], "LC");
  EXPECT_EQ(probe["streams"][0]["sample_rate"], "48000");
  EXPECT_EQ(probe["streams"][0]["tags"]["language"], "fra");
  EXPECT_GT(r.average_bandwidth_bps, 60000);
  EXPECT_LT(r.average_bandwidth_bps, 200000);
}

// What transcode does with the first segment: its encoder is flushed at the segment's end
// and the segment is reported then, before any packet of the next one exists.
TEST(CmafSegmenter, EndSegmentReportsTheOpenSegmentAtOnce) {
  SegmentSchedule schedule = schedule_25fps();
  Track track = encode_video(schedule, 100);  // 4 s: 1 + 2 + 1
  RecordingListener listener;
  auto segmenter = make_segmenter(track, schedule, listener, "v", TrackKind::video);
  ASSERT_TRUE(segmenter.has_value());
  ASSERT_TRUE((*segmenter)->end_segment().has_value()) << "nothing open yet: nothing to do";
  bool ended = false;
  for (const PacketPtr& packet : track.packets) {
    if (!ended && packet->pts >= schedule.start_frame(1)) {
      ASSERT_TRUE((*segmenter)->end_segment().has_value());
      ASSERT_EQ(listener.renditions.at("v").segments.size(), 1u) << "reported before the next segment's packets";
      ASSERT_TRUE((*segmenter)->end_segment().has_value()) << "a second call has nothing to report";
      ended = true;
    }
    ASSERT_TRUE((*segmenter)->write(*packet).has_value());
  }
  ASSERT_TRUE((*segmenter)->finish().has_value());
  const test::RecordedRendition& r = listener.renditions.at("v");
  ASSERT_EQ(r.segments.size(), 3u);
  EXPECT_EQ(r.segments[0].info.duration, 90000);
  EXPECT_EQ(r.segments[1].info.start, 90000);
  EXPECT_TRUE(r.order_errors.empty());

  // A packet of a segment already reported is refused.
  RecordingListener other;
  auto again = make_segmenter(track, schedule, other, "v", TrackKind::video);
  ASSERT_TRUE(again.has_value());
  ASSERT_TRUE((*again)->write(*track.packets[0]).has_value());
  ASSERT_TRUE((*again)->end_segment().has_value());
  auto late = (*again)->write(*track.packets[1]);
  ASSERT_FALSE(late.has_value());
  EXPECT_NE(late.error().message.find("already reported"), std::string::npos);
}

TEST(CmafSegmenter, RefusesASegmentThatWouldNotStartWithAKeyframe) {
  SegmentSchedule schedule = schedule_25fps();
  Track track = encode_video(schedule, 40, /*force_idr=*/false);
  RecordingListener listener;
  auto segmenter = make_segmenter(track, schedule, listener, "v");
  ASSERT_TRUE(segmenter.has_value());
  Result<void> result;
  for (const PacketPtr& packet : track.packets) {
    result = (*segmenter)->write(*packet);
    if (!result) break;
  }
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::internal);
  EXPECT_NE(result.error().message.find("keyframe"), std::string::npos);
}

TEST(CmafSegmenter, ListenerErrorsStopTheSegmenter) {
  SegmentSchedule schedule = schedule_25fps();
  Track track = encode_video(schedule, 100);
  RecordingListener listener;
  listener.fail_after_segments = 1;  // init ok, the first segment fails
  auto segmenter = make_segmenter(track, schedule, listener, "v");
  ASSERT_TRUE(segmenter.has_value());
  Result<void> result;
  for (const PacketPtr& packet : track.packets) {
    result = (*segmenter)->write(*packet);
    if (!result) break;
  }
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::io);
}

}  // namespace
}  // namespace cinevault::package
