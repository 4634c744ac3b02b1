// MediaInfo as JSON: what the media worker reports to the daemon and what the database keeps.
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "cinevault/media/probe.hpp"
#include "media_tags.hpp"

namespace cinevault::media {

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
      if (std::string language = in.value("language", std::string()); is_language_tag(language))
        stream.language = std::move(language);
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
