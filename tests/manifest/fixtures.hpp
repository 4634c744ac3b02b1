// Versions shaped like the transcoder's output, for the manifest tests: segments cut by the
// fast-start schedule (1 s, 2 s, then 4 s nominal; a video boundary is the first frame at or
// after the nominal time, audio is cut at the AAC frame nearest it), realistic timescales,
// and SHA-256 hashes of a name so that every URL is distinct and stable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cinevault/manifest/manifest.hpp"

namespace cinevault::manifest::testing {

// 2026-11-23T10:00:00Z
inline constexpr std::int64_t kCreatedAtMs = 1795428000000;

struct FrameRate {
  std::int64_t num = 30000;
  std::int64_t den = 1001;
  double value() const { return static_cast<double>(num) / static_cast<double>(den); }
};

// The first output frame of segment k under the fast-start schedule at `rate`.
std::int64_t start_frame(int k, FrameRate rate);

// A video rendition with segments 0..count-1 of a clip of `total_frames` frames
// (count = -1: all of them, and finished with a measured average bandwidth).
Rendition video(const std::string& name, int width, int height, int bandwidth_bps, const std::string& codecs,
                FrameRate rate, std::uint32_t timescale, std::int64_t total_frames, int count);

// The AAC-LC stereo 48 kHz rendition that goes with such a video.
Rendition audio(const std::string& name, const std::string& language, FrameRate rate, std::int64_t total_frames,
                int count);

// The hex SHA-256 of `seed`.
std::string sha256_of(const std::string& seed);

// The version of those renditions, with the video id every fixture uses; its smallest
// video rendition is the start one, as the transcoder makes it.
Version version_of(std::vector<Rendition> renditions, int number = 3);

}  // namespace cinevault::manifest::testing
