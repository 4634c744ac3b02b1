// Source passthrough (internal to media/): the source's H.264 packets become the top rung
// as they are, cut at the source's own IDR frames, while the lower rungs are encoded from
// the decoded pictures with their IDR frames forced at the same times (docs/transcoding.md,
// "Passthrough").
#pragma once

#include <cstdint>
#include <map>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cinevault/core/result.hpp"
#include "cinevault/media/transcode.hpp"
#include "cinevault/package/cmaf_segmenter.hpp"
#include "cinevault/package/segment_schedule.hpp"

extern "C" {
#include <libavformat/avformat.h>
}

namespace cinevault::media {

// What a pass over the source's video packets (no decoding) found: where its IDR frames
// are, and the segments they give.
struct SourceVideoScan {
  AVRational time_base{0, 1};
  std::int64_t start = 0;          // the first frame's pts: output time 0
  std::int64_t reorder_delay = 0;  // the first packet decodes this long before it is shown
  std::vector<std::int64_t> boundaries;  // where segments 1, 2, … start (pts - start)
  int peak_bandwidth_bps = 0;            // of the busiest segment
  std::string refusal;  // why the packets cannot pass through; then the rest is unset
  // The planned audio streams whose AAC-LC stereo packets pass through too (continuous, and
  // starting with the video but for the encoder's priming): stream index → the priming, in
  // samples before the first frame (the audio track's edit list).
  std::map<int, std::int64_t> audio_priming;
};

// Reads the planned video stream's packets once. The segments follow the ladder's ramp and
// segment duration: each ends at the last IDR frame within its nominal length (or at the
// first after it, when none is), so none is longer than a segment when keyframes are at
// most a segment apart, which is required. `poll` runs every few hundred packets (a large
// file takes a while: progress, cancellation); its error ends the scan. Errors: io,
// unprocessable (a damaged file), and poll's.
Result<SourceVideoScan> scan_source_video(const TranscodeRequest& request, const std::function<Result<void>()>& poll);

// The top rung made of the source's packets, on the job's calling thread.
class PassthroughVideo {
 public:
  static Result<std::unique_ptr<PassthroughVideo>> start(const TranscodeRequest& request, const AVStream& stream,
                                                         const SourceVideoScan& scan,
                                                         const package::SegmentSchedule& schedule,
                                                         package::SegmentListener& listener);
  // One packet of the source's video stream, in its time base.
  Result<void> write(const AVPacket& packet);
  Result<void> finish();

 private:
  PassthroughVideo() = default;
  std::unique_ptr<package::CmafSegmenter> segmenter_;
  // The packet before, written once the next one says how long it lasts: a source's clock may
  // round (Matroska's milliseconds), and the fragments' decode times add up sample durations.
  PacketPtr pending_;
  std::int64_t start_ = 0;
  std::int64_t frame_duration_ = 1;  // for packets that carry none
};

}  // namespace cinevault::media
