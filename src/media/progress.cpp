#include "progress.hpp"

#include <algorithm>
#include <string_view>

namespace cinevault::media {

constexpr auto kProgressInterval = std::chrono::milliseconds(500);

void ProgressReporter::report(const char* stage, std::int64_t frames_encoded, std::int64_t frames_decoded,
                              bool force) {
  if (!callback_) return;
  auto now = Clock::now();
  if (!force && now - last_ < kProgressInterval) return;
  last_ = now;
  TranscodeProgress progress;
  progress.stage = stage;
  double elapsed = elapsed_s();
  progress.percent =
      expected_frames_ > 0 ? std::min(99.0, 100.0 * static_cast<double>(frames_encoded) / expected_frames_) : 0;
  if (std::string_view(stage) == "done") progress.percent = 100;
  progress.fps = elapsed > 0 ? static_cast<double>(frames_decoded) / elapsed : 0;
  progress.eta_s = progress.percent > 0 ? elapsed * (100 - progress.percent) / progress.percent : 0;
  callback_(progress);
}

}  // namespace cinevault::media
