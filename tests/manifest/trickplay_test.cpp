#include "cinevault/manifest/trickplay.hpp"

#include <gtest/gtest.h>

namespace cinevault::manifest {
namespace {

TEST(TrickplayVtt, OneCuePerTileWithItsRectangle) {
  std::string vtt = trickplay_vtt({{0, 2, "/objects/ab.jpg", 0, 0, 160, 90},
                                   {2, 4, "/objects/ab.jpg", 160, 0, 160, 90},
                                   {3598.5, 3725.25, "/objects/cd.jpg", 0, 90, 160, 90}});
  EXPECT_EQ(vtt,
            "WEBVTT\n"
            "\n00:00:00.000 --> 00:00:02.000\n/objects/ab.jpg#xywh=0,0,160,90\n"
            "\n00:00:02.000 --> 00:00:04.000\n/objects/ab.jpg#xywh=160,0,160,90\n"
            "\n00:59:58.500 --> 01:02:05.250\n/objects/cd.jpg#xywh=0,90,160,90\n");
}

TEST(TrickplayVtt, NoTilesIsAnEmptyTrack) { EXPECT_EQ(trickplay_vtt({}), "WEBVTT\n"); }

}  // namespace
}  // namespace cinevault::manifest
