#include "cinevault/media/probe.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cinevault/core/text.hpp"
#include "colour.hpp"
#include "container_checks.hpp"
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

std::string or_empty(const char* text) { return text ? text : ""; }

// A track's language tag as players expect it (ISO 639 "eng", or BCP 47 "pt-BR"): letters,
// digits and hyphens, 2 to 35 of them. Anything else in a file's tag (bytes that are not
// UTF-8, quotes that would end an HLS attribute) is dropped, and so is "und".
bool is_language_tag(std::string_view tag) {
  if (tag.size() < 2 || tag.size() > 35 || tag == "und" || tag.front() == '-' || tag.back() == '-') return false;
  return std::all_of(tag.begin(), tag.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// A title tag as the page may show it: valid UTF-8, control characters as spaces, no blanks
// at either end, at most 200 bytes (cut at a character boundary).
std::string clean_title(std::string_view tag) {
  std::string title = to_utf8(tag);
  for (char& c : title)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  title = std::string(trim_blanks(title));
  if (title.size() > 200) {
    std::size_t cut = 200;
    while (cut > 0 && (static_cast<unsigned char>(title[cut]) & 0xC0) == 0x80) --cut;
    title.resize(cut);
    title = std::string(trim_blanks(title));
  }
  return title;
}

std::string clean_title(const AVDictionaryEntry* tag) { return tag ? clean_title(std::string_view(tag->value)) : ""; }

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
  info.title = clean_title(av_dict_get(context->metadata, "title", nullptr, 0));
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

// JSON: fields of the other media type are left out unless set, so the round trip is exact.
nlohmann::json to_json(const MediaInfo& info) {
  nlohmann::json streams = nlohmann::json::array();
  for (const StreamInfo& stream : info.streams) {
    nlohmann::json out = {{"index", stream.index}, {"type", stream.type}, {"codec", stream.codec}};
    auto put = [&out](const char* key, const auto& value, bool always) {
      if (always || value != std::decay_t<decltype(value)>{}) out[key] = value;
    };
    bool video = stream.type == "video";
    bool audio = stream.type == "audio";
    put("profile", stream.profile, false);
    put("level", stream.level, false);
    put("width", stream.width, video);
    put("height", stream.height, video);
    put("frame_rate", stream.frame_rate, video);
    put("frame_rate_exact", stream.frame_rate_exact, video);
    put("pixel_format", stream.pixel_format, video);
    put("sample_aspect_ratio", stream.sample_aspect_ratio, video);
    put("rotation_deg", stream.rotation_deg, video);
    put("field_order", stream.field_order, video);
    put("attached_picture", stream.attached_picture, false);
    put("color_primaries", stream.color_primaries, false);
    put("color_transfer", stream.color_transfer, false);
    put("color_space", stream.color_space, false);
    put("color_range", stream.color_range, false);
    put("bit_depth", stream.bit_depth, false);
    put("mastering_max_nits", stream.mastering_max_nits, false);
    put("mastering_min_nits", stream.mastering_min_nits, false);
    put("max_cll", stream.max_cll, false);
    put("max_fall", stream.max_fall, false);
    put("dolby_vision_profile", stream.dolby_vision_profile, false);
    put("dolby_vision_base", stream.dolby_vision_base, false);
    if (std::string hdr = video ? hdr_format(stream) : ""; !hdr.empty()) out["hdr"] = hdr;  // derived, for people
    put("channels", stream.channels, audio);
    put("sample_rate", stream.sample_rate, audio);
    put("channel_layout", stream.channel_layout, audio);
    put("language", stream.language, false);
    put("bit_rate", stream.bit_rate, true);
    put("duration_s", stream.duration_s, true);
    streams.push_back(std::move(out));
  }
  nlohmann::json document = {{"container", info.container},       {"duration_s", info.duration_s},
                              {"bit_rate", info.bit_rate},         {"size_bytes", info.size_bytes},
                              {"video_stream", info.video_stream}, {"streams", std::move(streams)}};
  if (!info.title.empty()) document["title"] = info.title;
  if (!info.recorded_at.empty()) document["recorded_at"] = info.recorded_at;
  return document;
}

namespace {

// Reads `count` digits at `at`; -1 if they are not all digits.
int digits(std::string_view text, std::size_t at, std::size_t count) {
  if (at + count > text.size()) return -1;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - static_cast<int>(era * 400);
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

std::string recording_time_from_tag(std::string_view tag) {
  tag = trim_blanks(tag);
  int year = digits(tag, 0, 4), month = digits(tag, 5, 2), day = digits(tag, 8, 2);
  if (year < 1900 || year > 2999 || tag.size() < 10 || tag[4] != '-' || tag[7] != '-' || month < 1 || month > 12 ||
      day < 1 || day > 31)
    return {};
  static constexpr int kDaysInMonth[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day > kDaysInMonth[month - 1]) return {};
  int hour = 0, minute = 0, second = 0, offset_minutes = 0;
  std::size_t at = 10;
  if (at < tag.size() && (tag[at] == 'T' || tag[at] == ' ')) {
    hour = digits(tag, at + 1, 2);
    minute = digits(tag, at + 4, 2);
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || tag[at + 3] != ':') return {};
    at += 6;
    if (at < tag.size() && tag[at] == ':') {
      second = digits(tag, at + 1, 2);
      if (second < 0 || second > 60) return {};
      at += 3;
      if (at < tag.size() && tag[at] == '.') {
        ++at;
        while (at < tag.size() && tag[at] >= '0' && tag[at] <= '9') ++at;
      }
    }
    if (at < tag.size() && tag[at] == 'Z') {
      ++at;
    } else if (at < tag.size() && (tag[at] == '+' || tag[at] == '-')) {
      // +HH, +HHMM or +HH:MM: the local time's offset from UTC.
      int sign = tag[at] == '-' ? -1 : 1;
      int offset_hours = digits(tag, at + 1, 2);
      if (offset_hours < 0 || offset_hours > 14) return {};
      at += 3;
      int offset_mins = 0;
      if (at < tag.size() && tag[at] == ':') ++at;
      if (at < tag.size()) {
        offset_mins = digits(tag, at, 2);
        if (offset_mins < 0 || offset_mins > 59) return {};
        at += 2;
      }
      offset_minutes = sign * (offset_hours * 60 + offset_mins);
    }
  }
  if (at != tag.size()) return {};
  bool midnight = hour == 0 && minute == 0 && second == 0 && offset_minutes == 0;
  if (midnight && month == 1 && day == 1 && (year == 1904 || year == 1970)) return {};
  std::int64_t seconds_since_epoch =
      days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  std::int64_t days = seconds_since_epoch >= 0 ? seconds_since_epoch / 86400 : (seconds_since_epoch - 86399) / 86400;
  std::int64_t rest = seconds_since_epoch - days * 86400;
  // civil_from_days
  std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int y = static_cast<int>(yoe + era * 400 + (m <= 2));
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y, m, d, rest / 3600, rest % 3600 / 60, rest % 60);
}

namespace {

// From a worker, which the daemon does not trust: a colour name is libavutil's (a short
// lower-case word), anything else is dropped; luminances are within what displays can do.
std::string colour_name(const std::string& name) {
  if (name.size() > 24) return "";
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return "";
  return name;
}
double nits(double value) { return std::isfinite(value) ? std::clamp(value, 0.0, 10000.0) : 0; }

}  // namespace

Result<MediaInfo> media_info_from_json(const nlohmann::json& document) {
  // A malformed document is input, not a bug: json's exceptions stop here.
  try {
    MediaInfo info;
    info.container = document.at("container").get<std::string>();
    info.duration_s = document.value("duration_s", 0.0);
    info.bit_rate = document.value("bit_rate", std::int64_t{0});
    info.size_bytes = document.value("size_bytes", std::int64_t{0});
    info.video_stream = document.value("video_stream", -1);
    // From a worker: cleaned again, the daemon trusts no worker's text.
    info.title = clean_title(document.value("title", std::string()));
    info.recorded_at = recording_time_from_tag(document.value("recorded_at", std::string()));
    for (const nlohmann::json& in : document.at("streams")) {
      StreamInfo stream;
      stream.index = in.at("index").get<int>();
      stream.type = in.at("type").get<std::string>();
      stream.codec = in.at("codec").get<std::string>();
      stream.profile = in.value("profile", std::string());
      stream.level = in.value("level", 0);
      stream.width = in.value("width", 0);
      stream.height = in.value("height", 0);
      stream.frame_rate = in.value("frame_rate", 0.0);
      stream.frame_rate_exact = in.value("frame_rate_exact", std::string());
      stream.pixel_format = in.value("pixel_format", std::string());
      stream.sample_aspect_ratio = in.value("sample_aspect_ratio", std::string());
      stream.rotation_deg = in.value("rotation_deg", 0);
      stream.field_order = in.value("field_order", std::string());
      stream.attached_picture = in.value("attached_picture", false);
      stream.color_primaries = colour_name(in.value("color_primaries", std::string()));
      stream.color_transfer = colour_name(in.value("color_transfer", std::string()));
      stream.color_space = colour_name(in.value("color_space", std::string()));
      stream.color_range = colour_name(in.value("color_range", std::string()));
      stream.bit_depth = std::clamp(in.value("bit_depth", 0), 0, 32);
      stream.mastering_max_nits = nits(in.value("mastering_max_nits", 0.0));
      stream.mastering_min_nits = nits(in.value("mastering_min_nits", 0.0));
      stream.max_cll = static_cast<int>(nits(in.value("max_cll", 0)));
      stream.max_fall = static_cast<int>(nits(in.value("max_fall", 0)));
      stream.dolby_vision_profile = std::clamp(in.value("dolby_vision_profile", 0), 0, 127);
      stream.dolby_vision_base = colour_name(in.value("dolby_vision_base", std::string()));
      stream.channels = in.value("channels", 0);
      stream.sample_rate = in.value("sample_rate", 0);
      stream.channel_layout = in.value("channel_layout", std::string());
      stream.language = in.value("language", std::string());
      stream.bit_rate = in.value("bit_rate", std::int64_t{0});
      stream.duration_s = in.value("duration_s", 0.0);
      info.streams.push_back(std::move(stream));
    }
    return info;
  } catch (const nlohmann::json::exception& error) {
    return fail(ErrorCode::invalid_argument, std::string("media info JSON: ") + error.what());
  }
}

}  // namespace cinevault::media
