#include "cinevault/media/encoder.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "safe_input.hpp"

extern "C" {
#include <libavutil/hwcontext.h>
#include <libavutil/opt.h>
}

namespace cinevault::media {
namespace {

const char* encoder_name(EncoderKind kind) {
  switch (kind) {
    case EncoderKind::nvenc: return "h264_nvenc";
    case EncoderKind::vaapi: return "h264_vaapi";
    case EncoderKind::x264: break;
  }
  return "libx264";
}

// Opens one encoder context; the libav error text on failure.
struct Opened {
  CodecContextPtr context;
  BufferRefPtr hw_frames;
};

tl::expected<Opened, std::string> open_context(EncoderKind kind, const AVBufferRef* hw_device,
                                               const VideoEncoderSettings& settings) {
  const char* name = encoder_name(kind);
  const AVCodec* codec = avcodec_find_encoder_by_name(name);
  if (codec == nullptr) return tl::unexpected(fmt::format("{} is not in this libavcodec", name));
  Opened opened;
  opened.context.reset(avcodec_alloc_context3(codec));
  AVCodecContext* c = opened.context.get();
  if (c == nullptr) return tl::unexpected(std::string("out of memory"));
  c->width = settings.width;
  c->height = settings.height;
  c->time_base = av_inv_q(settings.frame_rate);
  c->framerate = settings.frame_rate;
  c->sample_aspect_ratio = AVRational{1, 1};
  c->bit_rate = static_cast<std::int64_t>(settings.bitrate_kbps) * 1000;
  c->rc_max_rate = static_cast<std::int64_t>(settings.maxrate_kbps) * 1000;
  c->rc_buffer_size = settings.bufsize_kbits * 1000;
  c->gop_size = settings.keyint_frames;
  c->keyint_min = settings.keyint_frames;
  c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  // avcC in the init segment, not in-band only
  c->color_range = AVCOL_RANGE_MPEG;
  c->color_primaries = settings.color_primaries;
  c->color_trc = settings.color_trc;
  c->colorspace = settings.colorspace;
  c->profile = FF_PROFILE_H264_HIGH;
  void* options = c->priv_data;
  switch (kind) {
    case EncoderKind::x264:
      c->pix_fmt = AV_PIX_FMT_YUV420P;
      c->thread_count = std::max(1, settings.threads);
      av_opt_set(options, "preset", settings.x264_preset.c_str(), 0);
      av_opt_set(options, "profile", "high", 0);
      // Closed GOPs and no scene-cut keyframes: the only IDR frames are the forced ones at
      // segment boundaries (keyint is longer than any segment).
      av_opt_set(options, "x264-params",
                 settings.fast_start
                     ? "scenecut=0:open-gop=0:rc-lookahead=0:b-adapt=0:subme=1:me=dia:partitions=none:aq-mode=0"
                     : "scenecut=0:open-gop=0",
                 0);
      av_opt_set_int(options, "forced-idr", 1, 0);
      break;
    case EncoderKind::nvenc:
      c->pix_fmt = AV_PIX_FMT_YUV420P;
      // No B-frames on the hardware encoders: their reorder delay is not what they declare
      // in has_b_frames (nvenc says 2 for any count), and the CMAF edit list needs it exactly.
      c->max_b_frames = 0;
      av_opt_set(options, "preset", "p4", 0);
      av_opt_set(options, "rc", "vbr", 0);
      av_opt_set_int(options, "forced-idr", 1, 0);
      av_opt_set_int(options, "no-scenecut", 1, 0);
      av_opt_set_int(options, "strict_gop", 1, 0);
      break;
    case EncoderKind::vaapi: {
      c->pix_fmt = AV_PIX_FMT_VAAPI;
      opened.hw_frames.reset(av_hwframe_ctx_alloc(const_cast<AVBufferRef*>(hw_device)));
      if (!opened.hw_frames) return tl::unexpected(std::string("cannot allocate VAAPI frames"));
      auto* frames = reinterpret_cast<AVHWFramesContext*>(opened.hw_frames->data);
      frames->format = AV_PIX_FMT_VAAPI;
      frames->sw_format = AV_PIX_FMT_NV12;
      frames->width = settings.width;
      frames->height = settings.height;
      frames->initial_pool_size = 20;
      int error = av_hwframe_ctx_init(opened.hw_frames.get());
      if (error < 0) return tl::unexpected("VAAPI frames: " + av_error_text(error));
      c->hw_frames_ctx = av_buffer_ref(opened.hw_frames.get());
      if (c->hw_frames_ctx == nullptr) return tl::unexpected(std::string("out of memory"));
      av_opt_set(options, "rc_mode", "VBR", 0);
      c->max_b_frames = 0;  // as for nvenc
      break;
    }
  }
  int error = avcodec_open2(c, codec, nullptr);
  if (error < 0) return tl::unexpected(fmt::format("{}: {}", name, av_error_text(error)));
  return opened;
}

}  // namespace

Result<EncoderPreference> parse_encoder_preference(const std::string& text) {
  if (text == "auto") return EncoderPreference::automatic;
  if (text == "x264") return EncoderPreference::x264;
  if (text == "nvenc") return EncoderPreference::nvenc;
  if (text == "vaapi") return EncoderPreference::vaapi;
  return fail(ErrorCode::invalid_argument, fmt::format("encoder must be auto, x264, nvenc or vaapi, not \"{}\"", text));
}

const char* to_string(EncoderPreference preference) {
  switch (preference) {
    case EncoderPreference::automatic: return "auto";
    case EncoderPreference::x264: return "x264";
    case EncoderPreference::nvenc: return "nvenc";
    case EncoderPreference::vaapi: return "vaapi";
  }
  return "auto";
}

Result<EncoderSelection> select_video_encoder(EncoderPreference preference,
                                              const VideoEncoderSettings& probe_settings) {
  std::vector<EncoderKind> candidates;
  if (preference == EncoderPreference::automatic || preference == EncoderPreference::nvenc)
    candidates.push_back(EncoderKind::nvenc);
  if (preference == EncoderPreference::automatic || preference == EncoderPreference::vaapi)
    candidates.push_back(EncoderKind::vaapi);

  EncoderSelection selection;
  std::vector<std::string> reasons;
  for (EncoderKind kind : candidates) {
    BufferRefPtr device;
    if (kind == EncoderKind::vaapi) {
      AVBufferRef* raw = nullptr;
      // nullptr: libavutil's default VAAPI device (the first DRM render node).
      int error = av_hwdevice_ctx_create(&raw, AV_HWDEVICE_TYPE_VAAPI, nullptr, nullptr, 0);
      device.reset(raw);
      if (error < 0) {
        reasons.push_back("h264_vaapi: no VAAPI device: " + av_error_text(error));
        continue;
      }
    }
    auto opened = open_context(kind, device.get(), probe_settings);
    if (!opened) {
      reasons.push_back(opened.error());
      continue;
    }
    selection.kind = kind;
    selection.name = encoder_name(kind);
    selection.hw_device = std::move(device);
    return selection;
  }

  // libx264, and the reasons the hardware ones did not open.
  if (!reasons.empty()) {
    std::string joined;
    for (const std::string& reason : reasons) joined += (joined.empty() ? "" : "; ") + reason;
    selection.fallback_reason = joined;
    if (preference == EncoderPreference::automatic)
      spdlog::warn("no hardware H.264 encoder, encoding with libx264 ({})", joined);
    else
      spdlog::error("encoder = {} was asked for but does not work here; encoding with libx264 instead ({})",
                    to_string(preference), joined);
  }
  auto opened = open_context(EncoderKind::x264, nullptr, probe_settings);
  if (!opened) return fail(ErrorCode::codec, "libx264 does not open: " + opened.error());
  return selection;
}

VideoEncoder::~VideoEncoder() = default;

Error VideoEncoder::failure(const char* what, int error) const {
  return Error{
      kind_ == EncoderKind::x264 ? ErrorCode::codec : ErrorCode::hardware,
      fmt::format("{} {} failed: {}", context_ ? context_->codec->name : "encoder", what, av_error_text(error))};
}

Result<std::unique_ptr<VideoEncoder>> VideoEncoder::open(const EncoderSelection& selection,
                                                         const VideoEncoderSettings& settings) {
  auto opened = open_context(selection.kind, selection.hw_device.get(), settings);
  if (!opened)
    return fail(selection.kind == EncoderKind::x264 ? ErrorCode::codec : ErrorCode::hardware,
                "opening the encoder failed: " + opened.error());
  std::unique_ptr<VideoEncoder> encoder(new VideoEncoder());
  encoder->kind_ = selection.kind;
  encoder->input_format_ = selection.kind == EncoderKind::vaapi ? AV_PIX_FMT_NV12 : AV_PIX_FMT_YUV420P;
  encoder->hw_frames_ = std::move(opened->hw_frames);
  encoder->context_ = std::move(opened->context);
  if (selection.kind == EncoderKind::vaapi) {
    encoder->hw_frame_ = make_frame();
    if (!encoder->hw_frame_) return fail(ErrorCode::internal, "out of memory");
  }
  return encoder;
}

Result<void> VideoEncoder::send(AVFrame* frame) {
  AVFrame* input = frame;
  if (frame != nullptr && kind_ == EncoderKind::vaapi) {
    av_frame_unref(hw_frame_.get());
    int error = av_hwframe_get_buffer(hw_frames_.get(), hw_frame_.get(), 0);
    if (error >= 0) error = av_hwframe_transfer_data(hw_frame_.get(), frame, 0);
    if (error >= 0) error = av_frame_copy_props(hw_frame_.get(), frame);
    if (error < 0) return tl::unexpected(failure("uploading a frame", error));
    input = hw_frame_.get();
  }
  int error = avcodec_send_frame(context_.get(), input);
  if (error < 0 && !(frame == nullptr && error == AVERROR_EOF)) return tl::unexpected(failure("encoding", error));
  return {};
}

Result<bool> VideoEncoder::receive(AVPacket* packet) {
  int error = avcodec_receive_packet(context_.get(), packet);
  if (error == AVERROR(EAGAIN) || error == AVERROR_EOF) return false;
  if (error < 0) return tl::unexpected(failure("encoding", error));
  packet->duration = 1;  // 5.1's encoders leave it 0; the muxer needs the last sample's
  return true;
}

}  // namespace cinevault::media
