#include "cinevault/media/transcode.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cinevault/media/av_ptr.hpp"
#include "cinevault/package/cmaf_segmenter.hpp"
#include "cinevault/package/segment_schedule.hpp"
#include "safe_input.hpp"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace cinevault::media {
namespace {

using Clock = std::chrono::steady_clock;
using package::CmafSegmenter;
using package::SegmentListener;
using package::SegmentSchedule;

// Pictures waiting per rung: the decoder runs at most this far ahead of the slowest
// encoder (frames are shared references, not copies). Each waiting picture is memory the
// decoder or the scaler cannot reuse; 2 keeps every encoder fed (measured against 4: the
// same speed, 12 MiB less at 1080p).
constexpr std::size_t kQueueDepth = 2;
constexpr int kAudioRate = 48000;
// Audio whose timestamps stray further than this from where continuous audio would be is
// moved back to them (silence for a gap, dropped samples for an overlap); closer, it is left
// continuous, as jitter. 40 ms: viewers notice sound behind the picture from about 45 ms
// (ITU-R BT.1359), and no common container's timestamps are that coarse.
constexpr std::int64_t kAudioResyncThreshold = kAudioRate * 40 / 1000;
constexpr auto kProgressInterval = std::chrono::milliseconds(500);
constexpr auto kPollInterval = std::chrono::milliseconds(50);
// The larger rungs keep their first segment's pictures until the smallest rung's first
// segment is stored (a player starts there: the first frame comes sooner), within this much
// memory per job: a 1080p source's four larger rungs need about 160 MB for a 1 s segment.
constexpr std::int64_t kFirstSegmentHoldBytes = std::int64_t{192} << 20;

// The init segment carries one encoder's SPS/PPS; another encoder may write segments of
// the same track only if its headers are the very same bytes.
bool same_global_header(const AVCodecContext& a, const AVCodecContext& b) {
  return a.extradata_size == b.extradata_size && a.extradata_size > 0 &&
         std::equal(a.extradata, a.extradata + a.extradata_size, b.extradata);
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// A picture over the configured size is the file's fault: the job fails as an input error.
Result<void> check_picture_size(int width, int height, const MediaLimits& limits) {
  if (width <= limits.max_width && height <= limits.max_height) return {};
  return fail(ErrorCode::unprocessable, fmt::format("a frame is {}x{}, larger than the limit of {}x{}", width, height,
                                                    limits.max_width, limits.max_height));
}

// What a worker's segmenter reported, for the calling thread to pass on.
struct Event {
  enum class Kind { init, segment, finished };
  Kind kind = Kind::init;
  Rendition rendition;
  Segment segment;
  std::string bytes;
  int average_bandwidth_bps = 0;
};

// Shared by the calling thread and the rung workers; everything under `mutex`.
struct Shared {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Event> events;
  std::optional<Error> error;  // a worker's first failure
  bool cancelled = false;      // workers stop at their next frame
  int workers_done = 0;
  bool smallest_first_stored = false;  // the smallest rung's first segment is out
  std::int64_t held_bytes = 0;         // pictures the larger rungs keep until then

  void post(Event event) {
    {
      std::lock_guard lock(mutex);
      events.push_back(std::move(event));
    }
    changed.notify_all();
  }
  void fail_with(Error failure) {
    {
      std::lock_guard lock(mutex);
      if (!error) error = std::move(failure);
      cancelled = true;
    }
    changed.notify_all();
  }
};

// The segmenter of a rung runs on its worker; its reports go to the calling thread.
class QueueingListener : public SegmentListener {
 public:
  explicit QueueingListener(Shared& shared) : shared_(shared) {}
  Result<void> on_init_segment(const Rendition& rendition, std::string bytes) override {
    shared_.post({Event::Kind::init, rendition, {}, std::move(bytes), 0});
    return {};
  }
  Result<void> on_media_segment(const Rendition& rendition, const Segment& segment,
                                std::string bytes) override {
    shared_.post({Event::Kind::segment, rendition, segment, std::move(bytes), 0});
    return {};
  }
  Result<void> on_rendition_finished(const Rendition& rendition, int average_bandwidth_bps) override {
    shared_.post({Event::Kind::finished, rendition, {}, {}, average_bandwidth_bps});
    return {};
  }

 private:
  Shared& shared_;
};

// A copy of `picture` in memory of its own, given back to the system when the copy is
// freed: a picture kept for a moment must not leave the decoder's buffer pool or the heap
// larger for the rest of the job (peak memory is a goal, docs/transcoding.md).
FramePtr private_copy(const AVFrame& picture) {
  auto format = static_cast<AVPixelFormat>(picture.format);
  int size = av_image_get_buffer_size(format, picture.width, picture.height, 64);
  if (size <= 0) return nullptr;
  void* memory = mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (memory == MAP_FAILED) return nullptr;
  AVBufferRef* buffer = av_buffer_create(
      static_cast<std::uint8_t*>(memory), static_cast<std::size_t>(size),
      [](void* length, std::uint8_t* data) { munmap(data, reinterpret_cast<std::size_t>(length)); },
      reinterpret_cast<void*>(static_cast<std::size_t>(size)), 0);
  if (buffer == nullptr) {
    munmap(memory, static_cast<std::size_t>(size));
    return nullptr;
  }
  FramePtr copy = make_frame();
  if (!copy) {
    av_buffer_unref(&buffer);
    return nullptr;
  }
  copy->buf[0] = buffer;
  copy->format = picture.format;
  copy->width = picture.width;
  copy->height = picture.height;
  if (av_image_fill_arrays(copy->data, copy->linesize, buffer->data, format, picture.width, picture.height, 64) < 0 ||
      av_frame_copy(copy.get(), &picture) < 0 || av_frame_copy_props(copy.get(), &picture) < 0)
    return nullptr;
  return copy;
}

struct Rung {
  explicit Rung(Shared& shared) : listener(shared) {}
  PlannedRung plan;
  std::unique_ptr<VideoEncoder> encoder;
  // Encodes the first segment only, and is flushed at its end: the segment is complete as
  // soon as its last frame is encoded instead of after x264's lookahead (about 15 more
  // frames at veryfast) has seen the next segment's frames, and without a lookahead it
  // encodes about twice as fast. Its SPS/PPS must be the main encoder's (checked), and a
  // closed GOP ends there anyway. libx264 only (hardware encoders have few sessions);
  // null when not used.
  std::unique_ptr<VideoEncoder> first_segment_encoder;
  QueueingListener listener;
  std::unique_ptr<CmafSegmenter> segmenter;
  SwsContextPtr scaler;         // worker only
  std::deque<FramePtr> frames;  // under Shared::mutex
  bool closed = false;          // under Shared::mutex: no more frames will come
  // The next smaller rung, scaled from this one's pictures rather than from the source:
  // each step down reads a smaller picture, which costs about half the scaling of
  // scaling every rung from the source.
  Rung* next = nullptr;
  std::atomic<std::int64_t> frames_done{0};
  std::thread thread;  // joined by Job::stop_workers()
};

struct AudioTrack {
  int stream_index = -1;
  CodecContextPtr decoder;
  SwrContextPtr resampler;  // made at the first decoded frame, when its layout is known
  AudioFifoPtr fifo;        // 48 kHz stereo float samples waiting for a whole AAC frame
  CodecContextPtr encoder;
  std::unique_ptr<CmafSegmenter> segmenter;
  FramePtr decoded;
  FramePtr resampled;
  FramePtr to_encode;
  PacketPtr packet;
  bool started = false;
  std::int64_t skip_samples = 0;  // still to drop (audio before the first video frame, or overlapping)
  // Following the source's timestamps, in 48 kHz samples on the output timeline: where the
  // first source sample went, and the silence put in minus the samples dropped since.
  std::int64_t origin = 0;
  std::int64_t correction = 0;
  std::int64_t source_samples = 0;  // given to the resampler, at the source's rate
  int source_rate = 0;
  int source_format = -1;  // what the resampler was made for
  int source_channels = 0;
  std::int64_t samples_sent = 0;  // the encoder's input pts
};

class Job {
 public:
  Job(const TranscodeRequest& request, SegmentListener& listener,
      const std::function<void(const TranscodeProgress&)>& progress, std::stop_token stop)
      : request_(request), listener_(listener), progress_(progress), stop_(std::move(stop)) {}

  ~Job() { stop_workers(); }

  Result<TranscodeReport> run();

 private:
  Result<void> open_video_decoder();
  Result<void> open_audio_track(int stream_index, int number);
  Result<void> open_rungs();
  Result<void> build_filter_graph(const AVFrame& frame);
  Result<void> on_video_frame(AVFrame* frame);
  Result<void> pull_filtered();
  Result<void> push(Rung& rung, FramePtr frame);
  bool hand_down(Rung& next, FramePtr frame);
  void close(Rung& rung);
  std::optional<std::int64_t> output_position(const AudioTrack& track, const AVFrame& frame) const;
  Result<void> write_silence(AudioTrack& track, std::int64_t samples);
  Result<void> on_audio_frame(AudioTrack& track, AVFrame* frame);
  Result<void> encode_audio(AudioTrack& track, int samples);
  Result<void> drain_audio_encoder(AudioTrack& track);
  Result<void> finish_audio(AudioTrack& track);
  Result<void> decode(AVCodecContext* decoder, const AVPacket* packet, AudioTrack* audio);
  Result<void> deliver_events();
  Result<void> poll();
  Result<void> wait_for_workers();
  void report_progress(bool force, const char* stage);
  void run_rung(Rung& rung);
  Result<void> encode_rung(Rung& rung);
  Result<void> scale(Rung& rung, const AVFrame& in, AVFrame* out);
  void stop_workers();

  const TranscodeRequest& request_;
  SegmentListener& listener_;
  const std::function<void(const TranscodeProgress&)>& progress_;
  std::stop_token stop_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point last_progress_{};

  std::optional<SegmentSchedule> schedule_;
  AVRational frame_rate_{0, 1};
  EncoderSelection selection_;
  Shared shared_;

  // Acquisition order: the input, its decoders, the filter graph, the rungs.
  std::optional<SafeInput> input_;
  AVStream* video_stream_ = nullptr;
  std::int64_t video_start_ = 0;  // in video_stream_->time_base: this source time is output time 0
  CodecContextPtr video_decoder_;
  FramePtr decoded_video_;
  std::vector<std::unique_ptr<AudioTrack>> audio_;
  FilterGraphPtr graph_;
  AVFilterContext* source_filter_ = nullptr;  // owned by graph_
  AVFilterContext* sink_filter_ = nullptr;    // owned by graph_
  FramePtr filtered_;
  std::optional<ThumbnailSampler> thumbnails_;  // reset when it fails: thumbnails are optional
  std::string thumbnails_error_;
  std::int64_t video_end_ = 0;  // end of the last decoded frame, in video_stream_->time_base
  std::int64_t decoded_frames_ = 0;
  std::vector<std::unique_ptr<Rung>> rungs_;
};

Result<void> Job::open_video_decoder() {
  AVFormatContext* format = input_->format();
  int index = request_.plan.video_stream;
  if (index < 0 || index >= static_cast<int>(format->nb_streams) ||
      format->streams[index]->codecpar->codec_type != AVMEDIA_TYPE_VIDEO)
    return fail(ErrorCode::unprocessable, "the planned video stream is not in the file");
  video_stream_ = format->streams[index];
  video_start_ = video_stream_->start_time == AV_NOPTS_VALUE ? 0 : video_stream_->start_time;
  if (!codec_allowed(video_stream_->codecpar->codec_id, request_.limits))
    return fail(ErrorCode::unprocessable, fmt::format("the video codec {} is not accepted",
                                                      avcodec_get_name(video_stream_->codecpar->codec_id)));
  const AVCodec* codec = avcodec_find_decoder(video_stream_->codecpar->codec_id);
  if (codec == nullptr)
    return fail(ErrorCode::unprocessable, fmt::format("the video codec {} is not supported",
                                                      avcodec_get_name(video_stream_->codecpar->codec_id)));
  video_decoder_.reset(avcodec_alloc_context3(codec));
  decoded_video_ = make_frame();
  if (!video_decoder_ || !decoded_video_) return fail(ErrorCode::internal, "out of memory");
  int error = avcodec_parameters_to_context(video_decoder_.get(), video_stream_->codecpar);
  video_decoder_->thread_count = std::max(1, request_.threads);
  video_decoder_->pkt_timebase = video_stream_->time_base;
  // A frame larger than the limit is never allocated (the probe saw only the first ones).
  video_decoder_->max_pixels = request_.limits.max_pixels();
  if (error >= 0) error = avcodec_open2(video_decoder_.get(), codec, nullptr);
  if (error < 0) return fail(ErrorCode::unprocessable, "the video decoder does not open: " + av_error_text(error));
  return {};
}

Result<void> Job::open_audio_track(int stream_index, int number) {
  AVFormatContext* format = input_->format();
  if (stream_index < 0 || stream_index >= static_cast<int>(format->nb_streams) ||
      format->streams[stream_index]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO)
    return fail(ErrorCode::unprocessable, "a planned audio stream is not in the file");
  AVStream* stream = format->streams[stream_index];
  auto track = std::make_unique<AudioTrack>();
  track->stream_index = stream_index;

  if (!codec_allowed(stream->codecpar->codec_id, request_.limits))
    return fail(ErrorCode::unprocessable,
                fmt::format("the audio codec {} is not accepted", avcodec_get_name(stream->codecpar->codec_id)));
  const AVCodec* decoder = avcodec_find_decoder(stream->codecpar->codec_id);
  if (decoder == nullptr)
    return fail(ErrorCode::unprocessable,
                fmt::format("the audio codec {} is not supported", avcodec_get_name(stream->codecpar->codec_id)));
  track->decoder.reset(avcodec_alloc_context3(decoder));
  if (!track->decoder) return fail(ErrorCode::internal, "out of memory");
  int error = avcodec_parameters_to_context(track->decoder.get(), stream->codecpar);
  track->decoder->pkt_timebase = stream->time_base;
  if (error >= 0) error = avcodec_open2(track->decoder.get(), decoder, nullptr);
  if (error < 0) return fail(ErrorCode::unprocessable, "the audio decoder does not open: " + av_error_text(error));

  const AVCodec* encoder = avcodec_find_encoder_by_name("aac");
  if (encoder == nullptr) return fail(ErrorCode::codec, "libavcodec has no aac encoder");
  track->encoder.reset(avcodec_alloc_context3(encoder));
  AVCodecContext* c = track->encoder.get();
  if (c == nullptr) return fail(ErrorCode::internal, "out of memory");
  c->sample_rate = kAudioRate;
  c->sample_fmt = AV_SAMPLE_FMT_FLTP;
  c->bit_rate = static_cast<std::int64_t>(request_.ladder.audio_bitrate_kbps) * 1000;
  c->time_base = AVRational{1, kAudioRate};
  c->profile = FF_PROFILE_AAC_LOW;
  c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
  av_channel_layout_copy(&c->ch_layout, &stereo);
  error = avcodec_open2(c, encoder, nullptr);
  if (error < 0) return fail(ErrorCode::codec, "the AAC encoder does not open: " + av_error_text(error));

  track->fifo.reset(av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, 2, c->frame_size * 4));
  track->decoded = make_frame();
  track->resampled = make_frame();
  track->to_encode = make_frame();
  track->packet = make_packet();
  if (!track->fifo || !track->decoded || !track->resampled || !track->to_encode || !track->packet)
    return fail(ErrorCode::internal, "out of memory");

  Rendition info;
  info.name = fmt::format("audio_{}", number);
  info.kind = TrackKind::audio;
  info.channels = 2;
  info.sample_rate = kAudioRate;
  info.bandwidth_bps = request_.ladder.audio_bitrate_kbps * 1000;
  for (const StreamInfo& s : request_.source_info.streams)
    if (s.index == stream_index) info.language = s.language;
  CodecParametersPtr parameters(avcodec_parameters_alloc());
  if (!parameters) return fail(ErrorCode::internal, "out of memory");
  avcodec_parameters_from_context(parameters.get(), c);
  // The init segment is reported from here: audio reports on this thread directly.
  TRY(track->segmenter, CmafSegmenter::create(info, *parameters, c->time_base, *schedule_, listener_));
  audio_.push_back(std::move(track));
  return {};
}

Result<void> Job::open_rungs() {
  const std::vector<PlannedRung>& planned = request_.plan.video;
  int keyint = keyframe_interval(request_.ladder, av_q2d(frame_rate_));

  std::vector<int> threads = encoder_threads(request_.plan, request_.threads);
  auto settings_for = [&](const PlannedRung& rung) {
    VideoEncoderSettings settings;
    settings.width = rung.width;
    settings.height = rung.height;
    settings.frame_rate = frame_rate_;
    settings.bitrate_kbps = rung.spec.bitrate_kbps;
    settings.maxrate_kbps = rung.spec.maxrate_kbps;
    settings.bufsize_kbits = rung.spec.bufsize_kbits;
    settings.keyint_frames = keyint;
    settings.threads = threads[static_cast<std::size_t>(&rung - planned.data())];
    settings.x264_preset = request_.ladder.x264_preset;
    settings.color_primaries = video_decoder_->color_primaries;
    settings.color_trc = video_decoder_->color_trc;
    settings.colorspace = video_decoder_->colorspace;
    return settings;
  };

  if (request_.chosen_encoder) {
    selection_ = std::move(*request_.chosen_encoder);
  } else {
    TRY(selection_, select_video_encoder(request_.encoder, settings_for(planned.back())));
  }
  for (const PlannedRung& plan : planned) {
    auto rung = std::make_unique<Rung>(shared_);
    rung->plan = plan;
    TRY(rung->encoder, VideoEncoder::open(selection_, settings_for(plan)));
    if (selection_.kind == EncoderKind::x264 && schedule_->start_frame(1) > 0) {
      VideoEncoderSettings fast = settings_for(plan);
      fast.fast_start = true;
      TRY(rung->first_segment_encoder, VideoEncoder::open(selection_, fast));
      if (!same_global_header(rung->encoder->context(), rung->first_segment_encoder->context())) {
        spdlog::warn("{}: the fast-start encoder's SPS/PPS differ from the main encoder's; "
                     "no fast first segment", plan.spec.name);
        rung->first_segment_encoder.reset();
      }
    }
    Rendition info;
    info.name = plan.spec.name;
    info.kind = TrackKind::video;
    info.start = &plan == &planned.back();  // players start on the smallest rung
    info.width = plan.width;
    info.height = plan.height;
    info.frame_rate = av_q2d(frame_rate_);
    info.bandwidth_bps = plan.spec.maxrate_kbps * 1000;
    CodecParametersPtr parameters(avcodec_parameters_alloc());
    if (!parameters) return fail(ErrorCode::internal, "out of memory");
    avcodec_parameters_from_context(parameters.get(), &rung->encoder->context());
    TRY(rung->segmenter,
        CmafSegmenter::create(info, *parameters, rung->encoder->context().time_base, *schedule_, rung->listener));
    rungs_.push_back(std::move(rung));
  }
  for (std::size_t i = 0; i + 1 < rungs_.size(); ++i) rungs_[i]->next = rungs_[i + 1].get();
  // Lowest rung first: with equal scheduling it is the first to produce its segments.
  for (auto it = rungs_.rbegin(); it != rungs_.rend(); ++it) {
    Rung& rung = **it;
    rung.thread = std::thread([this, &rung] { run_rung(rung); });
  }
  return {};
}

Result<void> Job::build_filter_graph(const AVFrame& frame) {
  graph_.reset(avfilter_graph_alloc());
  filtered_ = make_frame();
  if (!graph_ || !filtered_) return fail(ErrorCode::internal, "out of memory");
  graph_->nb_threads = std::max(1, request_.threads);
  AVRational time_base = video_stream_->time_base;
  AVRational sar = frame.sample_aspect_ratio.num > 0 ? frame.sample_aspect_ratio : AVRational{1, 1};
  std::string source_args = fmt::format("video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}", frame.width,
                                        frame.height, frame.format, time_base.num, time_base.den, sar.num, sar.den);
  int error = avfilter_graph_create_filter(&source_filter_, avfilter_get_by_name("buffer"), "in", source_args.c_str(),
                                           nullptr, graph_.get());
  if (error >= 0)
    error = avfilter_graph_create_filter(&sink_filter_, avfilter_get_by_name("buffersink"), "out", nullptr, nullptr,
                                         graph_.get());
  if (error < 0) return fail(ErrorCode::internal, "creating the filter graph failed: " + av_error_text(error));

  // The shared part of every rung: deinterlace, turn upright, constant frame rate. Each rung
  // scales on its own worker (libswscale), so the scaling runs in parallel too.
  std::vector<std::string> chain;
  if (request_.plan.deinterlace) chain.push_back("yadif=mode=send_frame:parity=auto:deint=interlaced");
  switch (request_.plan.rotation_deg) {
    case 90: chain.push_back("transpose=clock"); break;
    case 180: chain.push_back("hflip,vflip"); break;
    case 270: chain.push_back("transpose=cclock"); break;
    default: break;
  }
  // start_time=0: output frame 0 is source time 0 (the first frame is repeated if the
  // video starts late, frames before 0 are dropped); VFR becomes CFR here.
  chain.push_back(fmt::format("fps=fps={}/{}:start_time=0", frame_rate_.num, frame_rate_.den));
  std::string description;
  for (const std::string& filter : chain) description += (description.empty() ? "" : ",") + filter;

  FilterInOutPtr outputs(avfilter_inout_alloc());
  FilterInOutPtr inputs(avfilter_inout_alloc());
  if (!outputs || !inputs) return fail(ErrorCode::internal, "out of memory");
  outputs->name = av_strdup("in");
  outputs->filter_ctx = source_filter_;
  inputs->name = av_strdup("out");
  inputs->filter_ctx = sink_filter_;
  AVFilterInOut* raw_inputs = inputs.release();
  AVFilterInOut* raw_outputs = outputs.release();
  error = avfilter_graph_parse_ptr(graph_.get(), description.c_str(), &raw_inputs, &raw_outputs, nullptr);
  inputs.reset(raw_inputs);  // what parsing left unlinked
  outputs.reset(raw_outputs);
  if (error >= 0) error = avfilter_graph_config(graph_.get(), nullptr);
  if (error < 0)
    return fail(ErrorCode::internal,
                fmt::format("the filter graph \"{}\" failed: {}", description, av_error_text(error)));
  return {};
}

Result<void> Job::on_video_frame(AVFrame* frame) {
  const MediaLimits& limits = request_.limits;
  RETURN_IF_ERROR(check_picture_size(frame->width, frame->height, limits));
  if (!graph_) RETURN_IF_ERROR(build_filter_graph(*frame));
  std::int64_t pts = frame->best_effort_timestamp;
  if (pts == AV_NOPTS_VALUE) pts = frame->pts;
  if (pts == AV_NOPTS_VALUE) return fail(ErrorCode::unprocessable, "a video frame has no timestamp");
  frame->pts = pts - video_start_;
  std::int64_t duration = frame->pkt_duration;
  if (duration <= 0) duration = av_rescale_q(1, av_inv_q(frame_rate_), video_stream_->time_base);
  // The fps filter fills a jump forward with copies of the last picture: bounded here.
  double gap_s = static_cast<double>(frame->pts - video_end_) * av_q2d(video_stream_->time_base);
  if (decoded_frames_ > 0 && gap_s > limits.max_timestamp_gap_s)
    return fail(ErrorCode::unprocessable,
                fmt::format("the video's timestamps jump forward by {:.0f} s, the limit is {:g} s", gap_s,
                            limits.max_timestamp_gap_s));
  video_end_ = std::max(video_end_, frame->pts + duration);
  double at_s = static_cast<double>(frame->pts) * av_q2d(video_stream_->time_base);
  if (at_s > request_.limits.max_duration_s)
    return fail(ErrorCode::unprocessable,
                fmt::format("too long: over {:g} s, the limit is {:g} s", at_s, request_.limits.max_duration_s));
  ++decoded_frames_;
  int error = av_buffersrc_add_frame(source_filter_, frame);  // takes the frame's references
  if (error < 0)
    return fail(ErrorCode::unprocessable,
                "the video frames cannot be filtered (does the picture size change?): " + av_error_text(error));
  return pull_filtered();
}

Result<void> Job::pull_filtered() {
  AVRational sink_time_base = av_buffersink_get_time_base(sink_filter_);
  AVRational frame_time_base = av_inv_q(frame_rate_);
  for (;;) {
    int error = av_buffersink_get_frame(sink_filter_, filtered_.get());
    if (error == AVERROR(EAGAIN) || error == AVERROR_EOF) return {};
    if (error < 0) return fail(ErrorCode::internal, "the filter graph failed: " + av_error_text(error));
    filtered_->pts = av_rescale_q(filtered_->pts, sink_time_base, frame_time_base);  // the frame index
    if (thumbnails_) {
      if (auto sampled = thumbnails_->add(*filtered_, static_cast<double>(filtered_->pts) / av_q2d(frame_rate_));
          !sampled) {
        thumbnails_error_ = sampled.error().message;
        thumbnails_.reset();
      }
    }
    FramePtr shared(av_frame_clone(filtered_.get()));  // a new reference to the same picture
    if (!shared) return fail(ErrorCode::internal, "out of memory");
    RETURN_IF_ERROR(push(*rungs_.front(), std::move(shared)));
    av_frame_unref(filtered_.get());
  }
}

Result<void> Job::push(Rung& rung, FramePtr frame) {
  std::unique_lock lock(shared_.mutex);
  for (;;) {
    if (shared_.error) return tl::unexpected(*shared_.error);
    if (rung.frames.size() < kQueueDepth) {
      rung.frames.push_back(std::move(frame));
      lock.unlock();
      shared_.changed.notify_all();
      return {};
    }
    if (!shared_.events.empty() || stop_.stop_requested()) {
      lock.unlock();
      RETURN_IF_ERROR(poll());
      lock.lock();
      continue;
    }
    shared_.changed.wait_for(lock, kPollInterval);
  }
}

// From a rung's worker to the next smaller rung; false when the job was cancelled.
bool Job::hand_down(Rung& next, FramePtr frame) {
  std::unique_lock lock(shared_.mutex);
  shared_.changed.wait(lock, [&] { return shared_.cancelled || next.frames.size() < kQueueDepth; });
  if (shared_.cancelled) return false;
  next.frames.push_back(std::move(frame));
  lock.unlock();
  shared_.changed.notify_all();
  return true;
}

void Job::close(Rung& rung) {
  {
    std::lock_guard lock(shared_.mutex);
    rung.closed = true;
  }
  shared_.changed.notify_all();
}

Result<void> Job::scale(Rung& rung, const AVFrame& in, AVFrame* out) {
  auto in_format = static_cast<AVPixelFormat>(in.format);
  if (in.width == rung.plan.width && in.height == rung.plan.height && in_format == rung.encoder->input_format() &&
      in.color_range != AVCOL_RANGE_JPEG) {
    // Already what the encoder wants (the top rung of most sources): no copy.
    int error = av_frame_ref(out, &in);
    if (error < 0) return fail(ErrorCode::internal, "out of memory");
    out->sample_aspect_ratio = AVRational{1, 1};
    out->color_range = AVCOL_RANGE_MPEG;
    return {};
  }
  SwsContext* previous = rung.scaler.get();
  SwsContext* context =
      sws_getCachedContext(rung.scaler.release(), in.width, in.height, in_format, rung.plan.width, rung.plan.height,
                           rung.encoder->input_format(), SWS_BICUBIC, nullptr, nullptr, nullptr);
  rung.scaler.reset(context);
  if (context == nullptr) return fail(ErrorCode::internal, "libswscale cannot convert this picture");
  if (context != previous) {
    // Keep the source's matrix; full-range input (phones) becomes limited range.
    const AVPixFmtDescriptor* descriptor = av_pix_fmt_desc_get(in_format);
    bool full_range = in.color_range == AVCOL_RANGE_JPEG ||
                      (descriptor != nullptr && std::string_view(descriptor->name).substr(0, 4) == "yuvj");
    const int* coefficients = sws_getCoefficients(SWS_CS_DEFAULT);
    sws_setColorspaceDetails(context, coefficients, full_range ? 1 : 0, coefficients, 0, 0, 1 << 16, 1 << 16);
  }
  out->format = rung.encoder->input_format();
  out->width = rung.plan.width;
  out->height = rung.plan.height;
  int error = av_frame_get_buffer(out, 0);
  if (error >= 0) error = sws_scale_frame(context, out, &in);
  if (error < 0) return fail(ErrorCode::internal, "scaling failed: " + av_error_text(error));
  out->pts = in.pts;
  out->sample_aspect_ratio = AVRational{1, 1};
  out->color_range = AVCOL_RANGE_MPEG;
  return {};
}

Result<void> Job::encode_rung(Rung& rung) {
  PacketPtr packet = make_packet();
  FramePtr scaled = make_frame();
  if (!packet || !scaled) return fail(ErrorCode::internal, "out of memory");
  std::unique_ptr<VideoEncoder> first_segment = std::move(rung.first_segment_encoder);
  const bool smallest = rung.next == nullptr;
  // The larger rungs wait for this (see `keep` below).
  auto announce_smallest_first_stored = [&] {
    {
      std::lock_guard lock(shared_.mutex);
      shared_.smallest_first_stored = true;
    }
    shared_.changed.notify_all();
  };
  auto drain = [&](VideoEncoder& encoder) -> Result<void> {
    for (;;) {
      TRY(bool got, encoder.receive(packet.get()));
      if (!got) return {};
      auto written = rung.segmenter->write(*packet);
      av_packet_unref(packet.get());
      RETURN_IF_ERROR(written);
    }
  };
  // Flushed, the first segment's encoder has put out all of that segment: report it now.
  auto end_first_segment = [&]() -> Result<void> {
    RETURN_IF_ERROR(first_segment->send(nullptr));
    RETURN_IF_ERROR(drain(*first_segment));
    first_segment.reset();
    RETURN_IF_ERROR(rung.segmenter->end_segment());
    if (smallest) announce_smallest_first_stored();
    return {};
  };
  int next_segment = 1;
  auto encode = [&](AVFrame* picture) -> Result<void> {
    if (first_segment && picture->pts >= schedule_->start_frame(1)) RETURN_IF_ERROR(end_first_segment());
    // An IDR frame on the first frame at or after each boundary, in every rung alike.
    picture->pict_type = AV_PICTURE_TYPE_NONE;
    if (picture->pts >= schedule_->start_frame(next_segment)) {
      picture->pict_type = AV_PICTURE_TYPE_I;
      while (picture->pts >= schedule_->start_frame(next_segment)) ++next_segment;
    }
    VideoEncoder& encoder = first_segment ? *first_segment : *rung.encoder;
    RETURN_IF_ERROR(encoder.send(picture));
    RETURN_IF_ERROR(drain(encoder));
    // The first segment's last picture: end it now rather than when the next one comes.
    if (first_segment && picture->pts + 1 >= schedule_->start_frame(1)) RETURN_IF_ERROR(end_first_segment());
    rung.frames_done.fetch_add(1, std::memory_order_relaxed);
    return {};
  };

  // A larger rung keeps its first segment's pictures (in memory of their own, within
  // kFirstSegmentHoldBytes) until the smallest rung's first segment is stored: the two
  // cores decode and scale for that rung alone first. It still hands each picture down.
  std::deque<FramePtr> kept;
  std::int64_t kept_bytes = 0;
  bool keeping = !smallest;
  if (smallest && !first_segment) announce_smallest_first_stored();  // none to wait for (a hardware encoder)
  auto encode_kept = [&]() -> Result<void> {
    for (FramePtr& picture : kept) RETURN_IF_ERROR(encode(picture.get()));
    kept.clear();
    std::lock_guard lock(shared_.mutex);
    shared_.held_bytes -= kept_bytes;
    kept_bytes = 0;
    return {};
  };
  // Whether `picture` was kept; false once this rung no longer keeps any.
  auto keep = [&](const AVFrame& picture) -> Result<bool> {
    if (!keeping) return false;
    std::int64_t bytes = av_image_get_buffer_size(static_cast<AVPixelFormat>(picture.format), picture.width,
                                                  picture.height, 64);
    {
      std::lock_guard lock(shared_.mutex);
      keeping = !shared_.smallest_first_stored && shared_.held_bytes + bytes <= kFirstSegmentHoldBytes;
      if (keeping) shared_.held_bytes += bytes;
    }
    if (!keeping) return false;
    FramePtr copy = private_copy(picture);
    if (!copy) return fail(ErrorCode::internal, "out of memory");
    kept.push_back(std::move(copy));
    kept_bytes += bytes;
    return true;
  };

  for (;;) {
    FramePtr frame;
    bool release;
    {
      std::unique_lock lock(shared_.mutex);
      shared_.changed.wait(lock, [&] {
        return shared_.cancelled || !rung.frames.empty() || rung.closed ||
               (!kept.empty() && shared_.smallest_first_stored);
      });
      if (shared_.cancelled) return {};  // the calling thread reports why
      release = !kept.empty() && shared_.smallest_first_stored;
      if (!rung.frames.empty()) {
        frame = std::move(rung.frames.front());
        rung.frames.pop_front();
      } else if (!release) {
        break;  // closed: the input is done
      }
    }
    if (release) {
      keeping = false;
      RETURN_IF_ERROR(encode_kept());
    }
    if (!frame) continue;
    shared_.changed.notify_all();
    av_frame_unref(scaled.get());
    RETURN_IF_ERROR(scale(rung, *frame, scaled.get()));
    frame.reset();
    if (rung.next) {
      FramePtr down(av_frame_clone(scaled.get()));  // the encoder copies its input: share the picture
      if (!down) return fail(ErrorCode::internal, "out of memory");
      if (!hand_down(*rung.next, std::move(down))) return {};  // cancelled: the calling thread reports why
    }
    TRY(bool was_kept, keep(*scaled));
    if (was_kept) continue;
    RETURN_IF_ERROR(encode_kept());
    RETURN_IF_ERROR(encode(scaled.get()));
  }
  if (rung.next) close(*rung.next);
  RETURN_IF_ERROR(encode_kept());
  if (first_segment) RETURN_IF_ERROR(end_first_segment());  // a video shorter than its first segment
  RETURN_IF_ERROR(rung.encoder->send(nullptr));
  RETURN_IF_ERROR(drain(*rung.encoder));
  return rung.segmenter->finish();
}

void Job::run_rung(Rung& rung) {
  // "rung 720p" in top -H and in a debugger.
  pthread_setname_np(pthread_self(), ("rung " + rung.plan.spec.name).substr(0, 15).c_str());
  Result<void> result;
  try {  // an exception must not leave a std::thread: the job fails instead
    result = encode_rung(rung);
  } catch (const std::exception& exception) {
    result = fail(ErrorCode::internal, fmt::format("{}: encoding threw: {}", rung.plan.spec.name, exception.what()));
  }
  if (!result) shared_.fail_with(result.error());
  {
    std::lock_guard lock(shared_.mutex);
    ++shared_.workers_done;
  }
  shared_.changed.notify_all();
}

void Job::stop_workers() {
  {
    std::lock_guard lock(shared_.mutex);
    shared_.cancelled = true;
  }
  shared_.changed.notify_all();
  for (auto& rung : rungs_)
    if (rung->thread.joinable()) rung->thread.join();
}

// Where `frame` belongs on the output timeline (0 = the first video frame), in 48 kHz
// samples; nullopt when it has no timestamp.
std::optional<std::int64_t> Job::output_position(const AudioTrack& track, const AVFrame& frame) const {
  if (frame.best_effort_timestamp == AV_NOPTS_VALUE) return std::nullopt;
  AVRational time_base = input_->format()->streams[track.stream_index]->time_base;
  return av_rescale_q(frame.best_effort_timestamp, time_base, {1, kAudioRate}) -
         av_rescale_q(video_start_, video_stream_->time_base, {1, kAudioRate});
}

// Queues `samples` of silence for the encoder (none if not positive), encoding as it goes.
Result<void> Job::write_silence(AudioTrack& track, std::int64_t samples) {
  if (samples <= 0) return {};
  AVCodecContext* encoder = track.encoder.get();
  FramePtr silence = make_frame();
  if (!silence) return fail(ErrorCode::internal, "out of memory");
  silence->format = AV_SAMPLE_FMT_FLTP;
  silence->nb_samples = static_cast<int>(std::min<std::int64_t>(samples, kAudioRate));
  av_channel_layout_copy(&silence->ch_layout, &encoder->ch_layout);
  if (av_frame_get_buffer(silence.get(), 0) < 0) return fail(ErrorCode::internal, "out of memory");
  av_samples_set_silence(silence->extended_data, 0, silence->nb_samples, 2, AV_SAMPLE_FMT_FLTP);
  for (std::int64_t left = samples; left > 0;) {
    int n = static_cast<int>(std::min<std::int64_t>(left, silence->nb_samples));
    if (av_audio_fifo_write(track.fifo.get(), reinterpret_cast<void**>(silence->extended_data), n) < n)
      return fail(ErrorCode::internal, "out of memory");
    left -= n;
    while (av_audio_fifo_size(track.fifo.get()) >= encoder->frame_size)
      RETURN_IF_ERROR(encode_audio(track, encoder->frame_size));
  }
  return {};
}

Result<void> Job::on_audio_frame(AudioTrack& track, AVFrame* frame) {
  AVCodecContext* encoder = track.encoder.get();
  if (frame != nullptr) {
    const MediaLimits& limits = request_.limits;
    if (frame->ch_layout.nb_channels > limits.max_audio_channels || frame->sample_rate > limits.max_sample_rate ||
        frame->sample_rate <= 0)
      return fail(ErrorCode::unprocessable,
                  fmt::format("an audio frame has {} channels at {} Hz, the limits are {} channels and {} Hz",
                              frame->ch_layout.nb_channels, frame->sample_rate, limits.max_audio_channels,
                              limits.max_sample_rate));
    // The resampler reads frames as the first one was: another layout would be read wrongly.
    if (track.resampler && (frame->format != track.source_format || frame->sample_rate != track.source_rate ||
                            frame->ch_layout.nb_channels != track.source_channels))
      return fail(ErrorCode::unprocessable, "the audio changes its sample format, rate or channels mid-stream");
    std::optional<std::int64_t> position = output_position(track, *frame);
    // Silence up to it would be encoded: a timestamp far out must not cost hours of it.
    if (position && static_cast<double>(*position) / kAudioRate > request_.limits.max_duration_s)
      return fail(ErrorCode::unprocessable,
                  fmt::format("too long: audio at {:g} s, the limit is {:g} s",
                              static_cast<double>(*position) / kAudioRate, request_.limits.max_duration_s));
    if (!track.started) {
      track.started = true;
      // The encoder's priming (initial_padding) comes first: packets are moved later by it,
      // so the source sample at output time t is fed as sample t - padding.
      track.origin = position.value_or(0);
      std::int64_t lead = track.origin - encoder->initial_padding;
      if (lead < 0) track.skip_samples = -lead;
      RETURN_IF_ERROR(write_silence(track, lead));  // until the audio starts
    } else if (position && track.source_rate > 0) {
      // Where this frame goes if the audio so far was continuous.
      std::int64_t expected =
          track.origin + av_rescale(track.source_samples, kAudioRate, track.source_rate) + track.correction;
      std::int64_t drift = *position - expected;
      if (drift > kAudioResyncThreshold) {
        // A gap in the source: silence until the frame's time. A drop still owed to an
        // overlap (the audio since was shorter than it) comes out of the silence instead.
        std::int64_t pending = std::min(drift, track.skip_samples);
        track.skip_samples -= pending;
        RETURN_IF_ERROR(write_silence(track, drift - pending));
        track.correction += drift;
      } else if (drift < -kAudioResyncThreshold) {
        // An overlap: drop what is already behind its time.
        track.skip_samples += -drift;
        track.correction += drift;
      }
    }
    if (track.source_rate == 0) track.source_rate = frame->sample_rate;
    track.source_samples += frame->nb_samples;
  }
  if (frame != nullptr && !track.resampler) {
    AVChannelLayout in_layout{};
    if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || frame->ch_layout.nb_channels == 0)
      av_channel_layout_default(&in_layout, std::max(1, frame->ch_layout.nb_channels));
    else
      av_channel_layout_copy(&in_layout, &frame->ch_layout);
    SwrContext* raw = nullptr;
    // Downmix to stereo with libswresample's default matrix, resample to 48 kHz.
    int error = swr_alloc_set_opts2(&raw, &encoder->ch_layout, AV_SAMPLE_FMT_FLTP, kAudioRate, &in_layout,
                                    static_cast<AVSampleFormat>(frame->format), frame->sample_rate, 0, nullptr);
    av_channel_layout_uninit(&in_layout);
    track.resampler.reset(raw);
    track.source_format = frame->format;
    track.source_channels = frame->ch_layout.nb_channels;
    if (error >= 0) error = swr_init(raw);
    if (error < 0) return fail(ErrorCode::unprocessable, "the audio cannot be resampled: " + av_error_text(error));
  }
  if (!track.resampler) return {};  // flushing a track that never decoded a frame

