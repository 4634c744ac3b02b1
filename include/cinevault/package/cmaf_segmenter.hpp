// A CMAF segmenter for one track (one rendition): libavformat's mp4 muxer in fragmented
// mode writing into memory, one fragment (moof+mdat) per media segment.
//
// Call order, all on one thread: create() (builds the init segment: ftyp + moov, and
// reports it), write() for every encoded packet in decode order, finish() once. The
// segmenter cuts by the SegmentSchedule: a video segment starts at the packet whose pts
// reaches the next boundary (which must be a keyframe: the encoder forces an IDR there),
// an audio segment at the frame nearest the boundary. Each completed segment is reported to
// the listener before write()/finish() returns; an error from the listener is returned.
//
// Timestamps: packets come in `packet_time_base` with the first frame presented at 0 and,
// for video, decoded `parameters.video_delay` frames earlier (the encoder's B-frame reorder
// delay, exactly: the first packet is checked). The track is written as Shaka Packager
// writes B-frame video: decode times from 0, composition offsets that are never negative
// (trun version 0), and an edit list in the init segment whose media time is the reorder
// delay. So each segment's tfdt is the presentation time of its IDR frame, and MSE
// (Chromium), FFmpeg's mov demuxer and the ISO reading all present the first frame at 0;
// trun version 1 with negative offsets and no edit list, the other CMAF form, is read two
// frames late by FFmpeg (docs/transcoding.md, "Timing").
#pragma once

#include <cstdint>
#include <memory>
#include <string>

extern "C" {
#include <libavcodec/codec_par.h>
#include <libavcodec/packet.h>
#include <libavutil/rational.h>
}

#include "cinevault/core/result.hpp"
#include "cinevault/package/segment_listener.hpp"
#include "cinevault/package/segment_schedule.hpp"

namespace cinevault::package {

// The RFC 6381 codecs string of a track from its extradata: "avc1.64001f" from the avcC
// (or from the SPS of Annex B extradata), "mp4a.40.2" from the AudioSpecificConfig.
// Errors: invalid_argument when the extradata is missing or unreadable.
Result<std::string> rfc6381_codecs(const AVCodecParameters& parameters);

class CmafSegmenter {
 public:
  // `rendition.codecs` and `rendition.timescale` are filled in here; the rest is reported
  // as given. `timescale` 0 picks one: the sample rate for audio, 90000 for video when a
  // frame lasts a whole number of ticks at the schedule's frame rate, else a multiple of
  // the frame rate. `parameters` must carry the encoder's global header (extradata).
  // The listener and schedule must outlive the segmenter.
  // `reorder_delay` (>= 0, in timescale ticks) replaces the one `parameters.video_delay`
  // gives, for packets that no encoder of ours made (a source's, passed through): a video's
  // B-frame delay, or an audio encoder's priming; the edit list skips it.
  static Result<std::unique_ptr<CmafSegmenter>> create(Rendition rendition, const AVCodecParameters& parameters,
                                                       AVRational packet_time_base, const SegmentSchedule& schedule,
                                                       SegmentListener& listener, std::uint32_t timescale = 0,
                                                       std::int64_t reorder_delay = -1);

  ~CmafSegmenter();
  CmafSegmenter(const CmafSegmenter&) = delete;
  CmafSegmenter& operator=(const CmafSegmenter&) = delete;

  // Takes one encoded packet (pts, dts, duration set; in packet_time_base). The packet is
  // not modified. Errors: internal when a video segment would not start with a keyframe or
  // timestamps go backwards; what the listener returns.
  Result<void> write(const AVPacket& packet);

  // Reports the open segment now, when the caller knows that every packet of it has been
  // written (an encoder flushed at the segment's end), instead of when the first packet of
  // the next segment arrives. Nothing to do when no segment is open.
  Result<void> end_segment();

  // Reports the last segment and on_rendition_finished. Call once; nothing after it.
  Result<void> finish();

  const Rendition& rendition() const;

  struct State;  // defined in the .cpp (also the AVIOContext's opaque)

 private:
  explicit CmafSegmenter(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace cinevault::package
