// Exact-text tests of every manifest against the files in golden/. To accept a deliberate
// change, run the test with CINEVAULT_UPDATE_GOLDEN=1: it rewrites the files (review the
// diff), then passes. tests/e2e/manifest_parse.mjs checks the same files with real parsers.
#include "cinevault/manifest/manifest.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "fixtures.hpp"

namespace cinevault::manifest {
namespace {

using namespace testing;

const std::filesystem::path kGoldenDir = CINEVAULT_MANIFEST_GOLDEN_DIR;
constexpr FrameRate kNtsc{30000, 1001};

bool updating() {
  const char* value = std::getenv("CINEVAULT_UPDATE_GOLDEN");
  return value != nullptr && std::string(value) == "1";
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The master, every media playlist and the MPD of `version`, as <scenario>_<file>.
std::map<std::string, Result<std::string>> render_all(const std::string& scenario, const Version& version,
                                                      const Options& options = {}) {
  std::map<std::string, Result<std::string>> files;
  files.emplace(scenario + "_master.m3u8", hls_master(version, options));
  for (const Rendition& rendition : version.renditions) {
    files.emplace(scenario + "_" + rendition.name + ".m3u8", hls_media(version, rendition.name, options));
  }
  files.emplace(scenario + ".mpd", dash_mpd(version, options));
  return files;
}

void expect_golden(const std::map<std::string, Result<std::string>>& files) {
  for (const auto& [name, text] : files) {
    ASSERT_TRUE(text.has_value()) << name << ": " << text.error().message;
    const std::filesystem::path path = kGoldenDir / name;
    if (updating()) {
      std::ofstream(path, std::ios::binary) << *text;
      continue;
    }
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run with CINEVAULT_UPDATE_GOLDEN=1";
    EXPECT_EQ(*text, read_file(path)) << "differs from " << path << " (CINEVAULT_UPDATE_GOLDEN=1 rewrites it)";
  }
}

// 20.02 s of 29.97 fps video: segments of 30, 60, then 120 frames (1.001, 2.002, 4.004 s),
// the last one 30 frames.
constexpr std::int64_t kClipFrames = 600;

// While transcoding: the lowest rung is one segment ahead of the others.
Version growing() {
  return version_of({video("720p", 1280, 720, 3000000, "avc1.64001f", kNtsc, 90000, kClipFrames, 3),
                     video("360p", 640, 360, 800000, "avc1.64001e", kNtsc, 90000, kClipFrames, 4),
                     audio("audio_0", "eng", kNtsc, kClipFrames, 3)});
}

Version complete() {
  Version version = version_of({video("720p", 1280, 720, 3000000, "avc1.64001f", kNtsc, 90000, kClipFrames, -1),
                                video("360p", 640, 360, 800000, "avc1.64001e", kNtsc, 90000, kClipFrames, -1),
                                audio("audio_0", "eng", kNtsc, kClipFrames, -1)});
  version.updated_at_ms = kCreatedAtMs + 41500;
  return version;
}

std::map<std::string, Result<std::string>> growing_files() { return render_all("growing", growing()); }
std::map<std::string, Result<std::string>> complete_files() { return render_all("complete", complete()); }
// 25 fps: 8 s in segments of 1, 2, 4 and 1 s, one rung, finished.
std::map<std::string, Result<std::string>> no_audio_files() {
  constexpr FrameRate kPal{25, 1};
  return render_all("no_audio", version_of({video("480p", 854, 480, 1400000, "avc1.64001e", kPal, 90000, 200, -1)}));
}
std::map<std::string, Result<std::string>> two_audio_files() {
  return render_all("two_audio", version_of({video("720p", 1280, 720, 3000000, "avc1.64001f", kNtsc, 90000, kClipFrames, 2),
                                             audio("audio_0", "eng", kNtsc, kClipFrames, 2),
                                             audio("audio_1", "fre", kNtsc, kClipFrames, 2)}));
}
std::map<std::string, Result<std::string>> base_url_files() {
  return render_all("base_url", growing(), Options{"https://media.example.com/", ""});
}

TEST(Golden, GrowingVersion) { expect_golden(growing_files()); }
TEST(Golden, CompleteVersion) { expect_golden(complete_files()); }
TEST(Golden, VideoWithoutAudio) { expect_golden(no_audio_files()); }
TEST(Golden, TwoAudioLanguages) { expect_golden(two_audio_files()); }
TEST(Golden, AbsoluteUrls) { expect_golden(base_url_files()); }

// golden/ holds exactly the files of the scenarios above (a stale one is removed on update).
TEST(Golden, NoStaleFiles) {
  std::set<std::string> expected;
  for (auto files : {growing_files(), complete_files(), no_audio_files(), two_audio_files(), base_url_files()}) {
    for (const auto& entry : files) expected.insert(entry.first);
  }
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(kGoldenDir)) {
    on_disk.insert(entry.path().filename().string());
  }
  if (updating()) {
    for (const std::string& name : on_disk) {
      if (!expected.count(name)) std::filesystem::remove(kGoldenDir / name);
    }
    return;
  }
  EXPECT_EQ(on_disk, expected);
}

}  // namespace
}  // namespace cinevault::manifest
