#include "audio_chain.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "decode.hpp"
#include "safe_input.hpp"

extern "C" {
#include <libavutil/channel_layout.h>
}

namespace cinevault::media {
namespace {

constexpr int kAudioRate = 48000;
// Audio whose timestamps stray further than this from where continuous audio would be is
// moved back to them (silence for a gap, dropped samples for an overlap); closer, it is left
// continuous, as jitter. 40 ms: viewers notice sound behind the picture from about 45 ms
// (ITU-R BT.1359), and no common container's timestamps are that coarse.
constexpr std::int64_t kAudioResyncThreshold = kAudioRate * 40 / 1000;

}  // namespace

Result<std::unique_ptr<AudioChain>> AudioChain::create(const TranscodeRequest& request, AVFormatContext& format,
                                                       int stream_index) {
  if (stream_index < 0 || stream_index >= static_cast<int>(format.nb_streams) ||
      format.streams[stream_index]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO)
    return fail(ErrorCode::unprocessable, "a planned audio stream is not in the file");
  std::unique_ptr<AudioChain> chain(new AudioChain(request, *format.streams[stream_index]));
  chain->stream_index_ = stream_index;
  return chain;
}

Rendition AudioChain::rendition(int number) const {
  Rendition info;
  info.name = fmt::format("audio_{}", number);
  info.kind = TrackKind::audio;
  if (const StreamInfo* source = find_stream(request_.source_info, stream_index_)) info.language = source->language;
  return info;
}

Result<std::unique_ptr<AudioChain>> AudioChain::open(const TranscodeRequest& request, AVFormatContext& format,
                                                     int stream_index, int number, std::int64_t video_start,
                                                     AVRational video_time_base,
                                                     const package::SegmentSchedule& schedule,
                                                     package::SegmentListener& listener) {
  TRY(std::unique_ptr<AudioChain> chain, create(request, format, stream_index));
  chain->video_start_ = av_rescale_q(video_start, video_time_base, {1, kAudioRate});
  TRY(chain->decoder_, open_decoder(*chain->stream_, request.limits, 1, "audio"));

  const AVCodec* encoder = avcodec_find_encoder_by_name("aac");
  if (encoder == nullptr) return fail(ErrorCode::codec, "libavcodec has no aac encoder");
  chain->encoder_.reset(avcodec_alloc_context3(encoder));
  AVCodecContext* c = chain->encoder_.get();
  if (c == nullptr) return fail(ErrorCode::internal, "out of memory");
  c->sample_rate = kAudioRate;
  c->sample_fmt = AV_SAMPLE_FMT_FLTP;
  c->bit_rate = static_cast<std::int64_t>(request.ladder.audio_bitrate_kbps) * 1000;
  c->time_base = AVRational{1, kAudioRate};
  c->profile = FF_PROFILE_AAC_LOW;
  c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
  av_channel_layout_copy(&c->ch_layout, &stereo);
  int error = avcodec_open2(c, encoder, nullptr);
  if (error < 0) return fail(ErrorCode::codec, "the AAC encoder does not open: " + av_error_text(error));

  chain->fifo_.reset(av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, 2, c->frame_size * 4));
  chain->decoded_ = make_frame();
  chain->resampled_ = make_frame();
  chain->to_encode_ = make_frame();
  chain->packet_ = make_packet();
  if (!chain->fifo_ || !chain->decoded_ || !chain->resampled_ || !chain->to_encode_ || !chain->packet_)
    return fail(ErrorCode::internal, "out of memory");

  Rendition info = chain->rendition(number);
  info.channels = 2;
  info.sample_rate = kAudioRate;
  info.bandwidth_bps = request.ladder.audio_bitrate_kbps * 1000;
  CodecParametersPtr parameters(avcodec_parameters_alloc());
  if (!parameters) return fail(ErrorCode::internal, "out of memory");
  avcodec_parameters_from_context(parameters.get(), c);
  TRY(chain->segmenter_, package::CmafSegmenter::create(info, *parameters, c->time_base, schedule, listener));
  return chain;
}