  AVFrame* out = track.resampled.get();
  av_frame_unref(out);
  int capacity = swr_get_out_samples(track.resampler.get(), frame ? frame->nb_samples : 0);
  if (capacity <= 0) return {};
  out->format = AV_SAMPLE_FMT_FLTP;
  out->nb_samples = capacity;
  av_channel_layout_copy(&out->ch_layout, &encoder->ch_layout);
  if (av_frame_get_buffer(out, 0) < 0) return fail(ErrorCode::internal, "out of memory");
  int converted = swr_convert(track.resampler.get(), out->extended_data, capacity,
                              frame ? const_cast<const std::uint8_t**>(frame->extended_data) : nullptr,
                              frame ? frame->nb_samples : 0);
  if (converted < 0) return fail(ErrorCode::unprocessable, "resampling failed: " + av_error_text(converted));
  int offset = static_cast<int>(std::min<std::int64_t>(track.skip_samples, converted));
  track.skip_samples -= offset;
  if (converted > offset) {
    void* planes[2] = {out->extended_data[0] + offset * sizeof(float), out->extended_data[1] + offset * sizeof(float)};
    if (av_audio_fifo_write(track.fifo.get(), planes, converted - offset) < converted - offset)
      return fail(ErrorCode::internal, "out of memory");
  }
  while (av_audio_fifo_size(track.fifo.get()) >= encoder->frame_size)
    RETURN_IF_ERROR(encode_audio(track, encoder->frame_size));
  return {};
}

