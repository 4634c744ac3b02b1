// The WebVTT track of seek-bar previews: one cue per tile, its text the tile's place in a
// sprite sheet as a media fragment ("/objects/<sha>.jpg#xywh=160,0,160,90").
#pragma once

#include <string>
#include <vector>

namespace cinevault::manifest {

struct TrickplayCue {
  double start_s = 0;
  double end_s = 0;
  std::string image_url;
  int x = 0, y = 0, width = 0, height = 0;
};

std::string trickplay_vtt(const std::vector<TrickplayCue>& cues);

}  // namespace cinevault::manifest
