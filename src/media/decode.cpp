#include "decode.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "safe_input.hpp"

namespace cinevault::media {

Result<CodecContextPtr> open_decoder(const AVStream& stream, const MediaLimits& limits, int threads,
                                     const char* what) {
  AVCodecID id = stream.codecpar->codec_id;
  if (!codec_allowed(id, limits))
    return fail(ErrorCode::unprocessable, fmt::format("the {} codec {} is not accepted", what, avcodec_get_name(id)));
  const AVCodec* codec = avcodec_find_decoder(id);
  if (codec == nullptr)
    return fail(ErrorCode::unprocessable, fmt::format("the {} codec {} is not supported", what, avcodec_get_name(id)));
  CodecContextPtr decoder(avcodec_alloc_context3(codec));
  if (!decoder) return fail(ErrorCode::internal, "out of memory");
  int error = avcodec_parameters_to_context(decoder.get(), stream.codecpar);
  decoder->thread_count = std::max(1, threads);
  decoder->pkt_timebase = stream.time_base;
  // A frame larger than the limit is never allocated (the probe saw only the first ones).
  decoder->max_pixels = limits.max_pixels();
  if (error >= 0) error = avcodec_open2(decoder.get(), codec, nullptr);
  if (error < 0)
    return fail(ErrorCode::unprocessable, fmt::format("the {} decoder does not open: {}", what, av_error_text(error)));
  return decoder;
}

Result<void> decode_packet(AVCodecContext& decoder, const AVPacket* packet, AVFrame& frame,
                           const std::function<Result<void>()>& file_fault,
                           const std::function<Result<void>(AVFrame&)>& on_frame) {
  int error = avcodec_send_packet(&decoder, packet);
  if (error < 0 && error != AVERROR_EOF) {
    RETURN_IF_ERROR(file_fault());
    spdlog::debug("a damaged packet was skipped: {}", av_error_text(error));
    return {};
  }
  for (;;) {
    error = avcodec_receive_frame(&decoder, &frame);
    if (error == AVERROR(EAGAIN) || error == AVERROR_EOF) return {};
    if (error < 0) {
      RETURN_IF_ERROR(file_fault());
      spdlog::debug("a frame failed to decode: {}", av_error_text(error));
      continue;
    }
    auto handled = on_frame(frame);
    av_frame_unref(&frame);
    RETURN_IF_ERROR(handled);
  }
}

Result<void> check_picture_size(int width, int height, const MediaLimits& limits) {
  if (width <= limits.max_width && height <= limits.max_height) return {};
  return fail(ErrorCode::unprocessable, fmt::format("a frame is {}x{}, larger than the limit of {}x{}", width, height,
                                                    limits.max_width, limits.max_height));
}

Result<std::unique_ptr<VideoDecoder>> VideoDecoder::open(AVFormatContext& format, int stream_index,
                                                         const MediaLimits& limits, int threads,
                                                         AVRational frame_rate) {
  if (stream_index < 0 || stream_index >= static_cast<int>(format.nb_streams) ||
      format.streams[stream_index]->codecpar->codec_type != AVMEDIA_TYPE_VIDEO)
    return fail(ErrorCode::unprocessable, "the planned video stream is not in the file");
  AVStream& stream = *format.streams[stream_index];
  std::unique_ptr<VideoDecoder> decoder(new VideoDecoder(stream, limits, frame_rate));
  decoder->start_ = stream.start_time == AV_NOPTS_VALUE ? 0 : stream.start_time;
  TRY(decoder->decoder_, open_decoder(stream, limits, threads, "video"));
  decoder->frame_ = make_frame();
  if (!decoder->frame_) return fail(ErrorCode::internal, "out of memory");
  return decoder;
}

Result<void> VideoDecoder::send(const AVPacket* packet, const FrameSink& sink) {
  // A picture over the size limit fails to decode (max_pixels): that is the file's fault,
  // not damage to skip. The decoder has taken the new size from the stream by then.
  auto too_large = [this] { return check_picture_size(decoder_->width, decoder_->height, limits_); };
  return decode_packet(*decoder_, packet, *frame_, too_large, [&](AVFrame& frame) { return on_frame(frame, sink); });
}

Result<void> VideoDecoder::on_frame(AVFrame& frame, const FrameSink& sink) {
  RETURN_IF_ERROR(check_picture_size(frame.width, frame.height, limits_));
  std::int64_t pts = frame.best_effort_timestamp;
  if (pts == AV_NOPTS_VALUE) pts = frame.pts;
  if (pts == AV_NOPTS_VALUE) return fail(ErrorCode::unprocessable, "a video frame has no timestamp");
  frame.pts = pts - start_;
  AVRational time_base = stream_->time_base;
  std::int64_t duration = frame.pkt_duration;
  if (duration <= 0) duration = av_rescale_q(1, av_inv_q(frame_rate_), time_base);
  // The fps filter fills a jump forward with copies of the last picture: bounded here.
  double gap_s = static_cast<double>(frame.pts - end_) * av_q2d(time_base);
  if (frames_decoded_ > 0 && gap_s > limits_.max_timestamp_gap_s)
    return fail(ErrorCode::unprocessable, fmt::format("the video's timestamps jump forward by {:.0f} s, the limit is {:g} s",
                                                      gap_s, limits_.max_timestamp_gap_s));
  end_ = std::max(end_, frame.pts + duration);
  double at_s = static_cast<double>(frame.pts) * av_q2d(time_base);
  if (at_s > limits_.max_duration_s)
    return fail(ErrorCode::unprocessable,
                fmt::format("too long: over {:g} s, the limit is {:g} s", at_s, limits_.max_duration_s));
  ++frames_decoded_;
  return sink(frame);
}

}  // namespace cinevault::media
