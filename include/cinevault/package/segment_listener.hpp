// What the packager reports as it goes: it does not reach into the store or the database.
#pragma once

#include <string>

#include "cinevault/core/rendition.hpp"
#include "cinevault/core/result.hpp"

namespace cinevault::package {

// Called on the transcoding thread, in order per rendition: init, segments 0..n-1, finished.
// An error returned from any call stops the transcode with that error.
// What is only known once stored is unset here: the rendition's init_sha256, finished,
// average_bandwidth_bps and segments, a segment's size and sha256.
class SegmentListener {
 public:
  virtual ~SegmentListener() = default;
  virtual Result<void> on_init_segment(const Rendition& rendition, std::string bytes) = 0;
  virtual Result<void> on_media_segment(const Rendition& rendition, const Segment& segment, std::string bytes) = 0;
  // The last segment was reported; `average_bandwidth_bps` is measured over all of them.
  virtual Result<void> on_rendition_finished(const Rendition& rendition, int average_bandwidth_bps) = 0;
};

}  // namespace cinevault::package
