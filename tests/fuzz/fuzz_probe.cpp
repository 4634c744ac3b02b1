// libFuzzer target: media::probe_file() on the input bytes, with the default MediaLimits.
// probe_file takes a path, so each input is written to one file per process in /dev/shm
// (RAM), rewritten per input and removed at exit. Finds crashes in our probe code and in
// the demuxers and decoders the format whitelist lets through. FFmpeg itself is Debian's
// uninstrumented build: coverage counts our code only, and a memory error inside libav
// shows up only if it faults.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include <nlohmann/json.hpp>

extern "C" {
#include <libavutil/log.h>
}

#include "cinevault/media/probe.hpp"

namespace {

std::filesystem::path scratch_path;

void remove_scratch() {
  std::error_code ignored;
  std::filesystem::remove(scratch_path, ignored);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  av_log_set_level(AV_LOG_QUIET);
  std::filesystem::path dir = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
  scratch_path = dir / ("cinevault-fuzz-probe-" + std::to_string(getpid()) + ".bin");
  std::atexit(remove_scratch);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::FILE* file = std::fopen(scratch_path.c_str(), "wb");
  if (!file) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, file) != size) std::abort();
  std::fclose(file);

  static const cinevault::MediaLimits limits{};
  auto info = cinevault::media::probe_file(scratch_path, limits);
  if (info) {
    // What the callers rely on when probe_file accepts a file.
    if (info->video_stream < 0 || static_cast<std::size_t>(info->video_stream) >= info->streams.size()) __builtin_trap();
    if (static_cast<int>(info->streams.size()) > limits.max_streams) __builtin_trap();
    (void)cinevault::media::to_json(*info);
  }
  return 0;
}
