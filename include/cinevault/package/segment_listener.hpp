// What the packager reports as it goes: it does not reach into the store or the database.
#pragma once

#include <cstdint>
#include <string>

#include "cinevault/core/result.hpp"

namespace cinevault::package {

struct RenditionInfo {
  std::string id;          // "720p", "audio_0" — unique within a transcode
  std::string kind;        // "video" or "audio"
  std::string codecs;      // RFC 6381 string from the encoder's extradata: "avc1.64001f", "mp4a.40.2"
  int width = 0;           // video
  int height = 0;
  double frame_rate = 0;
  int bandwidth_bps = 0;   // peak (VBV max rate for video; nominal for audio)
  std::string language;    // audio: ISO 639, "" if unknown
  int channels = 0;        // audio
  int sample_rate = 0;
  std::uint32_t timescale = 0;  // of the track: tfdt and durations are in this unit
};

struct SegmentInfo {
  int number = 0;                  // 0-based, the same number covers the same time in every rendition
  std::int64_t start = 0;          // presentation time of the first sample, in the track timescale
  std::int64_t duration = 0;       // in the track timescale
};

// Called on the transcoding thread, in order per rendition: init, segments 0..n-1, finished.
// An error returned from any call stops the transcode with that error.
class SegmentListener {
 public:
  virtual ~SegmentListener() = default;
  virtual Result<void> on_init_segment(const RenditionInfo& rendition, std::string bytes) = 0;
  virtual Result<void> on_media_segment(const RenditionInfo& rendition, const SegmentInfo& segment,
                                        std::string bytes) = 0;
  // The last segment was reported; `average_bandwidth_bps` is measured over all of them.
  virtual Result<void> on_rendition_finished(const RenditionInfo& rendition, int average_bandwidth_bps) = 0;
};

}  // namespace cinevault::package
