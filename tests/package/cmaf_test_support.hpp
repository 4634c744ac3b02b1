// Test helpers shared by the package and transcode tests: a listener that records what a
// segmenter reports (and can write init + segment files for ffprobe), a reader of the
// fragment boxes we check ourselves (tfdt, trun), and running the ffmpeg/ffprobe CLIs.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cinevault/package/segment_listener.hpp"

namespace cinevault::test {

namespace fs = std::filesystem;

// A fresh directory under CINEVAULT_TEST_TMP, removed with the object.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    fs::create_directories(CINEVAULT_TEST_TMP);
    std::string pattern = (fs::path(CINEVAULT_TEST_TMP) / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Runs a shell command; its stdout, or "" with ok = false when it exits non-zero.
inline std::string run(const std::string& command, bool* ok = nullptr) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    if (ok) *ok = false;
    return out;
  }
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  int status = ::pclose(pipe);
  if (ok) *ok = status == 0;
  return out;
}

// Makes a clip with the ffmpeg CLI: `args` are its inputs and output options.
inline bool make_clip(const fs::path& out, const std::string& args) {
  bool ok = false;
  run("ffmpeg -nostdin -v error -y " + args + " '" + out.string() + "' 2>&1", &ok);
  return ok;
}

inline nlohmann::json ffprobe(const fs::path& file, const std::string& args) {
  std::string out = run("ffprobe -v error -of json " + args + " '" + file.string() + "'");
  return out.empty() ? nlohmann::json() : nlohmann::json::parse(out, nullptr, false);
}

inline void write_file(const fs::path& path, const std::string& a, const std::string& b = {}) {
  std::ofstream out(path, std::ios::binary);
  out << a << b;
}

struct RecordedSegment {
  Segment info;
  std::string bytes;
};

struct RecordedRendition {
  Rendition info;
  std::string init;
  std::vector<RecordedSegment> segments;
  bool finished = false;
  int average_bandwidth_bps = 0;
  std::vector<std::string> order_errors;
};

// Records every call and checks the call order per rendition.
class RecordingListener : public package::SegmentListener {
 public:
  Result<void> on_init_segment(const Rendition& rendition, std::string bytes) override {
    RecordedRendition& r = renditions[rendition.name];
    if (!r.init.empty()) r.order_errors.push_back("init twice");
    r.info = rendition;
    r.init = std::move(bytes);
    events.push_back("init " + rendition.name);
    return {};
  }
  Result<void> on_media_segment(const Rendition& rendition, const Segment& segment, std::string bytes) override {
    RecordedRendition& r = renditions[rendition.name];
    if (r.init.empty()) r.order_errors.push_back("segment before init");
    if (r.finished) r.order_errors.push_back("segment after finished");
    r.segments.push_back({segment, std::move(bytes)});
    events.push_back("segment " + rendition.name + " " + std::to_string(segment.number));
    if (fail_after_segments >= 0 && static_cast<int>(events.size()) > fail_after_segments)
      return fail(ErrorCode::io, "the listener refuses");
    return {};
  }
  Result<void> on_rendition_finished(const Rendition& rendition, int average_bandwidth_bps) override {
    RecordedRendition& r = renditions[rendition.name];
    r.finished = true;
    r.average_bandwidth_bps = average_bandwidth_bps;
    events.push_back("finished " + rendition.name);
    return {};
  }

  // Writes <dir>/<id>_<n>.mp4 = init + segment n, for ffprobe.
  std::vector<fs::path> write_pairs(const fs::path& dir, const std::string& id) const {
    std::vector<fs::path> paths;
    const RecordedRendition& r = renditions.at(id);
    for (const RecordedSegment& segment : r.segments) {
      paths.push_back(dir / (id + "_" + std::to_string(segment.info.number) + ".mp4"));
      write_file(paths.back(), r.init, segment.bytes);
    }
    return paths;
  }

  std::map<std::string, RecordedRendition> renditions;
  std::vector<std::string> events;
  int fail_after_segments = -1;
};

// What one fragment says about its samples, read from its moof (one traf).
struct Fragment {
  bool ok = false;
  std::uint64_t base_decode_time = 0;  // tfdt
  int trun_version = 0;
  struct Sample {
    std::int64_t decode_time = 0;
    std::int64_t presentation_time = 0;
    std::uint32_t duration = 0;
    bool sync = false;
  };
  std::vector<Sample> samples;
  std::int64_t earliest_presentation() const {
    std::int64_t earliest = samples.empty() ? 0 : samples.front().presentation_time;
    for (const Sample& s : samples) earliest = std::min(earliest, s.presentation_time);
    return earliest;
  }
};

