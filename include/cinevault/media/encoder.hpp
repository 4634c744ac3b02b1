// H.264 video encoders for the ladder: libx264, or h264_nvenc / h264_vaapi when a real
// encoder opens on this machine.
//
// select_video_encoder() is called once per job: for `automatic` it opens h264_nvenc, then
// h264_vaapi (on the default VAAPI render node), at the job's smallest rung and keeps the
// first that opens; otherwise, or when the one asked for does not open, it is libx264 and
// `fallback_reason` says why (the libav error of each failed open). open() then opens one
// encoder per rung with the selection. An encoder is used from one thread at a time.
#pragma once

#include <memory>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/pixfmt.h>
#include <libavutil/rational.h>
}

#include "cinevault/core/result.hpp"
#include "cinevault/media/av_ptr.hpp"

namespace cinevault::media {

enum class EncoderPreference { automatic, x264, nvenc, vaapi };

// "auto"/"x264"/"nvenc"/"vaapi" as in the config file; invalid_argument otherwise.
Result<EncoderPreference> parse_encoder_preference(const std::string& text);
const char* to_string(EncoderPreference preference);

struct VideoEncoderSettings {
  int width = 0;
  int height = 0;
  AVRational frame_rate{0, 1};
  int bitrate_kbps = 0;
  int maxrate_kbps = 0;
  int bufsize_kbits = 0;
  int keyint_frames = 0;  // longer than any segment: only forced IDR frames cut GOPs
  int threads = 1;        // encoder threads (x264's own)
  std::string x264_preset = "veryfast";
  // libx264: no lookahead, a quicker motion search, no sub-partitions and no adaptive
  // quantization, for a segment that must be out fast (the first one). About twice as fast
  // on a noisy 1080p source, a little less sharp; the SPS/PPS stay those of the same
  // settings without it.
  bool fast_start = false;
  // Tagged on the stream (the scaler keeps the source's matrix, converts to limited range).
  AVColorPrimaries color_primaries = AVCOL_PRI_UNSPECIFIED;
  AVColorTransferCharacteristic color_trc = AVCOL_TRC_UNSPECIFIED;
  AVColorSpace colorspace = AVCOL_SPC_UNSPECIFIED;
};

enum class EncoderKind { x264, nvenc, vaapi };

struct EncoderSelection {
  EncoderKind kind = EncoderKind::x264;
  std::string name = "libx264";  // libavcodec's encoder name
  std::string fallback_reason;   // empty when what was asked for is what runs
  BufferRefPtr hw_device;        // VAAPI device context, else null
};

// Never fails for lack of hardware: falls back to libx264 (with a warning in the log).
// Errors: codec when not even libx264 opens.
Result<EncoderSelection> select_video_encoder(EncoderPreference preference, const VideoEncoderSettings& probe_settings);

class VideoEncoder {
 public:
  // Errors: hardware when a hardware encoder fails to open (retry in software), codec for libx264.
  static Result<std::unique_ptr<VideoEncoder>> open(const EncoderSelection& selection,
                                                    const VideoEncoderSettings& settings);
  ~VideoEncoder();
  VideoEncoder(const VideoEncoder&) = delete;
  VideoEncoder& operator=(const VideoEncoder&) = delete;

  const AVCodecContext& context() const { return *context_; }
  // The software format send() takes: yuv420p, or nv12 for VAAPI (uploaded here).
  AVPixelFormat input_format() const { return input_format_; }
  // A frame of settings' size in input_format() with pts in 1/frame_rate; nullptr flushes.
  // Set frame->pict_type = AV_PICTURE_TYPE_I to force an IDR frame.
  // Errors: hardware (hardware encoder), codec (libx264).
  Result<void> send(AVFrame* frame);
  // The next packet (pts/dts in 1/frame_rate, duration 1 frame); false when the encoder
  // needs more input or is drained.
  Result<bool> receive(AVPacket* packet);

 private:
  VideoEncoder() = default;
  Error failure(const char* what, int error) const;

  EncoderKind kind_ = EncoderKind::x264;
  AVPixelFormat input_format_ = AV_PIX_FMT_YUV420P;
  BufferRefPtr hw_frames_;
  CodecContextPtr context_;
  FramePtr hw_frame_;
};

}  // namespace cinevault::media
