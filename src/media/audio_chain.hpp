// The audio chain (internal to media/): one planned audio stream decoded, put on the video's
// timeline, downmixed to stereo and resampled to 48 kHz, encoded to AAC-LC and handed to its
// segmenter. Runs on the job's calling thread; its segmenter reports to the job's listener.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "cinevault/core/result.hpp"
#include "cinevault/media/av_ptr.hpp"
#include "cinevault/media/transcode.hpp"
#include "cinevault/package/cmaf_segmenter.hpp"
#include "cinevault/package/segment_schedule.hpp"

namespace cinevault::media {

class AudioChain {
 public:
  // Stream `stream_index` of `format` as rendition `number` ("audio_0", …). `video_start`
  // (in `video_time_base`) is the source time of output time 0. The init segment is reported
  // to `listener` from here. Errors: unprocessable (not an audio stream of the file, a codec
  // not accepted), codec (the AAC encoder).
  static Result<std::unique_ptr<AudioChain>> open(const TranscodeRequest& request, AVFormatContext& format,
                                                  int stream_index, int number, std::int64_t video_start,
                                                  AVRational video_time_base,
                                                  const package::SegmentSchedule& schedule,
                                                  package::SegmentListener& listener);

  // The same stream's AAC packets passed through as they are (see SourceVideoScan::
  // audio_priming): `priming` samples before output time 0 go into the track's edit list.
  static Result<std::unique_ptr<AudioChain>> open_copy(const TranscodeRequest& request, AVFormatContext& format,
                                                       int stream_index, int number, std::int64_t video_start,
                                                       AVRational video_time_base, std::int64_t priming,
                                                       const package::SegmentSchedule& schedule,
                                                       package::SegmentListener& listener);

  int stream_index() const { return stream_index_; }
  // One packet of the stream. Errors: unprocessable for audio the limits refuse.
  Result<void> send(const AVPacket& packet);
  // Encodes what the decoder, the resampler and the FIFO still hold, and finishes the rendition.
  Result<void> finish();

 private:
  AudioChain(const TranscodeRequest& request, AVStream& stream) : request_(request), stream_(&stream) {}
  // A chain of either kind for the file's stream `stream_index`, and its rendition's name and
  // language. Errors: unprocessable when that is not an audio stream of the file.
  static Result<std::unique_ptr<AudioChain>> create(const TranscodeRequest& request, AVFormatContext& format,
                                                    int stream_index);
  Rendition rendition(int number) const;
  Result<void> decode(const AVPacket* packet);  // nullptr flushes
  std::optional<std::int64_t> output_position(const AVFrame& frame) const;
  Result<void> follow_timestamps(const AVFrame& frame);
  Result<void> on_frame(const AVFrame* frame);
  Result<void> write_silence(std::int64_t samples);
  Result<void> encode(int samples);
  Result<void> drain_encoder();

  const TranscodeRequest& request_;
  AVStream* stream_;
  int stream_index_ = -1;
  std::int64_t video_start_ = 0;  // in the output's 48 kHz samples
  CodecContextPtr decoder_;
  SwrContextPtr resampler_;  // made at the first decoded frame, when its layout is known
  AudioFifoPtr fifo_;        // 48 kHz stereo float samples waiting for a whole AAC frame
  CodecContextPtr encoder_;
  std::unique_ptr<package::CmafSegmenter> segmenter_;
  FramePtr decoded_;
  FramePtr resampled_;
  FramePtr to_encode_;
  PacketPtr packet_;
  bool started_ = false;
  std::int64_t skip_samples_ = 0;  // still to drop (audio before the first video frame, or overlapping)
  // Following the source's timestamps, in 48 kHz samples on the output timeline: where the
  // first source sample went, and the silence put in minus the samples dropped since.
  std::int64_t origin_ = 0;
  std::int64_t correction_ = 0;
  std::int64_t source_samples_ = 0;  // given to the resampler, at the source's rate
  int source_rate_ = 0;
  int source_format_ = -1;  // what the resampler was made for
  int source_channels_ = 0;
  std::int64_t samples_sent_ = 0;  // the encoder's input pts
  // Passed through: the source's time of output time 0, in the stream's time base.
  std::optional<std::int64_t> copy_origin_;
};

}  // namespace cinevault::media