Result<void> Job::encode_audio(AudioTrack& track, int samples) {
  AVFrame* frame = track.to_encode.get();
  av_frame_unref(frame);
  frame->format = AV_SAMPLE_FMT_FLTP;
  frame->nb_samples = samples;
  frame->sample_rate = kAudioRate;
  av_channel_layout_copy(&frame->ch_layout, &track.encoder->ch_layout);
  if (av_frame_get_buffer(frame, 0) < 0) return fail(ErrorCode::internal, "out of memory");
  if (av_audio_fifo_read(track.fifo.get(), reinterpret_cast<void**>(frame->extended_data), samples) < samples)
    return fail(ErrorCode::internal, "the audio FIFO ran dry");
  frame->pts = track.samples_sent;
  track.samples_sent += samples;
  int error = avcodec_send_frame(track.encoder.get(), frame);
  if (error < 0) return fail(ErrorCode::codec, "AAC encoding failed: " + av_error_text(error));
  return drain_audio_encoder(track);
}

Result<void> Job::drain_audio_encoder(AudioTrack& track) {
  AVPacket* packet = track.packet.get();
  for (;;) {
    int error = avcodec_receive_packet(track.encoder.get(), packet);
    if (error == AVERROR(EAGAIN) || error == AVERROR_EOF) return {};
    if (error < 0) return fail(ErrorCode::codec, "AAC encoding failed: " + av_error_text(error));
    // The priming frame opens the track at 0 (see on_audio_frame).
    packet->pts += track.encoder->initial_padding;
    packet->dts += track.encoder->initial_padding;
    auto written = track.segmenter->write(*packet);
    av_packet_unref(packet);
    RETURN_IF_ERROR(written);
  }
}