inline std::uint32_t be32(const std::string& b, std::size_t at) {
  return (std::uint32_t(std::uint8_t(b[at])) << 24) | (std::uint32_t(std::uint8_t(b[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(b[at + 2])) << 8) | std::uint32_t(std::uint8_t(b[at + 3]));
}

// Top-level box types in order ("moof", "mdat", ...).
inline std::vector<std::string> top_level_boxes(const std::string& bytes) {
  std::vector<std::string> types;
  for (std::size_t at = 0; at + 8 <= bytes.size();) {
    std::uint32_t size = be32(bytes, at);
    types.push_back(bytes.substr(at + 4, 4));
    if (size < 8) break;
    at += size;
  }
  return types;
}

// The media time of the first entry of the init segment's edit list (moov/trak/edts/elst,
// version 0), or 0 when there is none: presentation times are moved earlier by it.
inline std::int64_t edit_list_media_time(const std::string& init) {
  std::size_t at = init.find("elst");
  if (at == std::string::npos || at + 20 > init.size() || init[at + 4] != 0 || be32(init, at + 8) == 0) return 0;
  // type, version+flags, entry_count, segment_duration, media_time
  return static_cast<std::int32_t>(be32(init, at + 16));
}

// Reads tfhd defaults, tfdt and trun of a media segment (moof with a single traf), as
// ISO/IEC 14496-12 and MSE read them: a sample presents at its decode time plus its
// composition offset (signed in trun version 1) minus the edit list's media time.
inline Fragment parse_fragment(const std::string& bytes, std::uint32_t trex_default_duration = 0,
                               std::uint32_t trex_default_flags = 0, std::int64_t edit_media_time = 0) {
  Fragment fragment;
  auto find_child = [&](std::size_t begin, std::size_t end, const char* type, std::size_t* found_end) -> std::size_t {
    for (std::size_t at = begin; at + 8 <= end;) {
      std::uint32_t size = be32(bytes, at);
      if (size < 8 || at + size > end) return std::string::npos;
      if (bytes.compare(at + 4, 4, type) == 0) {
        *found_end = at + size;
        return at + 8;
      }
      at += size;
    }
    return std::string::npos;
  };
  std::size_t moof_end = 0, traf_end = 0, box_end = 0;
  std::size_t moof = find_child(0, bytes.size(), "moof", &moof_end);
  if (moof == std::string::npos) return fragment;
  std::size_t traf = find_child(moof, moof_end, "traf", &traf_end);
  if (traf == std::string::npos) return fragment;
  std::uint32_t default_duration = trex_default_duration, default_flags = trex_default_flags;
  std::size_t tfhd = find_child(traf, traf_end, "tfhd", &box_end);
  if (tfhd == std::string::npos) return fragment;
  {
    std::uint32_t flags = be32(bytes, tfhd) & 0xffffff;
    std::size_t at = tfhd + 8;
    if (flags & 0x1) at += 8;
    if (flags & 0x2) at += 4;
    if (flags & 0x8) default_duration = be32(bytes, at), at += 4;
    if (flags & 0x10) at += 4;
    if (flags & 0x20) default_flags = be32(bytes, at), at += 4;
  }
  std::size_t tfdt = find_child(traf, traf_end, "tfdt", &box_end);
  if (tfdt == std::string::npos) return fragment;
  if (bytes[tfdt] == 1)
    fragment.base_decode_time = (std::uint64_t(be32(bytes, tfdt + 4)) << 32) | be32(bytes, tfdt + 8);
  else
    fragment.base_decode_time = be32(bytes, tfdt + 4);
  std::size_t trun = find_child(traf, traf_end, "trun", &box_end);
  if (trun == std::string::npos) return fragment;
  fragment.trun_version = std::uint8_t(bytes[trun]);
  std::uint32_t flags = be32(bytes, trun) & 0xffffff;
  std::uint32_t count = be32(bytes, trun + 4);
  std::size_t at = trun + 8;
  if (flags & 0x1) at += 4;
  std::uint32_t first_flags = default_flags;
  bool has_first_flags = flags & 0x4;
  if (has_first_flags) first_flags = be32(bytes, at), at += 4;
  std::int64_t decode_time = static_cast<std::int64_t>(fragment.base_decode_time);
  for (std::uint32_t i = 0; i < count; ++i) {
    Fragment::Sample sample;
    sample.duration = default_duration;
    std::uint32_t sample_flags = (i == 0 && has_first_flags) ? first_flags : default_flags;
    if (flags & 0x100) sample.duration = be32(bytes, at), at += 4;
    if (flags & 0x200) at += 4;
    if (flags & 0x400) sample_flags = be32(bytes, at), at += 4;
    std::int64_t offset = 0;
    if (flags & 0x800) {
      std::uint32_t raw = be32(bytes, at);
      offset = fragment.trun_version == 1 ? static_cast<std::int64_t>(static_cast<std::int32_t>(raw)) : raw;
      at += 4;
    }
    sample.decode_time = decode_time;
    sample.presentation_time = decode_time + offset - edit_media_time;
    sample.sync = !(sample_flags & 0x10000);  // sample_is_non_sync_sample
    decode_time += sample.duration;
    fragment.samples.push_back(sample);
  }
  fragment.ok = true;
  return fragment;
}

// trex default_sample_duration and default_sample_flags from an init segment's mvex.
inline std::pair<std::uint32_t, std::uint32_t> trex_defaults(const std::string& init) {
  std::size_t at = init.find("trex");
  if (at == std::string::npos || at + 28 > init.size()) return {0, 0};
  // type, version+flags, track_ID, default_sample_description_index, duration, size, flags
  return {be32(init, at + 16), be32(init, at + 24)};
}

}  // namespace cinevault::test
