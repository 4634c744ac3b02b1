// HLS and DASH manifests as pure functions of the data: (version, renditions, segments) in,
// text out. No I/O, no clock, no global state: the same input always gives the same bytes,
// so golden files are stable and the caller can use a hash of the text as the ETag.
// Thread-safe (nothing shared). docs/manifests.md describes the exact forms and why.
//
// URLs (prefixed with Options::base_url, else root-relative):
//   HLS   /videos/{id}/master.m3u8 lists /videos/{id}/v{version}/{rendition}.m3u8, whose
//         segments are /objects/<sha256>.m4s with EXT-X-MAP /objects/<init_sha256>.mp4.
//   DASH  /videos/{id}/manifest.mpd with SegmentTemplate initialization
//         /videos/{id}/v{version}/{rendition}/init.mp4 and media
//         /videos/{id}/v{version}/{rendition}/{Segment::start}.m4s ($Time$); the daemon
//         serves those two routes from the stored objects.
//
// Errors: `unavailable` while a rendition the manifest needs has no segment yet (retry
// shortly): the MPD needs every rendition, the HLS master the audio and the start video
// rendition (Rendition::start: players starting there need no more), a media playlist its
// own rendition; `not_found` for an unknown rendition name; `internal` when the data breaks
// the contract below and in core/rendition.hpp (a bug upstream, never the viewer's fault);
// `invalid_argument` for an unusable Options::base_url or Options::query.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cinevault/core/rendition.hpp"
#include "cinevault/core/result.hpp"

namespace cinevault::manifest {

struct Version {
  std::string video_id;           // [A-Za-z0-9._~-], appears in URLs
  int number = 0;                 // the version's number, part of URLs that must not mix versions
  double target_segment_s = 4;    // the segment duration this version was cut with (> 0)
  std::int64_t created_at_ms = 0; // Unix ms; fixes the DASH availabilityStartTime of this version
  std::int64_t updated_at_ms = 0; // Unix ms of the last change; DASH publishTime
  // At least one video rendition, exactly one of them `start`. Video renditions are listed
  // tallest first whatever their order here; audio renditions keep their order and the first
  // one is the default. Segment::number and size are not used.
  // The version is complete (VOD) when every rendition is finished.
  std::vector<Rendition> renditions;
};

struct Options {
  std::string base_url;  // "https://media.example.com" for absolute URLs; "" = root-relative
  // Appended to every URL the manifest names ("?share=…": a share link's signature, which
  // players do not carry from a manifest's URL to the URLs inside it). "" or starting with '?'.
  std::string query;
};

// HLS version 7 multivariant playlist: EXT-X-MEDIA per audio rendition, EXT-X-STREAM-INF per
// video rendition.
Result<std::string> hls_master(const Version& version, const Options& options);

// HLS media playlist of the rendition named `rendition` (as in its URL): an EVENT playlist
// that only grows, with EXT-X-ENDLIST once the version is complete (not when this rendition
// alone is finished: players take one playlist's ENDLIST for the whole presentation).
Result<std::string> hls_media(const Version& version, std::string_view rendition, const Options& options);

// DASH MPD (ISO 23009-1, CMAF profile): type="dynamic" while any rendition is growing,
// type="static" with mediaPresentationDuration when the version is complete.
Result<std::string> dash_mpd(const Version& version, const Options& options);

}  // namespace cinevault::manifest