Result<std::unique_ptr<AudioChain>> AudioChain::open_copy(const TranscodeRequest& request, AVFormatContext& format,
                                                          int stream_index, int number, std::int64_t video_start,
                                                          AVRational video_time_base, std::int64_t priming,
                                                          const package::SegmentSchedule& schedule,
                                                          package::SegmentListener& listener) {
  TRY(std::unique_ptr<AudioChain> chain, create(request, format, stream_index));
  AVStream& stream = *chain->stream_;
  chain->copy_origin_ = av_rescale_q(video_start, video_time_base, stream.time_base);
  chain->packet_ = make_packet();
  if (!chain->packet_) return fail(ErrorCode::internal, "out of memory");

  Rendition info = chain->rendition(number);
  info.channels = stream.codecpar->ch_layout.nb_channels;
  info.sample_rate = stream.codecpar->sample_rate;
  // The source's nominal rate, with room for an AAC encoder's variation around it.
  const std::int64_t rate = stream.codecpar->bit_rate > 0 ? stream.codecpar->bit_rate : 256000;
  info.bandwidth_bps = static_cast<int>(std::min<std::int64_t>(rate + rate / 4, 1'000'000));
  TRY(chain->segmenter_, package::CmafSegmenter::create(info, *stream.codecpar, stream.time_base, schedule, listener,
                                                        static_cast<std::uint32_t>(stream.codecpar->sample_rate),
                                                        priming));
  return chain;
}

Result<void> AudioChain::send(const AVPacket& packet) {
  if (!copy_origin_) return decode(&packet);
  AVPacket* copy = packet_.get();
  if (av_packet_ref(copy, &packet) < 0) return fail(ErrorCode::internal, "out of memory");
  copy->pts -= *copy_origin_;
  copy->dts -= *copy_origin_;
  // The priming's trim is the edit list's: what libavformat says to skip is not muxed.
  av_packet_free_side_data(copy);
  auto written = segmenter_->write(*copy);
  av_packet_unref(copy);
  return written;
}

// A damaged audio packet is always skipped: no failure of the decoder is the file's fault.
Result<void> AudioChain::decode(const AVPacket* packet) {
  return decode_packet(
      *decoder_, packet, *decoded_, [] { return Result<void>{}; }, [this](AVFrame& frame) { return on_frame(&frame); });
}

Result<void> AudioChain::finish() {
  if (copy_origin_) return segmenter_->finish();
  RETURN_IF_ERROR(decode(nullptr));  // flush the decoder
  if (resampler_) RETURN_IF_ERROR(on_frame(nullptr));  // what swr still holds
  int left = av_audio_fifo_size(fifo_.get());
  if (left > 0) RETURN_IF_ERROR(encode(left));  // a short last frame
  int error = avcodec_send_frame(encoder_.get(), nullptr);
  if (error < 0 && error != AVERROR_EOF) return fail(ErrorCode::codec, "AAC encoding failed: " + av_error_text(error));
  RETURN_IF_ERROR(drain_encoder());
  return segmenter_->finish();
}

// Where `frame` belongs on the output timeline (0 = the first video frame), in 48 kHz
// samples; nullopt when it has no timestamp.
std::optional<std::int64_t> AudioChain::output_position(const AVFrame& frame) const {
  if (frame.best_effort_timestamp == AV_NOPTS_VALUE) return std::nullopt;
  return av_rescale_q(frame.best_effort_timestamp, stream_->time_base, {1, kAudioRate}) - video_start_;
}

