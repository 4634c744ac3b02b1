#include "cinevault/manifest/trickplay.hpp"

#include <cmath>
#include <cstdint>

#include <fmt/format.h>

namespace cinevault::manifest {
namespace {

// WebVTT timestamps: hours:minutes:seconds.milliseconds, always with hours.
std::string timestamp(double seconds) {
  auto ms = static_cast<std::int64_t>(std::llround(std::max(0.0, seconds) * 1000));
  return fmt::format("{:02}:{:02}:{:02}.{:03}", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, ms % 1000);
}

}  // namespace

std::string trickplay_vtt(const std::vector<TrickplayCue>& cues) {
  std::string text = "WEBVTT\n";
  for (const auto& cue : cues)
    text += fmt::format("\n{} --> {}\n{}#xywh={},{},{},{}\n", timestamp(cue.start_s), timestamp(cue.end_s),
                        cue.image_url, cue.x, cue.y, cue.width, cue.height);
  return text;
}

}  // namespace cinevault::manifest
