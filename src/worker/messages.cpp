#include "messages.hpp"

#include <cmath>
#include <limits>

#include "cinevault/core/text.hpp"

// The daemon's own structures, both ways (nlohmann's macros: a missing key keeps the default).
namespace cinevault {
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MediaLimits, max_duration_s, max_width, max_height, max_streams,
                                                probe_size_bytes, analyze_duration_s, allowed_codecs,
                                                max_audio_channels, max_sample_rate, max_timestamp_gap_s,
                                                max_transcode_time_factor)
}  // namespace cinevault
namespace cinevault::media {
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RungSpec, name, height, bitrate_kbps, maxrate_kbps, bufsize_kbits)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LadderConfig, rungs, segment_s, first_segments_s, audio_bitrate_kbps,
                                                x264_preset, passthrough)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PlannedRung, spec, width, height)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ColourPlan, tone_mapping, peak_nits, source_primaries, source_matrix,
                                                source_full_range, primaries, transfer, matrix)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LadderPlan, video_stream, video, start_rung, audio_streams, deinterlace,
                                                rotation_deg, frame_rate_num, frame_rate_den, frame_rate, passthrough,
                                                colour)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ThumbnailOptions, poster_widths, tile_width, columns, rows,
                                                min_interval_s, max_interval_s, target_tiles)
}  // namespace cinevault::media
namespace cinevault::worker {
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SandboxLimits, address_space_bytes, cpu_seconds, nice, idle_io)
}  // namespace cinevault::worker

namespace cinevault::worker::messages {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxMessageText = 2000;
constexpr int kMaxPixelsSide = 65536;
constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();

Error bad(const char* key, const char* what) {
  return Error{ErrorCode::invalid_argument, std::string("a media worker's message has ") + what + " '" + key + "'"};
}

// The fields of a header a worker sent: each read checks type and range, none throws.
class Fields {
 public:
  explicit Fields(const json& object) : object_(object) {}

  Result<std::int64_t> integer(const char* key, std::int64_t min, std::int64_t max) const {
    auto it = object_.find(key);
    if (it == object_.end() || !it->is_number_integer()) return tl::unexpected(bad(key, "no integer"));
    std::int64_t value = it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxInt64)
                             ? kMaxInt64
                             : it->get<std::int64_t>();
    if (value < min || value > max) return tl::unexpected(bad(key, "an out-of-range"));
    return value;
  }
  Result<int> small(const char* key, int min, int max) const {
    TRY(std::int64_t value, integer(key, min, max));
    return static_cast<int>(value);
  }
  Result<double> number(const char* key, double min, double max) const {
    auto it = object_.find(key);
    if (it == object_.end() || !it->is_number()) return tl::unexpected(bad(key, "no number"));
    double value = it->get<double>();
    if (!std::isfinite(value) || value < min || value > max) return tl::unexpected(bad(key, "an out-of-range"));
    return value;
  }
  Result<std::string> text(const char* key, std::size_t max_bytes) const {
    auto it = object_.find(key);
    if (it == object_.end() || !it->is_string()) return tl::unexpected(bad(key, "no text"));
    const std::string& value = it->get_ref<const std::string&>();
    if (value.size() > max_bytes || !is_utf8(value)) return tl::unexpected(bad(key, "too long or not UTF-8"));
    return value;
  }
  Result<bool> boolean(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end() || !it->is_boolean()) return tl::unexpected(bad(key, "no boolean"));
    return it->get<bool>();
  }
  // Text made only of letters, digits and the characters in `also` (identifiers, codec strings).
  Result<std::string> word(const char* key, std::size_t max_bytes, std::string_view also) const {
    TRY(std::string value, text(key, max_bytes));
    for (char c : value) {
      bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!plain && also.find(c) == std::string_view::npos) return tl::unexpected(bad(key, "odd characters in"));
    }
    return value;
  }

 private:
  const json& object_;
};

template <typename T>
Result<T> from_daemon(const json& header, const char* key) {
  // The daemon wrote it: a parse error here is a bug, reported rather than thrown.
  try {
    return header.at(key).get<T>();
  } catch (const json::exception& error) {
    return fail(ErrorCode::internal, std::string("the daemon's request: ") + error.what());
  }
}

}  // namespace

json transcode_request(const media::TranscodeRequest& request, const SandboxLimits& sandbox) {
  json body = {{"source_info", media::to_json(request.source_info)},
               {"plan", request.plan},
               {"ladder", request.ladder},
               {"encoder", media::to_string(request.encoder)},
               {"threads", request.threads},
               {"limits", request.limits},
               {"thumbnails", request.thumbnails}};
  return {{"kind", "transcode"}, {"request", std::move(body)}, {"sandbox", sandbox}};
}

json probe_request(const MediaLimits& limits, const SandboxLimits& sandbox) {
  return {{"kind", "probe"}, {"limits", limits}, {"sandbox", sandbox}};
}

