// The transcoder's calling thread: it reads the source and drives the stages, as FFmpeg's
// own tool separates them —
//   demux.cpp             the source, read packet by packet
//   decode.cpp            video decoding, with the limits checked on every frame
//   audio_chain.cpp       each audio stream: decode, resample, AAC, its segmenter
//   picture_pipeline.cpp  deinterlace, turn upright, constant frame rate; rung scalers
//   rung_encoders.cpp     a thread per rung: scale, encode, segment (package/)
//   passthrough.cpp       the source's own H.264 packets as the top rung, when they may be
//   segment_relay.cpp     the rungs' segments back to this thread
//   thumbnails.cpp        posters and sprites from the same pictures
//   progress.cpp          progress reports
#include "cinevault/media/transcode.hpp"

#include <optional>

#include <fmt/format.h>

#include "audio_chain.hpp"
#include "decode.hpp"
#include "demux.hpp"
#include "passthrough.hpp"
#include "picture_pipeline.hpp"
#include "progress.hpp"
#include "rung_encoders.hpp"

namespace cinevault::media {
namespace {

class Job {
 public:
  Job(const TranscodeRequest& request, package::SegmentListener& listener,
      const std::function<void(const TranscodeProgress&)>& progress, std::stop_token stop)
      : request_(request),
        encoded_(request),
        listener_(listener),
        progress_(progress, request.source_info.duration_s * request.plan.frame_rate),
        stop_(std::move(stop)) {}

  Result<TranscodeReport> run();

 private:
  Result<void> open();
  Result<void> on_picture(AVFrame& picture);
  Result<void> poll();
  void report(const char* stage, bool force);

  Result<void> open_passthrough();

  const TranscodeRequest& request_;
  // What the rung encoders get: the request, less the top rung when it passes through.
  TranscodeRequest encoded_;
  package::SegmentListener& listener_;
  ProgressReporter progress_;
  std::stop_token stop_;

