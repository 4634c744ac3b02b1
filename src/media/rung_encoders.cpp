#include "rung_encoders.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <pthread.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cinevault/package/cmaf_segmenter.hpp"
#include "picture_pipeline.hpp"
#include "segment_relay.hpp"

extern "C" {
#include <libavutil/imgutils.h>
}

namespace cinevault::media {
namespace {

// Pictures waiting per rung: the decoder runs at most this far ahead of the slowest
// encoder (frames are shared references, not copies). Each waiting picture is memory the
// decoder or the scaler cannot reuse; 2 keeps every encoder fed (measured against 4: the
// same speed, 12 MiB less at 1080p).
constexpr std::size_t kQueueDepth = 2;
constexpr auto kPollInterval = std::chrono::milliseconds(50);
// The larger rungs keep their first segment's pictures until the start rung's first segment
// is stored (a player starts there: the first frame comes sooner), within this much memory
// per job: a 1080p source's four larger rungs need about 160 MB for a 1 s segment.
constexpr std::int64_t kFirstSegmentHoldBytes = std::int64_t{192} << 20;

// The init segment carries one encoder's SPS/PPS; another encoder may write segments of
// the same track only if its headers are the very same bytes.
bool same_global_header(const AVCodecContext& a, const AVCodecContext& b) {
  return a.extradata_size == b.extradata_size && a.extradata_size > 0 &&
         std::equal(a.extradata, a.extradata + a.extradata_size, b.extradata);
}

}  // namespace

// Shared by the calling thread and the rung threads; everything under `mutex`.
struct RungEncoders::Shared {
  std::mutex mutex;
  std::condition_variable changed;
  SegmentRelay relay{mutex, changed};
  std::optional<Error> error;  // a rung's first failure
  bool cancelled = false;      // rungs stop at their next picture
  int rungs_done = 0;
  bool start_rung_first_stored = false;  // the start rung's first segment is out
  std::int64_t held_bytes = 0;           // pictures the larger rungs keep until then

  void fail_with(Error failure) {
    {
      std::lock_guard lock(mutex);
      if (!error) error = std::move(failure);
      cancelled = true;
    }
    changed.notify_all();
  }
  void set_start_rung_first_stored() {
    {
      std::lock_guard lock(mutex);
      start_rung_first_stored = true;
    }
    changed.notify_all();
  }
};

struct RungEncoders::Rung {
  Rung(const PlannedRung& plan, bool start) : plan(plan), start(start) {}
  PlannedRung plan;
  bool start;  // the plan's start rung
  std::unique_ptr<VideoEncoder> encoder;
  // Encodes the first segment only, and is flushed at its end: the segment is complete as
  // soon as its last frame is encoded instead of after x264's lookahead (about 15 more
  // frames at veryfast) has seen the next segment's frames, and without a lookahead it
  // encodes about twice as fast. Its SPS/PPS must be the main encoder's (checked), and a
  // closed GOP ends there anyway. libx264 only (hardware encoders have few sessions);
  // null when not used.
  std::unique_ptr<VideoEncoder> first_segment_encoder;
  std::unique_ptr<package::CmafSegmenter> segmenter;
  std::optional<RungScaler> scaler;  // rung thread only
  std::deque<FramePtr> pictures;     // under Shared::mutex
  bool closed = false;               // under Shared::mutex: no more pictures will come
  // The next smaller rung, scaled from this one's pictures rather than from the source:
  // each step down reads a smaller picture, which costs about half the scaling of
  // scaling every rung from the source.
  Rung* next = nullptr;
  std::atomic<std::int64_t> frames_done{0};
  std::thread thread;  // joined by ~RungEncoders
};

RungEncoders::RungEncoders() : shared_(std::make_unique<Shared>()) {}

RungEncoders::~RungEncoders() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->cancelled = true;
  }
  shared_->changed.notify_all();
  for (auto& rung : rungs_)
    if (rung->thread.joinable()) rung->thread.join();
}

