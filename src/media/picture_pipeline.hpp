// The picture pipeline (internal to media/): what every rung shares, run once per source
// picture — deinterlace, turn upright, constant frame rate (libavfilter), HDR to SDR — and
// then the scale cascade, one RungScaler per rung, each scaling the picture of the rung
// above it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "cinevault/core/result.hpp"
#include "cinevault/media/av_ptr.hpp"
#include "cinevault/media/transcode.hpp"

namespace cinevault::media {

// One libavfilter chain: buffer → `description` → buffersink, for pictures of the first
// frame's size and format.
class FilterChain {
 public:
  // `time_base`: of the frames' pts.
  static Result<FilterChain> build(const std::string& description, const AVFrame& first, AVRational time_base,
                                   int threads);
  // A frame in (its references are taken). Errors: unprocessable (does its size change?).
  Result<void> push(AVFrame& frame);
  // No more frames; `end`, in the frames' time base, is where the last one ends.
  Result<void> close(std::int64_t end);
  // Each frame ready at the end of the chain, to `sink`, which may keep references to it.
  Result<void> pull(const std::function<Result<void>(AVFrame&)>& sink);
  AVRational output_time_base() const;

 private:
  FilterGraphPtr graph_;
  AVFilterContext* source_ = nullptr;  // owned by graph_
  AVFilterContext* sink_ = nullptr;
  FramePtr filtered_;
};

class PicturePipeline {
 public:
  // Each output picture, its pts the output frame index (1/frame_rate); the sink may keep
  // references to it.
  using PictureSink = std::function<Result<void>(AVFrame&)>;

  // `time_base`: of the decoded frames' pts. The chains are built at the first picture, when
  // its size and format are known.
  PicturePipeline(const LadderPlan& plan, AVRational time_base, int threads, PictureSink sink)
      : plan_(plan), time_base_(time_base), threads_(threads), sink_(std::move(sink)) {}

  // A decoded frame (its references are taken). Errors: unprocessable when the frames cannot
  // be filtered, internal.
  Result<void> add(AVFrame& frame);
  // No more frames; `end` (in the decoded frames' time base) is where the last one ends, so
  // that it is not dropped. Errors: unprocessable when no frame ever came.
  Result<void> close(std::int64_t end);

 private:
  Result<void> from_main(AVFrame& frame);
  Result<void> deliver(AVFrame& frame);

  const LadderPlan& plan_;
  AVRational time_base_;
  int threads_;
  PictureSink sink_;
  // deinterlace, turn upright, constant frame rate; for HDR, on to linear BT.709 light
  std::optional<FilterChain> main_;
  // HDR: after the tone curve (our own, on main_'s pictures), back to 8-bit BT.709 video
  std::optional<FilterChain> back_;
  std::int64_t last_pts_ = 0;  // of the last picture main_ gave, in its output time base
};

// Whether the picture's luma spans 0-255 (JPEG, most phones) rather than video's 16-235.
bool is_full_range(const AVFrame& picture);

// A libswscale context, made again when what it converts changes (a source's picture size
// may change mid-stream).
class Scaler {
 public:
  // The context from pictures like `in` to `width`x`height` in `format`, full range or
  // limited, with the SWS_* `flags`; null when libswscale cannot do it.
  SwsContext* get(const AVFrame& in, int width, int height, AVPixelFormat format, bool full_range_out, int flags);

 private:
  std::array<int, 9> made_for_{};  // what context_ converts
  SwsContextPtr context_;
};

// Scales pictures to one rung's size and its encoder's pixel format, as limited-range video
// with the source's matrix. Used by one thread at a time. The scaled pictures come from a
// pool of buffers of this rung's size: a job scales tens of thousands of pictures, and
// allocating each anew costs page faults and leaves the heap fragmented.
class RungScaler {
 public:
  RungScaler(int width, int height, AVPixelFormat format) : width_(width), height_(height), format_(format) {}
  // `out` is unreferenced on entry; it gets the picture (a new reference when `in` is already
  // what the encoder takes: the top rung of most sources costs no copy).
  Result<void> scale(const AVFrame& in, AVFrame& out);

 private:
  int width_;
  int height_;
  AVPixelFormat format_;
  Scaler scaler_;
  BufferPoolPtr pool_;  // made with the first scaled picture
};

// A copy of `picture` in memory of its own, given back to the system when the copy is freed:
// a picture kept for a while must not leave the decoder's buffer pool or the heap larger for
// the rest of the job (peak memory is a goal, docs/transcoding.md). Null when out of memory.
FramePtr private_copy(const AVFrame& picture);

}  // namespace cinevault::media
