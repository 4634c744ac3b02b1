// The rung encoders (internal to media/): a thread per rung of the ladder that scales the
// picture of the rung above it (the scale cascade), hands the result down, encodes it with
// an IDR frame at every segment boundary and feeds the rung's segmenter. The segmenters'
// reports wait in a queue until the job's calling thread passes them on (deliver()), so that
// the listener is only ever called from that thread.
//
// The start rung (LadderPlan::start_rung, the last of the cascade) comes first: its first
// segment is encoded by a quick encoder that is flushed at the segment's end, and the larger
// rungs keep their first segment's pictures until that segment is out.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "cinevault/core/result.hpp"
#include "cinevault/media/av_ptr.hpp"
#include "cinevault/media/encoder.hpp"
#include "cinevault/media/transcode.hpp"
#include "cinevault/package/segment_listener.hpp"
#include "cinevault/package/segment_schedule.hpp"

namespace cinevault::media {

class RungEncoders {
 public:
  using Poll = std::function<Result<void>()>;

  // Opens the encoder and the segmenter of every planned rung with request.chosen_encoder
  // (or the encoder chosen here) and starts their threads. Errors: codec, hardware.
  static Result<std::unique_ptr<RungEncoders>> start(const TranscodeRequest& request,
                                                     const package::SegmentSchedule& schedule);
  ~RungEncoders();  // stops the threads (at their next picture) and joins them

  const EncoderSelection& selection() const { return selection_; }

  // Gives the next picture (pts: the output frame index) to the top rung. While its queue is
  // full, calls `poll` (which passes on reports and may end the job) as they come or every
  // 50 ms. Errors: a rung's failure, or poll's.
  Result<void> push(FramePtr picture, const Poll& poll);
  // No more pictures: each rung finishes when it has passed on its last one.
  void close();
  // Waits until every rung has finished and its reports are passed on, calling `poll`.
  Result<void> wait(const Poll& poll);
  // The first failure of a rung, else passes on what the segmenters reported so far.
  Result<void> deliver(package::SegmentListener& listener);
  // Pictures encoded by the rung that is furthest behind.
  std::int64_t slowest_frames() const;

  struct Shared;
  struct Rung;

 private:
  RungEncoders();
  void close(Rung& rung);  // no more pictures for this rung
  void run(Rung& rung);
  Result<void> encode(Rung& rung);

  const package::SegmentSchedule* schedule_ = nullptr;
  EncoderSelection selection_;
  std::unique_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Rung>> rungs_;  // tallest first, as planned
};

}  // namespace cinevault::media