Result<std::unique_ptr<RungEncoders>> RungEncoders::start(const TranscodeRequest& request,
                                                          const package::SegmentSchedule& schedule) {
  const LadderPlan& plan = request.plan;
  std::unique_ptr<RungEncoders> encoders(new RungEncoders());
  encoders->schedule_ = &schedule;
  auto settings_for = [&](std::size_t index) { return rung_encoder_settings(request, index); };
  if (request.chosen_encoder) {
    encoders->selection_ = std::move(*request.chosen_encoder);
  } else {
    TRY(encoders->selection_, select_video_encoder(request.encoder, settings_for(plan.start_rung)));
  }
  const EncoderSelection& selection = encoders->selection_;
  for (std::size_t i = 0; i < plan.video.size(); ++i) {
    const PlannedRung& planned = plan.video[i];
    auto rung = std::make_unique<Rung>(planned, i == plan.start_rung);
    TRY(rung->encoder, VideoEncoder::open(selection, settings_for(i)));
    rung->scaler.emplace(planned.width, planned.height, rung->encoder->input_format());
    if (selection.kind == EncoderKind::x264 && schedule.start_frame(1) > 0) {
      VideoEncoderSettings fast = settings_for(i);
      fast.fast_start = true;
      TRY(rung->first_segment_encoder, VideoEncoder::open(selection, fast));
      if (!same_global_header(rung->encoder->context(), rung->first_segment_encoder->context())) {
        spdlog::warn("{}: the fast-start encoder's SPS/PPS differ from the main encoder's; no fast first segment",
                     planned.spec.name);
        rung->first_segment_encoder.reset();
      }
    }
    Rendition info = rung_rendition(plan, i);
    CodecParametersPtr parameters(avcodec_parameters_alloc());
    if (!parameters) return fail(ErrorCode::internal, "out of memory");
    avcodec_parameters_from_context(parameters.get(), &rung->encoder->context());
    TRY(rung->segmenter, package::CmafSegmenter::create(info, *parameters, rung->encoder->context().time_base,
                                                        schedule, encoders->shared_->relay));
    encoders->rungs_.push_back(std::move(rung));
  }
  auto& rungs = encoders->rungs_;
  for (std::size_t i = 0; i + 1 < rungs.size(); ++i) rungs[i]->next = rungs[i + 1].get();
  // Lowest rung first: with equal scheduling it is the first to produce its segments.
  for (auto it = rungs.rbegin(); it != rungs.rend(); ++it) {
    Rung& rung = **it;
    rung.thread = std::thread([raw = encoders.get(), &rung] { raw->run(rung); });
  }
  return encoders;
}

Result<void> RungEncoders::push(FramePtr picture, const Poll& poll) {
  Rung& top = *rungs_.front();
  std::unique_lock lock(shared_->mutex);
  for (;;) {
    if (shared_->error) return tl::unexpected(*shared_->error);
    if (top.pictures.size() < kQueueDepth) {
      top.pictures.push_back(std::move(picture));
      lock.unlock();
      shared_->changed.notify_all();
      return {};
    }
    bool timed_out = !shared_->relay.pending() &&
                     shared_->changed.wait_for(lock, kPollInterval) == std::cv_status::timeout;
    if (timed_out || shared_->relay.pending()) {
      lock.unlock();
      RETURN_IF_ERROR(poll());
      lock.lock();
    }
  }
}

void RungEncoders::close() { close(*rungs_.front()); }

void RungEncoders::close(Rung& rung) {
  {
    std::lock_guard lock(shared_->mutex);
    rung.closed = true;
  }
  shared_->changed.notify_all();
}

Result<void> RungEncoders::wait(const Poll& poll) {
  for (;;) {
    RETURN_IF_ERROR(poll());
    std::unique_lock lock(shared_->mutex);
    if (shared_->rungs_done == static_cast<int>(rungs_.size()) && !shared_->relay.pending()) break;
    shared_->changed.wait_for(lock, kPollInterval);
  }
  for (auto& rung : rungs_) rung->thread.join();
  return poll();
}

Result<void> RungEncoders::deliver(package::SegmentListener& listener) {
  {
    std::lock_guard lock(shared_->mutex);
    if (shared_->error) return tl::unexpected(*shared_->error);
  }
  return shared_->relay.deliver(listener);
}

std::int64_t RungEncoders::slowest_frames() const {
  std::int64_t slowest = rungs_.empty() ? 0 : rungs_.front()->frames_done.load();
  for (const auto& rung : rungs_) slowest = std::min(slowest, rung->frames_done.load());
  return slowest;
}

void RungEncoders::run(Rung& rung) {
  // "rung 720p" in top -H and in a debugger.
  pthread_setname_np(pthread_self(), ("rung " + rung.plan.spec.name).substr(0, 15).c_str());
  Result<void> result;
  try {  // an exception must not leave a std::thread: the job fails instead
    result = encode(rung);
  } catch (const std::exception& exception) {
    result = fail(ErrorCode::internal, fmt::format("{}: encoding threw: {}", rung.plan.spec.name, exception.what()));
  }
  if (!result) shared_->fail_with(result.error());
  {
    std::lock_guard lock(shared_->mutex);
    ++shared_->rungs_done;
  }
  shared_->changed.notify_all();
}