Result<media::TranscodeRequest> parse_transcode_request(const json& header) {
  TRY(json body, from_daemon<json>(header, "request"));
  media::TranscodeRequest request;
  TRY(json info, from_daemon<json>(body, "source_info"));
  TRY(request.source_info, media::media_info_from_json(info));
  TRY(request.plan, from_daemon<media::LadderPlan>(body, "plan"));
  TRY(request.ladder, from_daemon<media::LadderConfig>(body, "ladder"));
  TRY(std::string encoder, from_daemon<std::string>(body, "encoder"));
  TRY(request.encoder, media::parse_encoder_preference(encoder));
  TRY(request.threads, from_daemon<int>(body, "threads"));
  TRY(request.limits, from_daemon<MediaLimits>(body, "limits"));
  TRY(request.thumbnails, from_daemon<media::ThumbnailOptions>(body, "thumbnails"));
  return request;
}

Result<MediaLimits> parse_probe_limits(const json& header) { return from_daemon<MediaLimits>(header, "limits"); }

Result<SandboxLimits> parse_sandbox(const json& header) { return from_daemon<SandboxLimits>(header, "sandbox"); }

json init_event(const Rendition& r) {
  return {{"event", "init"},
          {"id", r.name},
          {"kind", r.kind == TrackKind::video ? "video" : "audio"},
          {"codecs", r.codecs},
          {"width", r.width},
          {"height", r.height},
          {"frame_rate", r.frame_rate},
          {"bandwidth_bps", r.bandwidth_bps},
          {"language", r.language},
          {"channels", r.channels},
          {"sample_rate", r.sample_rate},
          {"timescale", r.timescale},
          {"start", r.start}};
}

json segment_event(const Rendition& rendition, const Segment& segment) {
  return {{"event", "segment"},
          {"id", rendition.name},
          {"number", segment.number},
          {"start", segment.start},
          {"duration", segment.duration}};
}

json finished_event(const Rendition& rendition, int average_bandwidth_bps) {
  return {{"event", "finished"}, {"id", rendition.name}, {"average_bandwidth_bps", average_bandwidth_bps}};
}

json progress_event(const media::TranscodeProgress& p) {
  return {{"event", "progress"}, {"percent", p.percent}, {"fps", p.fps}, {"eta_s", p.eta_s}, {"stage", p.stage}};
}

json image_event(const char* use, const media::EncodedImage& image) {
  return {{"event", "image"}, {"use", use}, {"width", image.width}, {"height", image.height}, {"format", image.format}};
}

json done_event(const media::TranscodeReport& report) {
  json out = {{"event", "done"},
              {"encoder_name", report.encoder_name},
              {"fallback_reason", to_utf8(report.fallback_reason)},
              {"passthrough", report.passthrough},
              {"passthrough_refusal", to_utf8(report.passthrough_refusal)},
              {"audio_passthrough", report.audio_passthrough},
              {"wall_s", report.wall_s},
              {"thumbnails_error", to_utf8(report.thumbnails_error)},
              {"has_thumbnails", report.thumbnails.has_value()}};
  if (report.thumbnails) {
    json tiles = json::array();
    for (const media::TrickplayTile& t : report.thumbnails->tiles)
      tiles.push_back({t.start_s, t.end_s, t.sheet, t.x, t.y, t.width, t.height});
    out["tiles"] = std::move(tiles);
    out["poster_time_s"] = report.thumbnails->poster_time_s;
  }
  return out;
}

json probed_event(const media::MediaInfo& info) { return {{"event", "probed"}, {"info", media::to_json(info)}}; }

json error_event(const Error& error) {
  return {{"event", "error"}, {"code", to_string(error.code)}, {"message", to_utf8(error.message)}};
}

Result<Rendition> parse_rendition(const json& header) {
  Fields f(header);
  Rendition r;
  TRY(r.name, f.word("id", 32, "_-"));
  TRY(std::string kind, f.word("kind", 8, ""));
  if (kind == "video") {
    r.kind = TrackKind::video;
  } else if (kind == "audio") {
    r.kind = TrackKind::audio;
  } else {
    return tl::unexpected(bad("kind", "an unknown"));
  }
  TRY(r.codecs, f.word("codecs", 64, "."));
  TRY(r.width, f.small("width", 0, kMaxPixelsSide));
  TRY(r.height, f.small("height", 0, kMaxPixelsSide));
  TRY(r.frame_rate, f.number("frame_rate", 0, 1000));
  TRY(r.bandwidth_bps, f.small("bandwidth_bps", 0, std::numeric_limits<int>::max()));
  TRY(r.language, f.word("language", 16, "-"));
  TRY(r.channels, f.small("channels", 0, 255));
  TRY(r.sample_rate, f.small("sample_rate", 0, 1'000'000));
  TRY(std::int64_t timescale, f.integer("timescale", 1, std::numeric_limits<std::uint32_t>::max()));
  r.timescale = static_cast<std::uint32_t>(timescale);
  TRY(r.start, f.boolean("start"));
  return r;
}

