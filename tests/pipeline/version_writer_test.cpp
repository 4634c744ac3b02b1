#include "version_writer.hpp"

#include <gtest/gtest.h>

#include "cinevault/core/hash.hpp"
#include "cinevault/db/objects.hpp"
#include "cinevault/db/videos.hpp"
#include "scratch_dir.hpp"

namespace cinevault::pipeline {
namespace {

Rendition video(const std::string& name, int height, bool start = false) {
  Rendition info;
  info.name = name;
  info.kind = TrackKind::video;
  info.codecs = "avc1.64001f";
  info.height = height;
  info.width = height * 16 / 9;
  info.timescale = 90000;
  info.start = start;
  return info;
}

Rendition audio(const std::string& name) {
  Rendition info;
  info.name = name;
  info.kind = TrackKind::audio;
  info.codecs = "mp4a.40.2";
  info.timescale = 48000;
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
      video.state = db::VideoState::processing;
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

  void announce(VersionWriter& writer, std::initializer_list<Rendition> renditions) {
    for (const auto& info : renditions) ASSERT_TRUE(writer.on_init_segment(info, info.name + " init"));
  }

  void segment(VersionWriter& writer, const Rendition& info, int number) {
    Segment segment;
    segment.number = number;
    segment.duration = 90000;
    ASSERT_TRUE(writer.on_media_segment(info, segment, info.name + " segment " + std::to_string(number)));
  }

  test_support::ScratchDir dir_{"version-writer"};
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<store::ObjectStore> store_;
  db::VersionRow version_;
};

// A player can start on the start rung: the video is published as soon as it and the
// audio have a segment, whatever the other rungs have yet.
TEST_F(VersionWriterTest, PublishedOnceTheAudioAndTheStartRungHaveASegment) {
  VersionWriter writer(*db_, *store_, version_, 3, /*publish_early=*/true);
  auto tall = video("1080p", 1080), small = video("240p", 240, /*start=*/true);
  auto sound = audio("audio_0");
  announce(writer, {tall, small, sound});
  segment(writer, tall, 0);
  segment(writer, sound, 0);
  EXPECT_FALSE(published()) << "the start rung has no segment yet";
  segment(writer, small, 0);
  EXPECT_TRUE(published());
  EXPECT_TRUE(writer.published());
}

// The rung marked start decides, not its height; and the mark is stored with the rendition.
TEST_F(VersionWriterTest, TheStartRungIsTheOneMarkedStart) {
  VersionWriter writer(*db_, *store_, version_, 2, /*publish_early=*/true);
  auto marked = video("360p", 360, /*start=*/true), smaller = video("240p", 240);
  announce(writer, {marked, smaller});
  segment(writer, smaller, 0);
  EXPECT_FALSE(published()) << "240p is smaller but not the start rung";
  segment(writer, marked, 0);
  EXPECT_TRUE(published());
  auto stored = db_->read([&](db::Connection& c) { return db::load_version(c, version_.id); }).value();
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->renditions.size(), 2u);
  EXPECT_EQ(stored->renditions[0].name, "360p");
  EXPECT_TRUE(stored->renditions[0].start);
  EXPECT_FALSE(stored->renditions[1].start);
}

TEST_F(VersionWriterTest, NotPublishedWithoutTheAudio) {
  VersionWriter writer(*db_, *store_, version_, 2, /*publish_early=*/true);
  auto small = video("240p", 240, /*start=*/true), sound = audio("audio_0");
  announce(writer, {small, sound});
  segment(writer, small, 0);
  segment(writer, small, 1);
  EXPECT_FALSE(published());
  segment(writer, sound, 0);
  EXPECT_TRUE(published());
}

// Until every expected rendition has announced itself, the start rung may be still to come.
TEST_F(VersionWriterTest, NotPublishedBeforeEveryRenditionIsKnown) {
  VersionWriter writer(*db_, *store_, version_, 3, /*publish_early=*/true);
  auto small = video("360p", 360), sound = audio("audio_0");
  announce(writer, {small, sound});
  segment(writer, small, 0);
  segment(writer, sound, 0);
  EXPECT_FALSE(published());
  auto smaller = video("240p", 240, /*start=*/true);
  announce(writer, {smaller});
  segment(writer, small, 1);
  EXPECT_FALSE(published()) << "240p is the start rung";
  segment(writer, smaller, 0);
  EXPECT_TRUE(published());
}

// A re-transcode publishes only when it is complete: the published version plays on.
TEST_F(VersionWriterTest, ARerunIsNotPublishedEarly) {
  VersionWriter writer(*db_, *store_, version_, 1, /*publish_early=*/false);
  auto small = video("240p", 240, /*start=*/true);
  announce(writer, {small});
  segment(writer, small, 0);
  EXPECT_FALSE(published());
}

}  // namespace
}  // namespace cinevault::pipeline