Result<void> Job::finish_audio(AudioTrack& track) {
  RETURN_IF_ERROR(decode(track.decoder.get(), nullptr, &track));
  if (track.resampler) RETURN_IF_ERROR(on_audio_frame(track, nullptr));  // what swr still holds
  int left = av_audio_fifo_size(track.fifo.get());
  if (left > 0) RETURN_IF_ERROR(encode_audio(track, left));  // a short last frame
  int error = avcodec_send_frame(track.encoder.get(), nullptr);
  if (error < 0 && error != AVERROR_EOF) return fail(ErrorCode::codec, "AAC encoding failed: " + av_error_text(error));
  RETURN_IF_ERROR(drain_audio_encoder(track));
  return track.segmenter->finish();
}

// Sends a packet (nullptr: flush) and handles every frame that comes out. A damaged packet
// is skipped, as players do.
Result<void> Job::decode(AVCodecContext* decoder, const AVPacket* packet, AudioTrack* audio) {
  // A picture over the size limit fails to decode (max_pixels): that is the file's fault,
  // not damage to skip. The decoder has taken the new size from the stream by then.
  auto too_large = [&]() -> Result<void> {
    return audio ? Result<void>{} : check_picture_size(decoder->width, decoder->height, request_.limits);
  };
  int error = avcodec_send_packet(decoder, packet);
  if (error < 0 && error != AVERROR_EOF) {
    RETURN_IF_ERROR(too_large());
    spdlog::debug("a damaged packet was skipped: {}", av_error_text(error));
    return {};
  }
  AVFrame* frame = audio ? audio->decoded.get() : decoded_video_.get();
  for (;;) {
    error = avcodec_receive_frame(decoder, frame);
    if (error == AVERROR(EAGAIN) || error == AVERROR_EOF) return {};
    if (error < 0) {
      RETURN_IF_ERROR(too_large());
      spdlog::debug("a frame failed to decode: {}", av_error_text(error));
      continue;
    }
    auto handled = audio ? on_audio_frame(*audio, frame) : on_video_frame(frame);
    av_frame_unref(frame);
    RETURN_IF_ERROR(handled);
  }
}