// Checks a decoded frame against the limits and keeps the output where its timestamps say.
Result<void> AudioChain::follow_timestamps(const AVFrame& frame) {
  const MediaLimits& limits = request_.limits;
  if (frame.ch_layout.nb_channels > limits.max_audio_channels || frame.sample_rate > limits.max_sample_rate ||
      frame.sample_rate <= 0)
    return fail(ErrorCode::unprocessable,
                fmt::format("an audio frame has {} channels at {} Hz, the limits are {} channels and {} Hz",
                            frame.ch_layout.nb_channels, frame.sample_rate, limits.max_audio_channels,
                            limits.max_sample_rate));
  // The resampler reads frames as the first one was: another layout would be read wrongly.
  if (resampler_ && (frame.format != source_format_ || frame.sample_rate != source_rate_ ||
                     frame.ch_layout.nb_channels != source_channels_))
    return fail(ErrorCode::unprocessable, "the audio changes its sample format, rate or channels mid-stream");
  std::optional<std::int64_t> position = output_position(frame);
  // Silence up to it would be encoded: a timestamp far out must not cost hours of it.
  if (position && static_cast<double>(*position) / kAudioRate > limits.max_duration_s)
    return fail(ErrorCode::unprocessable, fmt::format("too long: audio at {:g} s, the limit is {:g} s",
                                                      static_cast<double>(*position) / kAudioRate,
                                                      limits.max_duration_s));
  if (!started_) {
    started_ = true;
    // The encoder's priming (initial_padding) comes first: packets are moved later by it,
    // so the source sample at output time t is fed as sample t - padding.
    origin_ = position.value_or(0);
    std::int64_t lead = origin_ - encoder_->initial_padding;
    if (lead < 0) skip_samples_ = -lead;
    RETURN_IF_ERROR(write_silence(lead));  // until the audio starts
  } else if (position && source_rate_ > 0) {
    // Where this frame goes if the audio so far was continuous.
    std::int64_t expected = origin_ + av_rescale(source_samples_, kAudioRate, source_rate_) + correction_;
    std::int64_t drift = *position - expected;
    if (drift > kAudioResyncThreshold) {
      // A gap in the source: silence until the frame's time. A drop still owed to an
      // overlap (the audio since was shorter than it) comes out of the silence instead.
      std::int64_t pending = std::min(drift, skip_samples_);
      skip_samples_ -= pending;
      RETURN_IF_ERROR(write_silence(drift - pending));
      correction_ += drift;
    } else if (drift < -kAudioResyncThreshold) {
      // An overlap: drop what is already behind its time.
      skip_samples_ += -drift;
      correction_ += drift;
    }
  }
  if (source_rate_ == 0) source_rate_ = frame.sample_rate;
  source_samples_ += frame.nb_samples;
  return {};
}

// A decoded frame, or nullptr for what the resampler still holds.
Result<void> AudioChain::on_frame(const AVFrame* frame) {
  if (frame != nullptr) RETURN_IF_ERROR(follow_timestamps(*frame));
  if (frame != nullptr && !resampler_) {
    AVChannelLayout in_layout{};
    if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || frame->ch_layout.nb_channels == 0)
      av_channel_layout_default(&in_layout, std::max(1, frame->ch_layout.nb_channels));
    else
      av_channel_layout_copy(&in_layout, &frame->ch_layout);
    SwrContext* raw = nullptr;
    // Downmix to stereo with libswresample's default matrix, resample to 48 kHz.
    int error = swr_alloc_set_opts2(&raw, &encoder_->ch_layout, AV_SAMPLE_FMT_FLTP, kAudioRate, &in_layout,
                                    static_cast<AVSampleFormat>(frame->format), frame->sample_rate, 0, nullptr);
    av_channel_layout_uninit(&in_layout);
    resampler_.reset(raw);
    source_format_ = frame->format;
    source_channels_ = frame->ch_layout.nb_channels;
    if (error >= 0) error = swr_init(raw);
    if (error < 0) return fail(ErrorCode::unprocessable, "the audio cannot be resampled: " + av_error_text(error));
  }
  if (!resampler_) return {};  // flushing a track that never decoded a frame

  AVFrame* out = resampled_.get();
  av_frame_unref(out);
  int capacity = swr_get_out_samples(resampler_.get(), frame ? frame->nb_samples : 0);
  if (capacity <= 0) return {};
  out->format = AV_SAMPLE_FMT_FLTP;
  out->nb_samples = capacity;
  av_channel_layout_copy(&out->ch_layout, &encoder_->ch_layout);
  if (av_frame_get_buffer(out, 0) < 0) return fail(ErrorCode::internal, "out of memory");
  int converted = swr_convert(resampler_.get(), out->extended_data, capacity,
                              frame ? const_cast<const std::uint8_t**>(frame->extended_data) : nullptr,
                              frame ? frame->nb_samples : 0);
  if (converted < 0) return fail(ErrorCode::unprocessable, "resampling failed: " + av_error_text(converted));
  int offset = static_cast<int>(std::min<std::int64_t>(skip_samples_, converted));
  skip_samples_ -= offset;
  if (converted > offset) {
    void* planes[2] = {out->extended_data[0] + offset * sizeof(float), out->extended_data[1] + offset * sizeof(float)};
    if (av_audio_fifo_write(fifo_.get(), planes, converted - offset) < converted - offset)
      return fail(ErrorCode::internal, "out of memory");
  }
  while (av_audio_fifo_size(fifo_.get()) >= encoder_->frame_size) RETURN_IF_ERROR(encode(encoder_->frame_size));
  return {};
}

