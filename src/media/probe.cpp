#include "cinevault/media/probe.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>

#include <fmt/format.h>

#include "colour.hpp"
#include "container_checks.hpp"
#include "media_tags.hpp"
#include "safe_input.hpp"

extern "C" {
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

namespace cinevault::media {
namespace {

// Enough for streams that start before their first keyframe (broadcast TS, open GOP);
// the bytes are bounded by MediaLimits::probe_size_bytes as well.
constexpr int kMaxPacketsForFirstFrame = 600;

std::string title_of(const AVDictionaryEntry* tag) { return tag ? clean_title(tag->value) : ""; }

// The first recording time among the tags cameras, phones and muxers write.
std::string recording_time(AVFormatContext* context, int video_stream) {
  for (const char* key : {"com.apple.quicktime.creationdate", "date_recorded", "creation_time", "date"})
    if (const AVDictionaryEntry* entry = av_dict_get(context->metadata, key, nullptr, 0))
      if (auto time = recording_time_from_tag(entry->value); !time.empty()) return time;
  if (video_stream >= 0)
    if (const AVDictionaryEntry* entry = av_dict_get(context->streams[video_stream]->metadata, "creation_time", nullptr, 0))
      return recording_time_from_tag(entry->value);
  return {};
}

double seconds(std::int64_t duration, AVRational time_base) {
  return duration == AV_NOPTS_VALUE || duration <= 0 ? 0.0 : static_cast<double>(duration) * av_q2d(time_base);
}

const char* field_order_name(const AVFieldOrder& field) {
  switch (enum_value(field)) {
    case AV_FIELD_PROGRESSIVE: return "progressive";
    case AV_FIELD_TT: return "tt";
    case AV_FIELD_BB: return "bb";
    case AV_FIELD_TB: return "tb";
    case AV_FIELD_BT: return "bt";
    default: return "unknown";
  }
}

// Clockwise degrees to turn the picture for display, snapped to 0/90/180/270.
int rotation_deg(const AVStream& stream) {
  std::size_t size = 0;
  const std::uint8_t* data = av_stream_get_side_data(&stream, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (data == nullptr || size < 9 * sizeof(std::int32_t)) return 0;
  // av_display_rotation_get() is counterclockwise; NaN for a singular matrix.
  double counterclockwise = av_display_rotation_get(reinterpret_cast<const std::int32_t*>(data));
  if (std::isnan(counterclockwise)) return 0;
  long clockwise = std::lround(-counterclockwise / 90.0) * 90;
  return static_cast<int>(((clockwise % 360) + 360) % 360);
}

StreamInfo describe_stream(AVFormatContext* context, AVStream* stream) {
  const AVCodecParameters& codec = *stream->codecpar;
  StreamInfo info;
  info.index = stream->index;
  info.type = codec.codec_type == AVMEDIA_TYPE_UNKNOWN ? "unknown" : or_empty(av_get_media_type_string(codec.codec_type));
  info.codec = avcodec_get_name(codec.codec_id);
  info.profile = or_empty(avcodec_profile_name(codec.codec_id, codec.profile));
  info.level = codec.level > 0 ? codec.level : 0;
  if (codec.codec_type == AVMEDIA_TYPE_VIDEO) {
    info.width = codec.width;
    info.height = codec.height;
    info.attached_picture = (stream->disposition & AV_DISPOSITION_ATTACHED_PIC) != 0;
    AVRational rate = stream->avg_frame_rate;
    if (rate.num <= 0 || rate.den <= 0) rate = stream->r_frame_rate;  // avg is unset in some containers
    if (rate.num > 0 && rate.den > 0 && !info.attached_picture) {
      info.frame_rate = av_q2d(rate);
      info.frame_rate_exact = fmt::format("{}/{}", rate.num, rate.den);
    }
    info.pixel_format = or_empty(av_get_pix_fmt_name(static_cast<AVPixelFormat>(codec.format)));
    AVRational sar = av_guess_sample_aspect_ratio(context, stream, nullptr);
    if (sar.num > 0 && sar.den > 0) info.sample_aspect_ratio = fmt::format("{}:{}", sar.num, sar.den);
    info.rotation_deg = rotation_deg(*stream);
    info.field_order = field_order_name(codec.field_order);
    describe_colour(*stream, info);
  } else if (codec.codec_type == AVMEDIA_TYPE_AUDIO) {
    info.channels = codec.ch_layout.nb_channels;  // 5.1: the old `channels` field is deprecated
    info.sample_rate = codec.sample_rate;
    char layout[128] = {};
    if (codec.ch_layout.nb_channels > 0 && av_channel_layout_describe(&codec.ch_layout, layout, sizeof layout) > 0)
      info.channel_layout = layout;
  }
  if (const AVDictionaryEntry* language = av_dict_get(stream->metadata, "language", nullptr, 0)) {
    if (is_language_tag(language->value)) info.language = language->value;
  }
  info.bit_rate = codec.bit_rate;
  info.duration_s = seconds(stream->duration, stream->time_base);
  return info;
}

MediaInfo describe(AVFormatContext* context, std::int64_t size_bytes) {
  MediaInfo info;
  info.container = context->iformat->name;
  info.bit_rate = context->bit_rate;
  info.size_bytes = size_bytes;
  for (unsigned i = 0; i < context->nb_streams; ++i) {
    info.streams.push_back(describe_stream(context, context->streams[i]));
    info.duration_s = std::max(info.duration_s, info.streams.back().duration_s);
  }
  // The container's duration when it has one, else the longest stream's.
  if (context->duration != AV_NOPTS_VALUE && context->duration > 0)
    info.duration_s = static_cast<double>(context->duration) / AV_TIME_BASE;
  return info;
}

// The first video stream that is not cover art, preferring one marked default.
int choose_video_stream(const MediaInfo& info, AVFormatContext* context) {
  int chosen = -1;
  for (const StreamInfo& stream : info.streams) {
    if (stream.type != "video" || stream.attached_picture) continue;
    if (context->streams[stream.index]->disposition & AV_DISPOSITION_DEFAULT) return stream.index;
    if (chosen < 0) chosen = stream.index;
  }
  return chosen;
}

// Decodes the first frame of the stream `video` describes, and takes the HDR metadata it
// carries (HEVC's SEI) into `video`.
Result<void> decode_first_frame(AVFormatContext* context, StreamInfo& video, const MediaLimits& limits) {
  const int stream_index = video.index;
  const AVCodecParameters& parameters = *context->streams[stream_index]->codecpar;
  const AVCodec* codec = avcodec_find_decoder(parameters.codec_id);
  if (codec == nullptr)
    return fail(ErrorCode::unprocessable,
                fmt::format("the video codec {} is not supported", avcodec_get_name(parameters.codec_id)));
  CodecContextPtr decoder(avcodec_alloc_context3(codec));
  PacketPtr packet = make_packet();
  FramePtr frame = make_frame();
  if (!decoder || !packet || !frame) return fail(ErrorCode::internal, "out of memory");
  int error = avcodec_parameters_to_context(decoder.get(), &parameters);
  decoder->thread_count = 1;  // frame threads would hold the first frame back
  // No picture larger than the limit is ever allocated, whatever the headers said.
  decoder->max_pixels = limits.max_pixels();
  if (error >= 0) error = avcodec_open2(decoder.get(), codec, nullptr);
  if (error < 0)
    return fail(ErrorCode::unprocessable, "the video decoder cannot be opened: " + av_error_text(error));
  for (unsigned i = 0; i < context->nb_streams; ++i)
    context->streams[i]->discard = static_cast<int>(i) == stream_index ? AVDISCARD_DEFAULT : AVDISCARD_ALL;

  // Packets read by avformat_find_stream_info are buffered, so this starts at the start.
  int last_error = 0;
  std::int64_t bytes = 0;
  for (int packets = 0; packets < kMaxPacketsForFirstFrame && bytes <= limits.probe_size_bytes;) {
    error = av_read_frame(context, packet.get());
    if (error < 0) {
      if (error != AVERROR_EOF) last_error = error;
      break;
    }
    if (packet->stream_index != stream_index) {
      av_packet_unref(packet.get());
      continue;
    }
    ++packets;
    bytes += packet->size;
    error = avcodec_send_packet(decoder.get(), packet.get());
    av_packet_unref(packet.get());
    if (error < 0) {
      last_error = error;  // a damaged packet: the next one may still decode
      continue;
    }
    error = avcodec_receive_frame(decoder.get(), frame.get());
    if (error >= 0) {
      add_frame_colour(*frame, video);
      return {};
    }
    if (error != AVERROR(EAGAIN)) last_error = error;
  }
  // The decoder may still hold the frame (reordering delay): drain it.
  if (avcodec_send_packet(decoder.get(), nullptr) >= 0 && avcodec_receive_frame(decoder.get(), frame.get()) >= 0) {
    add_frame_colour(*frame, video);
    return {};
  }
  return fail(ErrorCode::unprocessable,
              "the first video frame cannot be decoded" +
                  (last_error < 0 ? " (" + av_error_text(last_error) + ")" : std::string()));
}

Result<void> check_limits(const MediaInfo& info, const StreamInfo& video, const MediaLimits& limits) {
  if (static_cast<int>(info.streams.size()) > limits.max_streams)
    return fail(ErrorCode::unprocessable,
                fmt::format("too many streams: {}, the limit is {}", info.streams.size(), limits.max_streams));
  if (video.width > limits.max_width || video.height > limits.max_height)
    return fail(ErrorCode::unprocessable, fmt::format("the picture is too large: {}x{}, the limit is {}x{}", video.width,
                                                      video.height, limits.max_width, limits.max_height));
  if (video.width <= 0 || video.height <= 0)
    return fail(ErrorCode::unprocessable, "the video stream has no picture size");
  for (const StreamInfo& stream : info.streams) {
    if (stream.type != "audio") continue;
    if (stream.channels > limits.max_audio_channels)
      return fail(ErrorCode::unprocessable, fmt::format("an audio track has {} channels, the limit is {}",
                                                        stream.channels, limits.max_audio_channels));
    if (stream.sample_rate > limits.max_sample_rate)
      return fail(ErrorCode::unprocessable, fmt::format("an audio track's sample rate is {} Hz, the limit is {} Hz",
                                                        stream.sample_rate, limits.max_sample_rate));
  }
  if (info.duration_s > limits.max_duration_s)
    return fail(ErrorCode::unprocessable,
                fmt::format("too long: {:g} s, the limit is {:g} s", info.duration_s, limits.max_duration_s));
  return {};
}


Result<MediaInfo> probe(SafeInput input, const MediaLimits& limits) {
  AVFormatContext* context = input.format();
  RETURN_IF_ERROR(check_samples_within_file(context, input.size_bytes()));
  RETURN_IF_ERROR(check_declared_length(input));
  MediaInfo info = describe(context, input.size_bytes());
  info.video_stream = choose_video_stream(info, context);
  info.title = title_of(av_dict_get(context->metadata, "title", nullptr, 0));
  info.recorded_at = recording_time(context, info.video_stream);
  if (info.video_stream < 0) {
    bool cover_art = std::any_of(info.streams.begin(), info.streams.end(),
                                 [](const StreamInfo& stream) { return stream.attached_picture; });
    return fail(ErrorCode::unprocessable, cover_art ? "no video stream (only cover art)" : "no video stream");
  }
  RETURN_IF_ERROR(check_limits(info, info.streams[static_cast<std::size_t>(info.video_stream)], limits));
  // Only the decoders of allowed codecs ever run on an upload (and find_stream_info opened no other).
  for (const StreamInfo& stream : info.streams) {
    bool decoded_later = stream.index == info.video_stream || (stream.type == "audio" && stream.channels > 0);
    if (decoded_later && !codec_allowed(context->streams[stream.index]->codecpar->codec_id, limits))
      return fail(ErrorCode::unsupported_media, fmt::format("the {} codec {} is not accepted (media.allowed_codecs)",
                                                            stream.type, stream.codec));
  }
  auto decoded = decode_first_frame(context, info.streams[static_cast<std::size_t>(info.video_stream)], limits);
  RETURN_IF_ERROR(input.read_status());
  RETURN_IF_ERROR(decoded);
  return info;
}

}  // namespace

const StreamInfo* find_stream(const MediaInfo& info, int index) {
  for (const StreamInfo& stream : info.streams)
    if (stream.index == index) return &stream;
  return nullptr;
}

bool is_accepted_container(const std::string& demuxer_name) {
  return av_match_list(demuxer_name.c_str(), kFormatWhitelist, ',') > 0;
}

Result<MediaInfo> probe_file(const std::filesystem::path& path, const MediaLimits& limits) {
  TRY(SafeInput input, SafeInput::open(path, limits));
  return probe(std::move(input), limits);
}

Result<MediaInfo> probe_file(File file, const MediaLimits& limits) {
  TRY(SafeInput input, SafeInput::open(std::move(file), limits));
  return probe(std::move(input), limits);
}

Result<void> check_media_info(const MediaInfo& info, const MediaLimits& limits) {
  if (info.video_stream < 0 || static_cast<std::size_t>(info.video_stream) >= info.streams.size() ||
      info.streams[static_cast<std::size_t>(info.video_stream)].type != "video")
    return fail(ErrorCode::unprocessable, "no video stream");
  return check_limits(info, info.streams[static_cast<std::size_t>(info.video_stream)], limits);
}

}  // namespace cinevault::media
