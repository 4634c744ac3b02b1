// HLS (RFC 8216) multivariant and media playlists. The progressive form (EVENT, fixed
// target duration, START at 0, ENDLIST appended at the end) is the one docs/design.md
// fixes; docs/manifests.md has the details.
#include "cinevault/manifest/manifest.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "common.hpp"
#include "format.hpp"

namespace cinevault::manifest {
namespace {

using detail::Sorted;

// AAC-LC frames carry 1024 samples; audio is cut at the frame nearest each video boundary.
constexpr double kAacFrameSamples = 1024;

// EXT-X-TARGETDURATION: RFC 8216 4.3.3.1 wants every EXTINF, rounded to the nearest integer,
// to be at most this; docs/design.md wants it fixed from the first response. The segmenter
// cuts video at the first frame at or after each nominal boundary, and audio at the AAC frame
// nearest it, so no segment exceeds the configured duration by more than one video frame
// plus half an AAC frame: the rounded bound is known before the first segment exists. The
// listed durations only raise it if a segment breaks that rule (then it must grow to stay
// valid). A ceiling instead of rounding would turn 4.004 s (29.97 fps) into 5 and change
// the value mid-stream.
std::int64_t target_duration_s(const Version& version) {
  double video_overshoot_s = 0;
  double audio_overshoot_s = 0;
  for (const Rendition& rendition : version.renditions) {
    if (rendition.kind == TrackKind::video && rendition.frame_rate > 0) {
      video_overshoot_s = std::max(video_overshoot_s, 1 / rendition.frame_rate);
    } else if (rendition.kind == TrackKind::audio && rendition.sample_rate > 0) {
      audio_overshoot_s = std::max(audio_overshoot_s, kAacFrameSamples / 2 / rendition.sample_rate);
    }
  }
  auto target = static_cast<std::int64_t>(std::floor(version.target_segment_s + video_overshoot_s +
                                                     audio_overshoot_s + 0.5));
  for (const Rendition& rendition : version.renditions) {
    for (const Segment& segment : rendition.segments) {
      target = std::max(target, detail::round_seconds(segment.duration, rendition.timescale));
    }
  }
  return std::max<std::int64_t>(target, 1);
}

// CODECS of a variant: its video codec, then every distinct audio codec of the group.
std::string variant_codecs(const Rendition& video, const Sorted& sorted) {
  std::string codecs = video.codecs;
  std::vector<std::string> seen;
  for (const Rendition* audio : sorted.audio) {
    if (std::find(seen.begin(), seen.end(), audio->codecs) != seen.end()) continue;
    seen.push_back(audio->codecs);
    codecs += ',';
    codecs += audio->codecs;
  }
  return codecs;
}

}  // namespace

Result<std::string> hls_master(const Version& version, const Options& options) {
  RETURN_IF_ERROR(detail::check_version(version));
  RETURN_IF_ERROR(detail::check_startable(version));
  TRY(const std::string base, detail::checked_base_url(options));
  TRY(const std::string query, detail::checked_query(options));
  const Sorted sorted = detail::sort_renditions(version);
  const std::string prefix = detail::version_url(base, version);

  std::string out = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n";

  std::int64_t audio_peak_bps = 0;
  std::int64_t audio_average_bps = 0;
  bool audio_average_known = true;
  for (std::size_t i = 0; i < sorted.audio.size(); ++i) {
    const Rendition& audio = *sorted.audio[i];
    audio_peak_bps = std::max<std::int64_t>(audio_peak_bps, audio.bandwidth_bps);
    audio_average_bps = std::max<std::int64_t>(audio_average_bps, audio.average_bandwidth_bps);
    audio_average_known = audio_average_known && audio.finished && audio.average_bandwidth_bps > 0;

    // Names and languages were checked (detail::is_safe_name, normalize_language): nothing in
    // them can end an HLS quoted string.
    out += fmt::format("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"{}\"", audio.name);
    if (const std::string language = detail::normalize_language(audio.language); !language.empty()) {
      out += fmt::format(",LANGUAGE=\"{}\"", language);
    }
    out += fmt::format(",DEFAULT={},AUTOSELECT=YES", i == 0 ? "YES" : "NO");
    if (audio.channels > 0) out += fmt::format(",CHANNELS=\"{}\"", audio.channels);
    out += fmt::format(",URI=\"{}/{}.m3u8{}\"\n", prefix, audio.name, query);
  }

  for (const Rendition* video : sorted.video) {
    out += fmt::format("#EXT-X-STREAM-INF:BANDWIDTH={}", video->bandwidth_bps + audio_peak_bps);
    if (video->finished && video->average_bandwidth_bps > 0 && audio_average_known) {
      out += fmt::format(",AVERAGE-BANDWIDTH={}", video->average_bandwidth_bps + audio_average_bps);
    }
    out += fmt::format(",CODECS=\"{}\",RESOLUTION={}x{}", variant_codecs(*video, sorted), video->width,
                       video->height);
    if (video->frame_rate > 0) out += fmt::format(",FRAME-RATE={:.3f}", video->frame_rate);
    if (!sorted.audio.empty()) out += ",AUDIO=\"audio\"";
    out += fmt::format("\n{}/{}.m3u8{}\n", prefix, video->name, query);
  }
  return out;
}

Result<std::string> hls_media(const Version& version, std::string_view rendition_name, const Options& options) {
  RETURN_IF_ERROR(detail::check_version(version));
  TRY(const std::string base, detail::checked_base_url(options));
  TRY(const std::string query, detail::checked_query(options));
  auto it = std::find_if(version.renditions.begin(), version.renditions.end(),
                         [&](const Rendition& r) { return r.name == rendition_name; });
  if (it == version.renditions.end()) {
    return fail(ErrorCode::not_found, fmt::format("video {} version {} has no rendition '{}'", version.video_id,
                                                  version.number, rendition_name));
  }
  const Rendition& rendition = *it;
  RETURN_IF_ERROR(detail::check_has_segment(version, rendition));

  // Everything above the segments stays the same for the life of the version
  // (docs/design.md: at completion only EXT-X-ENDLIST is appended).
  std::string out = fmt::format(
      "#EXTM3U\n"
      "#EXT-X-VERSION:7\n"
      "#EXT-X-TARGETDURATION:{}\n"
      "#EXT-X-MEDIA-SEQUENCE:0\n"
      "#EXT-X-PLAYLIST-TYPE:EVENT\n"
      "#EXT-X-INDEPENDENT-SEGMENTS\n"
      "#EXT-X-START:TIME-OFFSET=0\n"
      "#EXT-X-MAP:URI=\"{}\"\n",
      target_duration_s(version), detail::object_url(base, rendition.init_sha256, ".mp4") + query);
  out.reserve(out.size() + rendition.segments.size() * (base.size() + query.size() + 100));
  for (const Segment& segment : rendition.segments) {
    out += "#EXTINF:";
    out += detail::decimal_seconds(segment.duration, rendition.timescale, 5);
    out += ",\n";
    out += detail::object_url(base, segment.sha256, ".m4s");
    out += query;
    out += '\n';
  }
  // ENDLIST only once the whole version is complete, on every playlist at once: Shaka takes a
  // presentation for VOD from the first playlist it reads with ENDLIST, and ends it at the
  // shortest playlist it holds then (a passthrough top rung finishes long before the others).
  if (detail::is_complete(version)) out += "#EXT-X-ENDLIST\n";
  return out;
}

}  // namespace cinevault::manifest