Result<void> Job::deliver_events() {
  for (;;) {
    std::deque<Event> events;
    {
      std::lock_guard lock(shared_.mutex);
      events.swap(shared_.events);
    }
    if (events.empty()) return {};
    for (Event& event : events) {
      switch (event.kind) {
        case Event::Kind::init:
          RETURN_IF_ERROR(listener_.on_init_segment(event.rendition, std::move(event.bytes)));
          break;
        case Event::Kind::segment:
          RETURN_IF_ERROR(listener_.on_media_segment(event.rendition, event.segment, std::move(event.bytes)));
          break;
        case Event::Kind::finished:
          RETURN_IF_ERROR(listener_.on_rendition_finished(event.rendition, event.average_bandwidth_bps));
          break;
      }
    }
  }
}

Result<void> Job::poll() {
  if (stop_.stop_requested()) return fail(ErrorCode::unavailable, "the transcode was cancelled");
  double budget_s = 300 + request_.limits.max_transcode_time_factor * request_.source_info.duration_s;
  if (seconds_since(started_) > budget_s)
    return fail(ErrorCode::unprocessable,
                fmt::format("the transcode took over {:.0f} s, the limit for {:.0f} s of media", budget_s,
                            request_.source_info.duration_s));
  {
    std::lock_guard lock(shared_.mutex);
    if (shared_.error) return tl::unexpected(*shared_.error);
  }
  RETURN_IF_ERROR(deliver_events());
  report_progress(false, "encoding");
  return {};
}

