// Checks of a container's own structure that its demuxer does not make (internal to media/):
// a file cut short while copying or uploading is refused at the probe rather than
// transcoded into a video that silently ends early.
#pragma once

#include <cstdint>

#include "cinevault/core/result.hpp"
#include "safe_input.hpp"

namespace cinevault::media {

// In mp4/mov the index is the sample table from the moov: every sample it names must lie
// inside the file, so a faststart file cut short (moov intact, samples gone) shows here.
// Other demuxers' indexes are hints (flv keyframe metadata) or built from what was read.
// Errors: unprocessable.
Result<void> check_samples_within_file(AVFormatContext* context, std::int64_t size_bytes);

// Matroska, AVI and ASF: the length the header declares (written when the muxer finished)
// is not past the file's end. Errors: unprocessable, io.
Result<void> check_declared_length(const SafeInput& input);

}  // namespace cinevault::media