Result<void> RungEncoders::encode(Rung& rung) {
  const package::SegmentSchedule& schedule = *schedule_;
  PacketPtr packet = make_packet();
  FramePtr scaled = make_frame();
  if (!packet || !scaled) return fail(ErrorCode::internal, "out of memory");
  std::unique_ptr<VideoEncoder> first_segment = std::move(rung.first_segment_encoder);
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
    if (rung.start) shared_->set_start_rung_first_stored();
    return {};
  };
  int next_segment = 1;
  auto encode_picture = [&](AVFrame* picture) -> Result<void> {
    if (first_segment && picture->pts >= schedule.start_frame(1)) RETURN_IF_ERROR(end_first_segment());
    // An IDR frame on the first frame at or after each boundary, in every rung alike.
    picture->pict_type = AV_PICTURE_TYPE_NONE;
    if (picture->pts >= schedule.start_frame(next_segment)) {
      picture->pict_type = AV_PICTURE_TYPE_I;
      while (picture->pts >= schedule.start_frame(next_segment)) ++next_segment;
    }
    VideoEncoder& encoder = first_segment ? *first_segment : *rung.encoder;
    RETURN_IF_ERROR(encoder.send(picture));
    RETURN_IF_ERROR(drain(encoder));
    // The first segment's last picture: end it now rather than when the next one comes.
    if (first_segment && picture->pts + 1 >= schedule.start_frame(1)) RETURN_IF_ERROR(end_first_segment());
    rung.frames_done.fetch_add(1, std::memory_order_relaxed);
    return {};
  };

  // A larger rung keeps its first segment's pictures (in memory of their own, within
  // kFirstSegmentHoldBytes) until the start rung's first segment is stored: the cores
  // decode and scale for that rung alone first. It still hands each picture down.
  std::deque<FramePtr> kept;
  std::int64_t kept_bytes = 0;
  bool keeping = !rung.start;
  if (rung.start && !first_segment) shared_->set_start_rung_first_stored();  // none to wait for (hardware)
  auto encode_kept = [&]() -> Result<void> {
    for (FramePtr& picture : kept) RETURN_IF_ERROR(encode_picture(picture.get()));
    kept.clear();
    std::lock_guard lock(shared_->mutex);
    shared_->held_bytes -= kept_bytes;
    kept_bytes = 0;
    return {};
  };
  // Whether `picture` was kept; false once this rung no longer keeps any.
  auto keep = [&](const AVFrame& picture) -> Result<bool> {
    if (!keeping) return false;
    std::int64_t bytes =
        av_image_get_buffer_size(static_cast<AVPixelFormat>(picture.format), picture.width, picture.height, 64);
    {
      std::lock_guard lock(shared_->mutex);
      keeping = !shared_->start_rung_first_stored && shared_->held_bytes + bytes <= kFirstSegmentHoldBytes;
      if (keeping) shared_->held_bytes += bytes;
    }
    if (!keeping) return false;
    FramePtr copy = private_copy(picture);
    if (!copy) return fail(ErrorCode::internal, "out of memory");
    kept.push_back(std::move(copy));
    kept_bytes += bytes;
    return true;
  };
  // Hands a picture to the next smaller rung; false when the job was cancelled.
  auto hand_down = [&](Rung& next, FramePtr picture) {
    std::unique_lock lock(shared_->mutex);
    shared_->changed.wait(lock, [&] { return shared_->cancelled || next.pictures.size() < kQueueDepth; });
    if (shared_->cancelled) return false;
    next.pictures.push_back(std::move(picture));
    lock.unlock();
    shared_->changed.notify_all();
    return true;
  };

  for (;;) {
    FramePtr picture;
    bool release;
    {
      std::unique_lock lock(shared_->mutex);
      shared_->changed.wait(lock, [&] {
        return shared_->cancelled || !rung.pictures.empty() || rung.closed ||
               (!kept.empty() && shared_->start_rung_first_stored);
      });
      if (shared_->cancelled) return {};  // the calling thread reports why
      release = !kept.empty() && shared_->start_rung_first_stored;
      if (!rung.pictures.empty()) {
        picture = std::move(rung.pictures.front());
        rung.pictures.pop_front();
      } else if (!release) {
        break;  // closed: the input is done
      }
    }
    if (release) {
      keeping = false;
      RETURN_IF_ERROR(encode_kept());
    }
    if (!picture) continue;
    shared_->changed.notify_all();
    av_frame_unref(scaled.get());
    RETURN_IF_ERROR(rung.scaler->scale(*picture, *scaled));
    picture.reset();
    if (rung.next) {
      FramePtr down(av_frame_clone(scaled.get()));  // the encoder copies its input: share the picture
      if (!down) return fail(ErrorCode::internal, "out of memory");
      if (!hand_down(*rung.next, std::move(down))) return {};  // cancelled: the calling thread reports why
    }
    TRY(bool was_kept, keep(*scaled));
    if (was_kept) continue;
    RETURN_IF_ERROR(encode_kept());
    RETURN_IF_ERROR(encode_picture(scaled.get()));
  }
  if (rung.next) close(*rung.next);
  RETURN_IF_ERROR(encode_kept());
  if (first_segment) RETURN_IF_ERROR(end_first_segment());  // a video shorter than its first segment
  RETURN_IF_ERROR(rung.encoder->send(nullptr));
  RETURN_IF_ERROR(drain(*rung.encoder));
  return rung.segmenter->finish();
}

}  // namespace cinevault::media
