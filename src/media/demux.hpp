// The input stage (internal to media/): the source opened through SafeInput, the streams the
// plan does not use discarded, packets read one at a time.
#pragma once

#include <optional>

#include "cinevault/core/result.hpp"
#include "cinevault/media/transcode.hpp"
#include "safe_input.hpp"

namespace cinevault::media {

class Demuxer {
 public:
  // From request.source_fd (a duplicate of it) when set, else request.source. Errors as
  // SafeInput::open.
  static Result<Demuxer> open(const TranscodeRequest& request);

  AVFormatContext& format() const { return *input_.format(); }
  // The next packet of a planned stream into `packet`; false at the end of the file.
  // Errors: io (reading the file failed), unprocessable (the container is damaged).
  Result<bool> read(AVPacket& packet);

 private:
  explicit Demuxer(SafeInput input) : input_(std::move(input)) {}
  SafeInput input_;
};

}  // namespace cinevault::media