  // Acquisition order: the schedule, the input, its decoders, the pictures' path, the rungs.
  std::optional<package::SegmentSchedule> schedule_;
  std::optional<Demuxer> demuxer_;
  std::unique_ptr<VideoDecoder> video_;
  std::vector<std::unique_ptr<AudioChain>> audio_;
  std::optional<PicturePipeline> pictures_;
  std::optional<SourceVideoScan> scan_;            // when the source's packets are the top rung
  std::string passthrough_refusal_;                // why they are not, when the plan wanted them
  std::unique_ptr<PassthroughVideo> passthrough_;
  int audio_copied_ = 0;                           // audio renditions that are the source's packets
  std::optional<ThumbnailSampler> thumbnails_;  // reset when it fails: thumbnails are optional
  std::string thumbnails_error_;
  std::unique_ptr<RungEncoders> rungs_;  // destroyed first: its threads use the schedule
};

Result<void> Job::open() {
  const LadderPlan& plan = request_.plan;
  if (plan.video.empty() || plan.start_rung >= plan.video.size())
    return fail(ErrorCode::invalid_argument, "the plan has no video rung to start with");
  AVRational frame_rate{plan.frame_rate_num, plan.frame_rate_den};
  report("opening", true);  // the source, its decoders and the encoders
  if (plan.passthrough) RETURN_IF_ERROR(open_passthrough());
  if (!schedule_) {
    TRY(auto schedule, package::SegmentSchedule::create(request_.ladder.first_segments_s, request_.ladder.segment_s,
                                                        frame_rate));
    schedule_.emplace(std::move(schedule));
  }

  TRY(Demuxer demuxer, Demuxer::open(request_));
  demuxer_.emplace(std::move(demuxer));
  AVFormatContext& format = demuxer_->format();
  TRY(video_, VideoDecoder::open(format, plan.video_stream, request_.limits, request_.threads, frame_rate));
  for (std::size_t i = 0; i < plan.audio_streams.size(); ++i) {
    const int index = plan.audio_streams[i];
    auto copied = scan_ ? scan_->audio_priming.find(index) : std::map<int, std::int64_t>::const_iterator();
    std::unique_ptr<AudioChain> chain;
    if (scan_ && copied != scan_->audio_priming.end()) {
      TRY(chain, AudioChain::open_copy(request_, format, index, static_cast<int>(i), video_->start(),
                                       video_->stream().time_base, copied->second, *schedule_, listener_));
      ++audio_copied_;
    } else {
      TRY(chain, AudioChain::open(request_, format, index, static_cast<int>(i), video_->start(),
                                  video_->stream().time_base, *schedule_, listener_));
    }
    audio_.push_back(std::move(chain));
  }
  pictures_.emplace(plan, video_->stream().time_base, request_.threads,
                    [this](AVFrame& picture) { return on_picture(picture); });
  if (scan_) {
    TRY(passthrough_, PassthroughVideo::start(request_, video_->stream(), *scan_, *schedule_, listener_));
  }
  TRY(rungs_, RungEncoders::start(encoded_, *schedule_));
  const PlannedRung& top = plan.video.front();
  thumbnails_.emplace(request_.thumbnails, request_.source_info.duration_s,
                      static_cast<double>(top.width) / static_cast<double>(top.height));
  return {};
}

// The source's packets as the top rung, when its keyframes allow it: then the segments
// start at its IDR frames, and the encoders make only the rungs below it.
Result<void> Job::open_passthrough() {
  TRY(SourceVideoScan scan, scan_source_video(request_, [this]() -> Result<void> {
        if (stop_.stop_requested()) return fail(ErrorCode::unavailable, "the transcode was cancelled");
        report("opening", false);
        return {};
      }));
  if (!scan.refusal.empty()) {
    passthrough_refusal_ = scan.refusal;
    return {};
  }
  AVRational frame_rate{request_.plan.frame_rate_num, request_.plan.frame_rate_den};
  TRY(auto schedule, package::SegmentSchedule::from_boundaries(scan.boundaries, scan.time_base, frame_rate));
  schedule_.emplace(std::move(schedule));
  scan_.emplace(std::move(scan));
  encoded_.plan.video.erase(encoded_.plan.video.begin());
  encoded_.plan.start_rung -= 1;
  return {};
}

// A picture out of the pipeline (pts: the output frame index) goes to the thumbnails and
// to the top rung.
Result<void> Job::on_picture(AVFrame& picture) {
  if (thumbnails_) {
    if (auto sampled = thumbnails_->add(picture, static_cast<double>(picture.pts) / request_.plan.frame_rate);
        !sampled) {
      thumbnails_error_ = sampled.error().message;
      thumbnails_.reset();
    }
  }
  FramePtr shared(av_frame_clone(&picture));  // a new reference to the same picture
  if (!shared) return fail(ErrorCode::internal, "out of memory");
  return rungs_->push(std::move(shared), [this] { return poll(); });
}

// Between packets and while waiting for the rungs: cancellation, the time budget, the
// rungs' segments passed on, progress.
Result<void> Job::poll() {
  if (stop_.stop_requested()) return fail(ErrorCode::unavailable, "the transcode was cancelled");
  double budget_s = 300 + request_.limits.max_transcode_time_factor * request_.source_info.duration_s;
  if (progress_.elapsed_s() > budget_s)
    return fail(ErrorCode::unprocessable, fmt::format("the transcode took over {:.0f} s, the limit for {:.0f} s of media",
                                                      budget_s, request_.source_info.duration_s));
  if (rungs_) RETURN_IF_ERROR(rungs_->deliver(listener_));
  report("encoding", false);
  return {};
}

void Job::report(const char* stage, bool force) {
  progress_.report(stage, rungs_ ? rungs_->slowest_frames() : 0, video_ ? video_->frames_decoded() : 0, force);
}

Result<TranscodeReport> Job::run() {
  RETURN_IF_ERROR(open());
  const int video_stream = request_.plan.video_stream;
  auto to_pictures = [this](AVFrame& frame) { return pictures_->add(frame); };
  PacketPtr packet = make_packet();
  if (!packet) return fail(ErrorCode::internal, "out of memory");
  for (;;) {
    RETURN_IF_ERROR(poll());
    TRY(bool got, demuxer_->read(*packet));
    if (!got) break;
    Result<void> handled;
    if (packet->stream_index == video_stream) {
      if (passthrough_) handled = passthrough_->write(*packet);
      if (handled) handled = video_->send(packet.get(), to_pictures);
    } else {
      for (auto& chain : audio_)
        if (chain->stream_index() == packet->stream_index) handled = chain->send(*packet);
    }
    av_packet_unref(packet.get());
    RETURN_IF_ERROR(handled);
  }

  // Drain the decoder and the pipeline, then tell the rungs that is all.
  RETURN_IF_ERROR(video_->send(nullptr, to_pictures));
  RETURN_IF_ERROR(pictures_->close(video_->end()));
  rungs_->close();
  if (passthrough_) RETURN_IF_ERROR(passthrough_->finish());
  report("finishing", true);
  for (auto& chain : audio_) RETURN_IF_ERROR(chain->finish());
  RETURN_IF_ERROR(rungs_->wait([this] { return poll(); }));

  TranscodeReport result;
  result.encoder_name = rungs_->selection().name;
  result.fallback_reason = rungs_->selection().fallback_reason;
  result.passthrough = passthrough_ != nullptr;
  result.passthrough_refusal = passthrough_refusal_;
  result.audio_passthrough = audio_copied_;
  if (thumbnails_) {
    auto made = thumbnails_->finish();
    if (made) result.thumbnails = std::move(*made);
    else thumbnails_error_ = made.error().message;
  }
  result.thumbnails_error = thumbnails_error_;
  result.wall_s = progress_.elapsed_s();
  report("done", true);
  return result;
}

}  // namespace

Result<TranscodeReport> transcode(const TranscodeRequest& request, package::SegmentListener& listener,
                                  const std::function<void(const TranscodeProgress&)>& progress, std::stop_token stop) {
  Job job(request, listener, progress, std::move(stop));
  return job.run();
}

}  // namespace cinevault::media