Result<Segment> parse_segment(const json& header) {
  Fields f(header);
  Segment s;
  TRY(s.number, f.small("number", 0, std::numeric_limits<int>::max()));
  TRY(s.start, f.integer("start", 0, kMaxInt64 / 2));
  TRY(s.duration, f.integer("duration", 0, kMaxInt64 / 2));
  return s;
}

Result<int> parse_average_bandwidth(const json& header) {
  return Fields(header).small("average_bandwidth_bps", 0, std::numeric_limits<int>::max());
}

Result<media::TranscodeProgress> parse_progress(const json& header) {
  Fields f(header);
  media::TranscodeProgress p;
  TRY(p.percent, f.number("percent", 0, 100));
  TRY(p.fps, f.number("fps", 0, 1e7));
  TRY(p.eta_s, f.number("eta_s", 0, 1e9));
  TRY(p.stage, f.word("stage", 16, ""));
  return p;
}

Result<ImageHeader> parse_image(const json& header) {
  Fields f(header);
  ImageHeader image;
  TRY(image.use, f.word("use", 8, ""));
  if (image.use != "poster" && image.use != "sprite") return tl::unexpected(bad("use", "an unknown"));
  TRY(image.width, f.small("width", 1, kMaxPixelsSide));
  TRY(image.height, f.small("height", 1, kMaxPixelsSide));
  TRY(image.format, f.word("format", 8, ""));
  if (image.format != "jpeg" && image.format != "webp") return tl::unexpected(bad("format", "an unknown"));
  return image;
}

Result<media::TranscodeReport> parse_done(const json& header) {
  Fields f(header);
  media::TranscodeReport report;
  TRY(report.encoder_name, f.word("encoder_name", 32, "_"));
  TRY(report.fallback_reason, f.text("fallback_reason", kMaxMessageText));
  TRY(report.wall_s, f.number("wall_s", 0, 1e9));
  TRY(report.passthrough_refusal, f.text("passthrough_refusal", kMaxMessageText));
  auto passthrough = header.find("passthrough");
  if (passthrough == header.end() || !passthrough->is_boolean()) return tl::unexpected(bad("passthrough", "no boolean"));
  report.passthrough = passthrough->get<bool>();
  TRY(report.audio_passthrough, f.small("audio_passthrough", 0, 64));
  TRY(report.thumbnails_error, f.text("thumbnails_error", kMaxMessageText));
  auto has = header.find("has_thumbnails");
  if (has == header.end() || !has->is_boolean()) return tl::unexpected(bad("has_thumbnails", "no boolean"));
  if (!has->get<bool>()) return report;

  media::Thumbnails thumbnails;
  TRY(thumbnails.poster_time_s, f.number("poster_time_s", 0, 1e9));
  auto tiles = header.find("tiles");
  constexpr std::size_t kMaxTiles = 100'000;
  if (tiles == header.end() || !tiles->is_array() || tiles->size() > kMaxTiles)
    return tl::unexpected(bad("tiles", "no list or too long a list of"));
  for (const json& t : *tiles) {
    if (!t.is_array() || t.size() != 7) return tl::unexpected(bad("tiles", "a malformed tile in"));
    json named = {{"start_s", t[0]}, {"end_s", t[1]}, {"sheet", t[2]}, {"x", t[3]},
                  {"y", t[4]},       {"width", t[5]}, {"height", t[6]}};
    Fields tf(named);
    media::TrickplayTile tile;
    TRY(tile.start_s, tf.number("start_s", 0, 1e9));
    TRY(tile.end_s, tf.number("end_s", tile.start_s, 1e9));
    TRY(tile.sheet, tf.small("sheet", 0, static_cast<int>(kMaxTiles)));
    TRY(tile.x, tf.small("x", 0, kMaxPixelsSide));
    TRY(tile.y, tf.small("y", 0, kMaxPixelsSide));
    TRY(tile.width, tf.small("width", 1, kMaxPixelsSide));
    TRY(tile.height, tf.small("height", 1, kMaxPixelsSide));
    thumbnails.tiles.push_back(tile);
  }
  report.thumbnails = std::move(thumbnails);
  return report;
}

Error parse_error(const json& header) {
  Fields f(header);
  auto code_text = f.word("code", 32, "_");
  auto message = f.text("message", kMaxMessageText);
  Error error{ErrorCode::internal, message ? *message : "a media worker failed without saying why"};
  if (!code_text) return error;
  // What a worker's failures can be; anything else it claims is a bug of ours or a lie.
  for (ErrorCode code : {ErrorCode::unsupported_media, ErrorCode::unprocessable, ErrorCode::codec,
                         ErrorCode::hardware, ErrorCode::resource, ErrorCode::io, ErrorCode::unavailable}) {
    if (*code_text == to_string(code)) error.code = code;
  }
  return error;
}

}  // namespace cinevault::worker::messages
