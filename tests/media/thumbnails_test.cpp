#include "cinevault/media/thumbnails.hpp"

#include <gtest/gtest.h>

#include "cinevault/media/av_ptr.hpp"

namespace cinevault::media {
namespace {

// A 64x36 frame: flat grey, or a checkerboard (contrast: what a poster should show).
FramePtr picture(bool busy) {
  FramePtr frame = make_frame();
  frame->format = AV_PIX_FMT_YUV420P;
  frame->width = 64;
  frame->height = 36;
  EXPECT_GE(av_frame_get_buffer(frame.get(), 0), 0);
  for (int y = 0; y < 36; ++y)
    for (int x = 0; x < 64; ++x) frame->data[0][y * frame->linesize[0] + x] = busy && ((x / 4 + y / 4) % 2) ? 220 : 110;
  for (int plane = 1; plane < 3; ++plane)
    for (int y = 0; y < 18; ++y)
      for (int x = 0; x < 32; ++x) frame->data[plane][y * frame->linesize[plane] + x] = 128;
  return frame;
}

std::vector<unsigned char> head(const std::string& bytes, std::size_t n) {
  return {bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(std::min(n, bytes.size()))};
}

TEST(ThumbnailSampler, PosterIsTheBusiestFrameAndTilesCoverTheVideoOnSheets) {
  // 400 s at 1 fps: a tile every 400/150 = 2.67 s → 150 tiles: a full 10x10 sheet and a 5-row one.
  ThumbnailSampler sampler(ThumbnailOptions{}, 400, 16.0 / 9.0);
  FramePtr flat = picture(false), busy = picture(true);
  for (int second = 0; second < 400; ++second)
    ASSERT_TRUE(sampler.add(second == 200 ? *busy : *flat, second));
  auto thumbnails = sampler.finish();
  ASSERT_TRUE(thumbnails) << thumbnails.error().message;

  EXPECT_NEAR(thumbnails->poster_time_s, 200, 3);
  ASSERT_EQ(thumbnails->posters.size(), 2u);  // 64 px wide source: one width, JPEG and WebP
  for (const auto& poster : thumbnails->posters) {
    EXPECT_EQ(poster.width, 64);
    EXPECT_EQ(poster.height, 36);
  }
  EXPECT_EQ(head(thumbnails->posters[0].bytes, 2), (std::vector<unsigned char>{0xFF, 0xD8}));
  EXPECT_EQ(thumbnails->posters[1].bytes.substr(8, 4), "WEBP");

  ASSERT_EQ(thumbnails->tiles.size(), 150u);
  double end = 0;
  for (std::size_t i = 0; i < thumbnails->tiles.size(); ++i) {
    const auto& tile = thumbnails->tiles[i];
    EXPECT_NEAR(tile.start_s, end, 1e-9);
    EXPECT_GT(tile.end_s, tile.start_s);
    end = tile.end_s;
    EXPECT_EQ(tile.sheet, static_cast<int>(i / 100));
    EXPECT_EQ(tile.width, 160);
    EXPECT_EQ(tile.height, 90);
  }
  EXPECT_DOUBLE_EQ(end, 400);
  ASSERT_EQ(thumbnails->sprite_sheets.size(), 2u);
  EXPECT_EQ(thumbnails->sprite_sheets[0].width, 1600);
  EXPECT_EQ(thumbnails->sprite_sheets[0].height, 900);
  EXPECT_EQ(thumbnails->sprite_sheets[1].width, 1600);
  EXPECT_EQ(thumbnails->sprite_sheets[1].height, 450);
}

TEST(ThumbnailSampler, ShortClipGetsATileEveryTwoSecondsOnOneRow) {
  ThumbnailSampler sampler(ThumbnailOptions{}, 5, 4.0 / 3.0);
  FramePtr frame = picture(true);
  for (int i = 0; i < 125; ++i) ASSERT_TRUE(sampler.add(*frame, i / 25.0));
  auto thumbnails = sampler.finish();
  ASSERT_TRUE(thumbnails) << thumbnails.error().message;
  ASSERT_EQ(thumbnails->tiles.size(), 3u);  // 0, 2, 4
  EXPECT_DOUBLE_EQ(thumbnails->tiles.back().end_s, 5);
  EXPECT_EQ(thumbnails->tiles[0].height, 120);  // 4:3
  ASSERT_EQ(thumbnails->sprite_sheets.size(), 1u);
  EXPECT_EQ(thumbnails->sprite_sheets[0].width, 3 * 160);
  EXPECT_EQ(thumbnails->sprite_sheets[0].height, 120);
}

TEST(ThumbnailSampler, NoFramesIsAnError) {
  ThumbnailSampler sampler(ThumbnailOptions{}, 10, 16.0 / 9.0);
  EXPECT_FALSE(sampler.finish());
}

}  // namespace
}  // namespace cinevault::media
