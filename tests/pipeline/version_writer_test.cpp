#include "version_writer.hpp"

#include <gtest/gtest.h>

#include "cinevault/core/hash.hpp"
#include "cinevault/db/objects.hpp"
#include "cinevault/db/videos.hpp"
#include "scratch_dir.hpp"

namespace cinevault::pipeline {
namespace {

package::RenditionInfo rendition(const std::string& id, const std::string& kind, int height) {
  package::RenditionInfo info;
  info.id = id;
  info.kind = kind;
  info.codecs = kind == "video" ? "avc1.64001f" : "mp4a.40.2";
  info.height = height;
  info.width = height * 16 / 9;
  info.timescale = kind == "video" ? 90000 : 48000;
  return info;
}

class VersionWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = db::Database::open(dir_ / "v.db").value();
    store_ = store::make_local_store(dir_ / "objects").value();
    ASSERT_TRUE(db_->write([&](db::Connection& c) -> Result<void> {
      RETURN_IF_ERROR(db::insert_object(c, {sha256_hex("source"), 6, "source"}));
      db::VideoRow video;
      video.id = "v1";
      video.title = "v1";
      video.state = "processing";
      video.source_sha256 = sha256_hex("source");
      video.media_info_json = "{}";
      return db::insert_video(c, video);
    }));
    version_ = db_->write([](db::Connection& c) { return db::create_version(c, "v1", std::nullopt, 4, "libx264"); })
                   .value();
  }

  bool published() {
    auto published = db_->read([](db::Connection& c) { return db::load_published_version(c, "v1"); }).value();
    return published && published->id == version_.id;
  }

  void announce(VersionWriter& writer, std::initializer_list<package::RenditionInfo> renditions) {
    for (const auto& info : renditions) ASSERT_TRUE(writer.on_init_segment(info, info.id + " init"));
  }

  void segment(VersionWriter& writer, const package::RenditionInfo& info, int number) {
    ASSERT_TRUE(writer.on_media_segment(info, {number, 0, 90000}, info.id + " segment " + std::to_string(number)));
  }

  test_support::ScratchDir dir_{"version-writer"};
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<store::ObjectStore> store_;
  db::VersionRow version_;
};

// A player can start on the smallest rung: the video is published as soon as it and the
// audio have a segment, whatever the larger rungs have yet.
TEST_F(VersionWriterTest, PublishedOnceTheAudioAndTheSmallestRungHaveASegment) {
  VersionWriter writer(*db_, *store_, version_, 3, /*publish_early=*/true);
  auto tall = rendition("1080p", "video", 1080), small = rendition("240p", "video", 240);
  auto sound = rendition("audio_0", "audio", 0);
  announce(writer, {tall, small, sound});
  segment(writer, tall, 0);
  segment(writer, sound, 0);
  EXPECT_FALSE(published()) << "the smallest rung has no segment yet";
  segment(writer, small, 0);
  EXPECT_TRUE(published());
  EXPECT_TRUE(writer.published());
}

TEST_F(VersionWriterTest, NotPublishedWithoutTheAudio) {
  VersionWriter writer(*db_, *store_, version_, 2, /*publish_early=*/true);
  auto small = rendition("240p", "video", 240), sound = rendition("audio_0", "audio", 0);
  announce(writer, {small, sound});
  segment(writer, small, 0);
  segment(writer, small, 1);
  EXPECT_FALSE(published());
  segment(writer, sound, 0);
  EXPECT_TRUE(published());
}

// Until every expected rendition has announced itself, which rung is the smallest is not known.
TEST_F(VersionWriterTest, NotPublishedBeforeEveryRenditionIsKnown) {
  VersionWriter writer(*db_, *store_, version_, 3, /*publish_early=*/true);
  auto small = rendition("360p", "video", 360), sound = rendition("audio_0", "audio", 0);
  announce(writer, {small, sound});
  segment(writer, small, 0);
  segment(writer, sound, 0);
  EXPECT_FALSE(published());
  auto smaller = rendition("240p", "video", 240);
  announce(writer, {smaller});
  segment(writer, small, 1);
  EXPECT_FALSE(published()) << "240p is the smallest now";
  segment(writer, smaller, 0);
  EXPECT_TRUE(published());
}

// A re-transcode publishes only when it is complete: the published version plays on.
TEST_F(VersionWriterTest, ARerunIsNotPublishedEarly) {
  VersionWriter writer(*db_, *store_, version_, 1, /*publish_early=*/false);
  auto small = rendition("240p", "video", 240);
  announce(writer, {small});
  segment(writer, small, 0);
  EXPECT_FALSE(published());
}

}  // namespace
}  // namespace cinevault::pipeline
