#include "fixtures.hpp"

#include <cstdlib>

#include "cinevault/core/hash.hpp"

namespace cinevault::manifest::testing {
namespace {

constexpr std::int64_t kAacFrameSamples = 1024;
constexpr std::int64_t kSampleRate = 48000;

// Nominal start of segment k in whole seconds: 0, 1, 3, 7, 11, ...
std::int64_t nominal_start_s(int k) {
  if (k == 0) return 0;
  if (k == 1) return 1;
  return 3 + 4 * static_cast<std::int64_t>(k - 2);
}

// Number of segments of a clip of `total_frames`.
int segment_count(FrameRate rate, std::int64_t total_frames) {
  int k = 0;
  while (start_frame(k + 1, rate) < total_frames) ++k;
  return k + 1;
}

// The AAC frame whose start is nearest video frame `frame` (half rounds up).
std::int64_t audio_frame_at(std::int64_t frame, FrameRate rate) {
  const std::int64_t numerator = 2 * frame * rate.den * kSampleRate + rate.num * kAacFrameSamples;
  return numerator / (2 * rate.num * kAacFrameSamples);
}

}  // namespace

std::int64_t start_frame(int k, FrameRate rate) {
  const std::int64_t nominal = nominal_start_s(k) * rate.num;
  return (nominal + rate.den - 1) / rate.den;
}

std::string sha256_of(const std::string& seed) {
  Hasher hasher(HashAlgorithm::sha256);
  hasher.update(seed.data(), seed.size());
  return hasher.finish_hex();
}

Rendition video(const std::string& name, int width, int height, int bandwidth_bps, const std::string& codecs,
                FrameRate rate, std::uint32_t timescale, std::int64_t total_frames, int count) {
  Rendition rendition;
  rendition.name = name;
  rendition.kind = TrackKind::video;
  rendition.codecs = codecs;
  rendition.width = width;
  rendition.height = height;
  rendition.frame_rate = rate.value();
  rendition.bandwidth_bps = bandwidth_bps;
  rendition.timescale = timescale;
  rendition.init_sha256 = sha256_of(name + "/init");
  const std::int64_t ticks_per_frame = timescale * rate.den / rate.num;
  const int all = segment_count(rate, total_frames);
  const int listed = count < 0 ? all : count;
  for (int k = 0; k < listed; ++k) {
    const std::int64_t first = start_frame(k, rate);
    const std::int64_t end = k + 1 < all ? start_frame(k + 1, rate) : total_frames;
    rendition.segments.push_back(Segment{k, first * ticks_per_frame, (end - first) * ticks_per_frame, 0,
                                         sha256_of(name + "/" + std::to_string(k))});
  }
  if (count < 0) {
    rendition.finished = true;
    rendition.average_bandwidth_bps = bandwidth_bps * 7 / 10;
  }
  return rendition;
}

Rendition audio(const std::string& name, const std::string& language, FrameRate rate, std::int64_t total_frames,
                int count) {
  Rendition rendition;
  rendition.name = name;
  rendition.kind = TrackKind::audio;
  rendition.codecs = "mp4a.40.2";
  rendition.bandwidth_bps = 128000;
  rendition.language = language;
  rendition.channels = 2;
  rendition.sample_rate = kSampleRate;
  rendition.timescale = kSampleRate;
  rendition.init_sha256 = sha256_of(name + "/init");
  const int all = segment_count(rate, total_frames);
  const int listed = count < 0 ? all : count;
  // The audio of the clip lasts as long as its video, rounded up to whole AAC frames.
  const std::int64_t total_samples = total_frames * rate.den * kSampleRate / rate.num;
  const std::int64_t total_aac_frames = (total_samples + kAacFrameSamples - 1) / kAacFrameSamples;
  for (int k = 0; k < listed; ++k) {
    const std::int64_t first = k == 0 ? 0 : audio_frame_at(start_frame(k, rate), rate);
    const std::int64_t end = k + 1 < all ? audio_frame_at(start_frame(k + 1, rate), rate) : total_aac_frames;
    rendition.segments.push_back(Segment{k, first * kAacFrameSamples, (end - first) * kAacFrameSamples, 0,
                                         sha256_of(name + "/" + std::to_string(k))});
  }
  if (count < 0) {
    rendition.finished = true;
    rendition.average_bandwidth_bps = 129000;
  }
  return rendition;
}

Version version_of(std::vector<Rendition> renditions, int number) {
  Version version;
  version.video_id = "3f9c2a7b1d4e8f60";
  version.number = number;
  version.target_segment_s = 4;
  version.created_at_ms = kCreatedAtMs;
  version.updated_at_ms = kCreatedAtMs + 6250;
  version.renditions = std::move(renditions);
  Rendition* smallest = nullptr;
  for (Rendition& rendition : version.renditions)
    if (rendition.kind == TrackKind::video && (!smallest || rendition.height < smallest->height)) smallest = &rendition;
  if (smallest) smallest->start = true;
  return version;
}

}  // namespace cinevault::manifest::testing
