// Still images of a video, taken from the frames the transcoder decodes anyway (no second
// decode): a poster from a representative frame, and trickplay sprite sheets (small tiles
// every few seconds) for previews on a seek bar.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cinevault/core/result.hpp"

struct AVFrame;

namespace cinevault::media {

struct ThumbnailOptions {
  std::vector<int> poster_widths = {320, 1280};  // capped at the source's width
  int tile_width = 160;                          // tiles are 160x90 for 16:9
  int columns = 10;                              // tiles per sheet row
  int rows = 10;                                 // tile rows per sheet (the last sheet may have fewer)
  double min_interval_s = 2;                     // a tile at least this often…
  double max_interval_s = 10;                    // …and at most this far apart
  int target_tiles = 150;                        // the interval between is duration / this
};

struct EncodedImage {
  int width = 0;
  int height = 0;
  std::string format;  // "jpeg" or "webp"
  std::string bytes;
};

// The tile showing [start_s, end_s): a rectangle of sprite sheet `sheet`.
struct TrickplayTile {
  double start_s = 0;
  double end_s = 0;
  int sheet = 0;
  int x = 0, y = 0, width = 0, height = 0;
};

struct Thumbnails {
  std::vector<EncodedImage> posters;        // every width in jpeg and webp
  std::vector<EncodedImage> sprite_sheets;  // jpeg
  std::vector<TrickplayTile> tiles;
  double poster_time_s = 0;                 // where the poster frame was taken
};

class ThumbnailSampler {
 public:
  // `display_aspect`: width / height as the picture is shown (rotation and SAR applied).
  ThumbnailSampler(const ThumbnailOptions& options, double duration_s, double display_aspect);
  ~ThumbnailSampler();
  ThumbnailSampler(ThumbnailSampler&&) noexcept;
  ThumbnailSampler& operator=(ThumbnailSampler&&) noexcept;

  // Every decoded frame in presentation order, at `time_s` from the start. Cheap for frames
  // that are not sampled: one comparison.
  Result<void> add(const AVFrame& frame, double time_s);
  // Encodes the poster and the last sheet. Errors: codec (an image encoder failed).
  Result<Thumbnails> finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cinevault::media