Result<void> Job::wait_for_workers() {
  for (;;) {
    RETURN_IF_ERROR(poll());
    std::unique_lock lock(shared_.mutex);
    if (shared_.workers_done == static_cast<int>(rungs_.size()) && shared_.events.empty()) break;
    shared_.changed.wait_for(lock, kPollInterval);
  }
  for (auto& rung : rungs_) rung->thread.join();
  return poll();
}

void Job::report_progress(bool force, const char* stage) {
  if (!progress_) return;
  auto now = Clock::now();
  if (!force && now - last_progress_ < kProgressInterval) return;
  last_progress_ = now;
  double expected_frames = request_.source_info.duration_s * av_q2d(frame_rate_);
  std::int64_t slowest = rungs_.empty() ? 0 : rungs_.front()->frames_done.load();
  for (auto& rung : rungs_) slowest = std::min(slowest, rung->frames_done.load());
  TranscodeProgress progress;
  progress.stage = stage;
  double elapsed = seconds_since(started_);
  progress.percent = expected_frames > 0 ? std::min(99.0, 100.0 * static_cast<double>(slowest) / expected_frames) : 0;
  if (std::string_view(stage) == "done") progress.percent = 100;
  progress.fps = elapsed > 0 ? static_cast<double>(decoded_frames_) / elapsed : 0;
  progress.eta_s = progress.percent > 0 ? elapsed * (100 - progress.percent) / progress.percent : 0;
  progress_(progress);
}

