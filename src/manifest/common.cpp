#include "common.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "format.hpp"

namespace cinevault::manifest::detail {
namespace {

tl::unexpected<Error> broken(const Version& version, const std::string& what) {
  return fail(ErrorCode::internal, fmt::format("manifest data of video {} version {}: {}", version.video_id,
                                               version.number, what));
}

bool is_codecs(std::string_view codecs) {
  return !codecs.empty() && std::all_of(codecs.begin(), codecs.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_' || c == '+';
  });
}

Result<void> check_rendition(const Version& version, const Rendition& rendition) {
  const std::string& name = rendition.name;
  if (!is_safe_name(name)) return broken(version, fmt::format("rendition name '{}' is not URL-safe", name));
  if (rendition.kind != TrackKind::video && rendition.kind != TrackKind::audio) {
    return broken(version, fmt::format("rendition {} has kind {}", name, static_cast<int>(rendition.kind)));
  }
  if (!is_codecs(rendition.codecs)) {
    return broken(version, fmt::format("rendition {} has codecs '{}'", name, rendition.codecs));
  }
  if (rendition.kind == TrackKind::video && (rendition.width <= 0 || rendition.height <= 0)) {
    return broken(version, fmt::format("video rendition {} has no size", name));
  }
  if (!std::isfinite(rendition.frame_rate) || rendition.frame_rate < 0) {
    return broken(version, fmt::format("rendition {} has frame rate {}", name, rendition.frame_rate));
  }
  if (rendition.bandwidth_bps <= 0 || rendition.average_bandwidth_bps < 0 || rendition.channels < 0 ||
      rendition.sample_rate < 0) {
    return broken(version, fmt::format("rendition {} has a negative or missing bandwidth, channels or rate", name));
  }
  if (rendition.start && rendition.kind != TrackKind::video) {
    return broken(version, fmt::format("audio rendition {} is marked start", name));
  }
  if (rendition.timescale == 0) return broken(version, fmt::format("rendition {} has timescale 0", name));
  if (!is_sha256_hex(rendition.init_sha256)) {
    return broken(version, fmt::format("rendition {} has init hash '{}'", name, rendition.init_sha256));
  }
  if (rendition.finished && rendition.segments.empty()) {
    return broken(version, fmt::format("rendition {} is finished without segments", name));
  }
  for (std::size_t i = 0; i < rendition.segments.size(); ++i) {
    const Segment& segment = rendition.segments[i];
    if (!is_sha256_hex(segment.sha256)) {
      return broken(version, fmt::format("segment {} of {} has hash '{}'", i, name, segment.sha256));
    }
    if (segment.start < 0 || segment.duration <= 0) {
      return broken(version, fmt::format("segment {} of {} has start {} duration {}", i, name, segment.start,
                                         segment.duration));
    }
    if (i > 0) {
      const Segment& previous = rendition.segments[i - 1];
      if (segment.start != previous.start + previous.duration) {
        return broken(version, fmt::format("segment {} of {} starts at {}, the previous one ends at {}", i, name,
                                           segment.start, previous.start + previous.duration));
      }
    }
  }
  return {};
}

}  // namespace

Result<void> check_version(const Version& version) {
  if (!is_safe_name(version.video_id)) return broken(version, "the video id is not URL-safe");
  if (version.number < 0) return broken(version, "negative version number");
  if (!std::isfinite(version.target_segment_s) || version.target_segment_s <= 0) {
    return broken(version, fmt::format("target segment duration {}", version.target_segment_s));
  }
  std::set<std::string_view> names;
  bool has_video = false;
  int starts = 0;
  for (const Rendition& rendition : version.renditions) {
    RETURN_IF_ERROR(check_rendition(version, rendition));
    if (!names.insert(rendition.name).second) {
      return broken(version, fmt::format("two renditions are named {}", rendition.name));
    }
    has_video = has_video || rendition.kind == TrackKind::video;
    starts += rendition.start ? 1 : 0;
  }
  if (!has_video) return broken(version, "no video rendition");
  if (starts != 1) return broken(version, fmt::format("{} renditions are marked start, not one", starts));
  return {};
}

Result<void> check_has_segment(const Version& version, const Rendition& rendition) {
  if (!rendition.segments.empty()) return {};
  return fail(ErrorCode::unavailable, fmt::format("video {} version {} is not playable yet: {} has no segment",
                                                  version.video_id, version.number, rendition.name));
}

Result<void> check_playable(const Version& version) {
  for (const Rendition& rendition : version.renditions) RETURN_IF_ERROR(check_has_segment(version, rendition));
  return {};
}

Result<void> check_startable(const Version& version) {
  const Sorted sorted = sort_renditions(version);
  for (const Rendition* audio : sorted.audio) RETURN_IF_ERROR(check_has_segment(version, *audio));
  return check_has_segment(version, *sorted.start);
}

namespace {

// RFC 3986 characters (unreserved, reserved and '%'), minus '$' (DASH templates) and '"'.
bool url_characters_only(std::string_view text) {
  constexpr std::string_view kAllowed = "-._~:/?#[]@!&'()*+,;=%";
  return std::all_of(text.begin(), text.end(), [&](char c) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return alnum || kAllowed.find(c) != std::string_view::npos;
  });
}

}  // namespace

Result<std::string> checked_base_url(const Options& options) {
  std::string base = options.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (!url_characters_only(base)) {
    return fail(ErrorCode::invalid_argument,
                fmt::format("base URL '{}' has a character that cannot appear in a manifest URL", options.base_url));
  }
  return base;
}

Result<std::string> checked_query(const Options& options) {
  if (options.query.empty()) return options.query;
  if (options.query.front() != '?' || !url_characters_only(options.query))
    return fail(ErrorCode::invalid_argument, "the query for manifest URLs must start with '?' and hold URL characters only");
  return options.query;
}

bool is_complete(const Version& version) {
  return std::all_of(version.renditions.begin(), version.renditions.end(),
                     [](const Rendition& rendition) { return rendition.finished; });
}

Sorted sort_renditions(const Version& version) {
  Sorted sorted;
  for (const Rendition& rendition : version.renditions) {
    (rendition.kind == TrackKind::video ? sorted.video : sorted.audio).push_back(&rendition);
    if (rendition.start) sorted.start = &rendition;
  }
  std::stable_sort(sorted.video.begin(), sorted.video.end(), [](const Rendition* a, const Rendition* b) {
    if (a->height != b->height) return a->height > b->height;
    return a->bandwidth_bps > b->bandwidth_bps;
  });
  return sorted;
}

std::string object_url(const std::string& base, const std::string& sha256, const char* extension) {
  return fmt::format("{}/objects/{}{}", base, sha256, extension);
}

std::string version_url(const std::string& base, const Version& version) {
  return fmt::format("{}/videos/{}/v{}", base, version.video_id, version.number);
}

}  // namespace cinevault::manifest::detail
