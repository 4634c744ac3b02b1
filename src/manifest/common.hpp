// What the HLS and DASH writers share: the contract check of manifest.hpp, the version
// sorted for output, and URLs. Internal to manifest/.
#pragma once

#include <string>
#include <vector>

#include "cinevault/core/result.hpp"
#include "cinevault/manifest/manifest.hpp"

namespace cinevault::manifest::detail {

// Checks everything manifest.hpp promises about `version` (names, hashes, timescales,
// contiguous segments, ...): `internal` with the first violation found.
Result<void> check_version(const Version& version);

// `unavailable` unless the rendition has at least one segment.
Result<void> check_has_segment(const Version& version, const Rendition& rendition);

// `unavailable` unless every rendition has at least one segment.
Result<void> check_playable(const Version& version);

// `unavailable` unless every audio rendition and the start rendition have at least one
// segment: enough for a player that starts on that rung (the transcoder stores its first
// segment before the others'); the other rungs' playlists follow. After check_version.
Result<void> check_startable(const Version& version);

// Options::base_url without a trailing '/'. invalid_argument when it has a character that
// is not allowed in a URI, or '$' (a DASH template would read it as an identifier).
Result<std::string> checked_base_url(const Options& options);
// Options::query, when it can follow a URL in a manifest: starts with '?', URL characters only.
Result<std::string> checked_query(const Options& options);

// The version's renditions in output order; pointers into the Version.
struct Sorted {
  std::vector<const Rendition*> video;  // tallest first, then highest bandwidth first
  std::vector<const Rendition*> audio;  // as given; the first one is the default
  const Rendition* start = nullptr;     // the one marked start (never null after check_version)
};
Sorted sort_renditions(const Version& version);
// Every rendition is finished: the MPD is static and every HLS playlist has EXT-X-ENDLIST.
bool is_complete(const Version& version);

// "<base>/objects/<sha256><extension>"
std::string object_url(const std::string& base, const std::string& sha256, const char* extension);
// "<base>/videos/<id>/v<number>": where the per-version routes live.
std::string version_url(const std::string& base, const Version& version);

}  // namespace cinevault::manifest::detail