Result<TranscodeReport> Job::run() {
  const LadderPlan& plan = request_.plan;
  if (plan.video.empty()) return fail(ErrorCode::invalid_argument, "the plan has no video rung");
  frame_rate_ = AVRational{plan.frame_rate_num, plan.frame_rate_den};
  TRY(auto schedule, SegmentSchedule::create(request_.ladder.first_segments_s, request_.ladder.segment_s, frame_rate_));
  schedule_.emplace(std::move(schedule));
  report_progress(true, "opening");  // the source, its decoders and the encoders

  auto opened = [&]() -> Result<SafeInput> {
    if (request_.source_fd < 0) return SafeInput::open(request_.source, request_.limits);
    int fd = ::dup(request_.source_fd);
    if (fd < 0) return fail(ErrorCode::io, errno_message("dup of the source", errno));
    return SafeInput::open(File(fd), request_.limits);
  }();
  TRY(SafeInput input, std::move(opened));
  input_.emplace(std::move(input));
  RETURN_IF_ERROR(open_video_decoder());
  for (std::size_t i = 0; i < plan.audio_streams.size(); ++i)
    RETURN_IF_ERROR(open_audio_track(plan.audio_streams[i], static_cast<int>(i)));
  AVFormatContext* format = input_->format();
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    bool used = static_cast<int>(i) == plan.video_stream ||
                std::find(plan.audio_streams.begin(), plan.audio_streams.end(), static_cast<int>(i)) !=
                    plan.audio_streams.end();
    format->streams[i]->discard = used ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
  }
  RETURN_IF_ERROR(open_rungs());
  const PlannedRung& top = plan.video.front();
  thumbnails_.emplace(request_.thumbnails, request_.source_info.duration_s,
                      static_cast<double>(top.width) / static_cast<double>(top.height));

  PacketPtr packet = make_packet();
  if (!packet) return fail(ErrorCode::internal, "out of memory");
  for (;;) {
    RETURN_IF_ERROR(poll());
    int error = av_read_frame(format, packet.get());
    if (error == AVERROR_EOF) break;
    if (error < 0) {
      RETURN_IF_ERROR(input_->read_status());
      return fail(ErrorCode::unprocessable, "reading the source failed: " + av_error_text(error));
    }
    Result<void> handled;
    if (packet->stream_index == plan.video_stream) {
      handled = decode(video_decoder_.get(), packet.get(), nullptr);
    } else {
      for (auto& track : audio_)
        if (track->stream_index == packet->stream_index)
          handled = decode(track->decoder.get(), packet.get(), track.get());
    }
    av_packet_unref(packet.get());
    RETURN_IF_ERROR(handled);
  }
  RETURN_IF_ERROR(input_->read_status());

  // Drain the decoder and the filter graph, then tell the workers that is all.
  RETURN_IF_ERROR(decode(video_decoder_.get(), nullptr, nullptr));
  if (!graph_) return fail(ErrorCode::unprocessable, "no video frame could be decoded");
  // Closed at the end of the last frame, not its start, or fps drops that frame.
  int error = av_buffersrc_close(source_filter_, video_end_, AV_BUFFERSRC_FLAG_PUSH);
  if (error < 0) return fail(ErrorCode::internal, "flushing the filter graph failed: " + av_error_text(error));
  RETURN_IF_ERROR(pull_filtered());
  close(*rungs_.front());  // each rung closes the next when it has passed on its last picture
  report_progress(true, "finishing");
  for (auto& track : audio_) RETURN_IF_ERROR(finish_audio(*track));
  RETURN_IF_ERROR(wait_for_workers());

  TranscodeReport report;
  report.encoder_name = selection_.name;
  report.fallback_reason = selection_.fallback_reason;
  if (thumbnails_) {
    auto made = thumbnails_->finish();
    if (made) report.thumbnails = std::move(*made);
    else thumbnails_error_ = made.error().message;
  }
  report.thumbnails_error = thumbnails_error_;
  report.wall_s = seconds_since(started_);
  report_progress(true, "done");
  return report;
}

}  // namespace

Result<TranscodeReport> transcode(const TranscodeRequest& request, package::SegmentListener& listener,
                                  const std::function<void(const TranscodeProgress&)>& progress, std::stop_token stop) {
  Job job(request, listener, progress, std::move(stop));
  return job.run();
}

}  // namespace cinevault::media