// Queues `samples` of silence for the encoder (none if not positive), encoding as it goes.
Result<void> AudioChain::write_silence(std::int64_t samples) {
  if (samples <= 0) return {};
  FramePtr silence = make_frame();
  if (!silence) return fail(ErrorCode::internal, "out of memory");
  silence->format = AV_SAMPLE_FMT_FLTP;
  silence->nb_samples = static_cast<int>(std::min<std::int64_t>(samples, kAudioRate));
  av_channel_layout_copy(&silence->ch_layout, &encoder_->ch_layout);
  if (av_frame_get_buffer(silence.get(), 0) < 0) return fail(ErrorCode::internal, "out of memory");
  av_samples_set_silence(silence->extended_data, 0, silence->nb_samples, 2, AV_SAMPLE_FMT_FLTP);
  for (std::int64_t left = samples; left > 0;) {
    int n = static_cast<int>(std::min<std::int64_t>(left, silence->nb_samples));
    if (av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(silence->extended_data), n) < n)
      return fail(ErrorCode::internal, "out of memory");
    left -= n;
    while (av_audio_fifo_size(fifo_.get()) >= encoder_->frame_size) RETURN_IF_ERROR(encode(encoder_->frame_size));
  }
  return {};
}

Result<void> AudioChain::encode(int samples) {
  AVFrame* frame = to_encode_.get();
  av_frame_unref(frame);
  frame->format = AV_SAMPLE_FMT_FLTP;
  frame->nb_samples = samples;
  frame->sample_rate = kAudioRate;
  av_channel_layout_copy(&frame->ch_layout, &encoder_->ch_layout);
  if (av_frame_get_buffer(frame, 0) < 0) return fail(ErrorCode::internal, "out of memory");
  if (av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(frame->extended_data), samples) < samples)
    return fail(ErrorCode::internal, "the audio FIFO ran dry");
  frame->pts = samples_sent_;
  samples_sent_ += samples;
  int error = avcodec_send_frame(encoder_.get(), frame);
  if (error < 0) return fail(ErrorCode::codec, "AAC encoding failed: " + av_error_text(error));
  return drain_encoder();
}

Result<void> AudioChain::drain_encoder() {
  AVPacket* packet = packet_.get();
  for (;;) {
    int error = avcodec_receive_packet(encoder_.get(), packet);
    if (error == AVERROR(EAGAIN) || error == AVERROR_EOF) return {};
    if (error < 0) return fail(ErrorCode::codec, "AAC encoding failed: " + av_error_text(error));
    // The priming frame opens the track at 0 (see follow_timestamps).
    packet->pts += encoder_->initial_padding;
    packet->dts += encoder_->initial_padding;
    auto written = segmenter_->write(*packet);
    av_packet_unref(packet);
    RETURN_IF_ERROR(written);
  }
}

}  // namespace cinevault::media
