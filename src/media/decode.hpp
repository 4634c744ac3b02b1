// The decode stage: a libavcodec decoder for one planned stream of the source, and the video
// decoder that puts its frames on the output timeline and holds them to the limits that the
// probe could only check on the first frames (internal to media/).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "cinevault/core/result.hpp"
#include "cinevault/media/av_ptr.hpp"
#include "cinevault/media/probe.hpp"

extern "C" {
#include <libavformat/avformat.h>
}

namespace cinevault::media {

// A decoder for `stream` when `limits` allow its codec; `what` ("video", "audio") names it in
// errors. Pictures over limits.max_pixels() are never allocated. Errors: unprocessable.
Result<CodecContextPtr> open_decoder(const AVStream& stream, const MediaLimits& limits, int threads, const char* what);

// Sends `packet` (nullptr: flush) and passes every frame that comes out to `on_frame`, which
// may keep references but not the frame itself. A damaged packet or frame is skipped, as
// players do, unless `file_fault` returns an error (then that is the result).
Result<void> decode_packet(AVCodecContext& decoder, const AVPacket* packet, AVFrame& frame,
                           const std::function<Result<void>()>& file_fault,
                           const std::function<Result<void>(AVFrame&)>& on_frame);

// A picture over the configured size is the file's fault: the job fails as an input error.
Result<void> check_picture_size(int width, int height, const MediaLimits& limits);

// The planned video stream, decoded. Each frame reaches the sink with its pts moved so that
// the stream's start is 0 (in stream().time_base), after the checks a decoded frame must pass
// whatever the probe saw: its size, a timestamp jump that the constant-frame-rate filter
// would fill with copies, and the duration.
class VideoDecoder {
 public:
  using FrameSink = std::function<Result<void>(AVFrame&)>;

  // Errors: unprocessable (not a video stream of the file, a codec not accepted, no decoder).
  static Result<std::unique_ptr<VideoDecoder>> open(AVFormatContext& format, int stream_index,
                                                    const MediaLimits& limits, int threads, AVRational frame_rate);

  // One packet of stream(); nullptr flushes the decoder.
  Result<void> send(const AVPacket* packet, const FrameSink& sink);

  const AVStream& stream() const { return *stream_; }
  // The source time (stream().time_base) that is output time 0.
  std::int64_t start() const { return start_; }
  // The end of the last decoded frame on the output timeline (stream().time_base).
  std::int64_t end() const { return end_; }
  std::int64_t frames_decoded() const { return frames_decoded_; }

 private:
  VideoDecoder(AVStream& stream, const MediaLimits& limits, AVRational frame_rate)
      : stream_(&stream), limits_(limits), frame_rate_(frame_rate) {}
  Result<void> on_frame(AVFrame& frame, const FrameSink& sink);

  AVStream* stream_;
  MediaLimits limits_;
  AVRational frame_rate_;
  CodecContextPtr decoder_;
  FramePtr frame_;
  std::int64_t start_ = 0;
  std::int64_t end_ = 0;
  std::int64_t frames_decoded_ = 0;
};

}  // namespace cinevault::media
