#include "cinevault/pipeline/workers.hpp"

#include <malloc.h>
#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cinevault/core/file.hpp"
#include "cinevault/db/versions.hpp"
#include "cinevault/db/videos.hpp"
#include "cinevault/media/transcode.hpp"
#include "cinevault/worker/worker_process.hpp"
#include "version_writer.hpp"

namespace cinevault::pipeline {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::seconds(2);
constexpr auto kProgressInterval = std::chrono::seconds(1);
constexpr std::size_t kLogTailLines = 20;

// What happened in one run, kept for the dead letter's log tail.
class JobLog {
 public:
  explicit JobLog(const db::Job& job) : prefix_(fmt::format("job {} (video {})", job.id, job.video_id)) {}
  template <typename... Args>
  void info(fmt::format_string<Args...> format, Args&&... args) {
    add(spdlog::level::info, fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void warn(fmt::format_string<Args...> format, Args&&... args) {
    add(spdlog::level::warn, fmt::format(format, std::forward<Args>(args)...));
  }
  std::string tail() const {
    std::string out;
    for (auto& line : lines_) out += line + "\n";
    return out;
  }

 private:
  void add(spdlog::level::level_enum level, std::string line) {
    spdlog::log(level, "{}: {}", prefix_, line);
    lines_.push_back(std::move(line));
    if (lines_.size() > kLogTailLines) lines_.pop_front();
  }
  std::string prefix_;
  std::deque<std::string> lines_;
};

// What the transcode does to the source's colours, when it does anything.
void log_colour(JobLog& log, const media::MediaInfo& info, const media::ColourPlan& colour) {
  const media::StreamInfo* video = media::find_stream(info, info.video_stream);
  if (video == nullptr) return;
  if (video->dolby_vision_profile > 0 && video->dolby_vision_base == "none")
    log.warn("Dolby Vision profile {} has no HDR10, HLG or SDR base layer: its colours will be wrong",
             video->dolby_vision_profile);
  if (colour.tone_mapping == media::ToneMapping::none) return;
  log.info("the source is HDR ({}, peak {:.0f} nits): tone-mapped to SDR BT.709 (mobius)",
           colour.tone_mapping == media::ToneMapping::pq ? "PQ" : "HLG", colour.peak_nits);
}

class WorkersImpl final : public Workers {
 public:
  WorkersImpl(const Config& config, db::Database& database, store::ObjectStore& store, JobQueue& queue,
              worker::WorkerPool& media_workers)
      : config_(config), database_(database), store_(store), queue_(queue), media_workers_(media_workers) {}

  ~WorkersImpl() override { stop(); }

  void start() override {
    for (int i = 0; i < config_.pipeline.concurrent_jobs; ++i)
      threads_.emplace_back([this](std::stop_token stop) { loop(stop); });
  }

  void wake() override {
    {
      std::lock_guard lock(mutex_);
      ++wakeups_;
    }
    wake_.notify_all();
  }

  void stop() override {
    for (auto& thread : threads_) thread.request_stop();
    wake_.notify_all();
    threads_.clear();  // joins
  }

 private:
  void loop(std::stop_token stop) {
    pthread_setname_np(pthread_self(), "pipeline");
    while (!stop.stop_requested()) {
      std::uint64_t seen = 0;
      {
        // Read before looking, so that a job queued while we look is not missed; a count,
        // not a flag, so that one worker waking does not use up another's wake-up.
        std::lock_guard lock(mutex_);
        seen = wakeups_;
      }
      auto job = queue_.claim();
      if (!job) spdlog::error("job queue: {}", job.error().message);
      if (!job || !*job) {
        // Until wake() says a job was queued; polling as well, for jobs whose backoff ends.
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, stop, kPollInterval, [&] { return wakeups_ != seen; });
        continue;
      }
      run(**job, stop);
      // A transcode frees hundreds of MB of pictures and encoder state; glibc keeps freed
      // heap for reuse, so give it back to the system while the daemon waits for work.
      ::malloc_trim(0);
    }
  }

  void run(const db::Job& job, std::stop_token worker_stop) {
    JobLog log(job);
    log.info("attempt {} of {} started{}{}", job.attempts, job.max_attempts,
             job.priority == db::JobPriority::library_import ? " (a library import: in the background)" : "",
             job.force_software ? " (software encoding)" : "");
    // The job stops when the worker stops, or when its lease is lost.
    std::stop_source job_stop;
    std::stop_callback forward(worker_stop, [&] { job_stop.request_stop(); });
    Result<void> outcome;
    try {  // a bug that throws ends this job as an internal failure, never the daemon
      outcome = transcode_video(job, log, job_stop);
    } catch (const std::exception& exception) {
      outcome = fail(ErrorCode::internal, std::string("the transcode threw: ") + exception.what());
    } catch (...) {
      outcome = fail(ErrorCode::internal, "the transcode threw an exception that is not a std::exception");
    }
    if (outcome) {
      if (auto done = queue_.complete(job); !done) log.warn("could not mark the job done: {}", done.error().message);
      return;
    }
    if (worker_stop.stop_requested()) {
      log.info("stopped by shutdown; the job goes back to the queue");
      (void)queue_.release(job);
      return;
    }
    log.warn("failed: {}", outcome.error().message);
    auto updated = queue_.record_failure(job, outcome.error(), log.tail());
    if (!updated) {
      spdlog::error("job {}: recording the failure failed: {}", job.id, updated.error().message);
      return;
    }
    if (updated->state == db::JobState::dead) {
      // Nothing playable came of it: say so on the video (a published version stays as it is).
      (void)database_.write([&](db::Connection& c) -> Result<void> {
        TRY(auto published, db::load_published_version(c, job.video_id));
        if (published && published->state == db::VersionState::complete) return {};
        return db::set_video_state(c, job.video_id, db::VideoState::failed);
      });
    }
  }

  Result<void> transcode_video(const db::Job& job, JobLog& log, std::stop_source& stop) {
    TRY(auto video, database_.read([&](db::Connection& c) { return db::find_video(c, job.video_id); }));
    if (!video) return fail(ErrorCode::invalid_argument, "the video is gone");
    auto info_json = nlohmann::json::parse(video->media_info_json, nullptr, false);
    TRY(media::MediaInfo info, media::media_info_from_json(info_json));

    media::LadderConfig ladder = media::default_ladder();
    ladder.segment_s = config_.pipeline.segment_s;
    ladder.x264_preset = config_.pipeline.x264_preset;
    ladder.passthrough = config_.pipeline.passthrough == "auto" && !job.force_software;
    TRY(media::LadderPlan plan, media::plan_ladder(info, ladder));
    if (ladder.passthrough && !plan.passthrough) log.info("no passthrough: {}", media::passthrough_refusal(info, plan));
    log_colour(log, info, plan.colour);
    TRY(media::EncoderPreference preference, media::parse_encoder_preference(config_.pipeline.encoder));
    if (job.force_software) preference = media::EncoderPreference::x264;

    TRY(auto version, database_.write([&](db::Connection& c) -> Result<std::pair<db::VersionRow, bool>> {
      TRY(auto published, db::load_published_version(c, job.video_id));
      // Runs that died before anyone could play them leave nothing behind.
      TRY(auto others, db::other_versions(c, job.video_id, published ? published->id : 0));
      for (auto id : others) {
        TRY(auto other, db::load_version(c, id));
        if (other && other->state == db::VersionState::building) RETURN_IF_ERROR(db::delete_version(c, id));
      }
      TRY(auto created, db::create_version(c, job.video_id, job.id, ladder.segment_s, ""));
      bool has_complete = published && published->state == db::VersionState::complete;
      if (!has_complete) RETURN_IF_ERROR(db::set_video_state(c, job.video_id, db::VideoState::processing));
      return std::pair{created, !has_complete};
    }));
    auto& [version_row, publish_early] = version;
    log.info("version {}: {} video rung(s), {} audio rendition(s), segments of {} s", version_row.number,
             plan.video.size(), plan.audio_streams.size(), ladder.segment_s);

    VersionWriter writer(database_, store_, version_row,
                         static_cast<int>(plan.video.size() + plan.audio_streams.size()), publish_early);
    media::TranscodeRequest request;
    request.source = store_.path_of(video->source_sha256);  // opened here, handed to the worker
    request.source_info = info;
    request.plan = plan;
    request.ladder = ladder;
    request.encoder = preference;
    request.threads = config_.pipeline.threads_per_job;
    request.limits = config_.media;

    auto last_report = Clock::now() - kProgressInterval;
    auto progress = [&](const media::TranscodeProgress& p) {
      if (Clock::now() - last_report < kProgressInterval) return;
      last_report = Clock::now();
      auto reported = queue_.report_progress(job, {p.percent, p.stage, p.fps, p.eta_s});
      if (!reported && reported.error().code == ErrorCode::conflict) {
        log.warn("the job's lease was lost; stopping");
        stop.request_stop();
      }
    };
    // In a sandboxed media worker: a decoder that crashes on this file ends that process only.
    // An imported file's runs at library.nice and idle I/O: people's requests and uploads first.
    auto report = media_workers_.transcode(request, writer, progress, stop.get_token(),
                                           job.priority == db::JobPriority::library_import
                                               ? worker::WorkPriority::background
                                               : worker::WorkPriority::person);
    if (!report) {
      writer.abandon();
      return tl::unexpected(report.error());
    }
    if (!report->fallback_reason.empty()) log.info("encoder {}: {}", report->encoder_name, report->fallback_reason);
    if (report->passthrough) log.info("the top rung is the source's own video (passthrough)");
    if (report->audio_passthrough > 0) log.info("{} audio rendition(s) are the source's AAC (passthrough)", report->audio_passthrough);
    else if (!report->passthrough_refusal.empty()) log.info("no passthrough: {}", report->passthrough_refusal);
    if (report->thumbnails) {
      // A video without a poster still plays: a failure here is logged, not fatal.
      if (auto stored = writer.add_thumbnails(*report->thumbnails); !stored)
        log.warn("thumbnails not stored: {}", stored.error().message);
    } else {
      log.warn("no thumbnails: {}", report->thumbnails_error);
    }
    if (auto published = writer.publish(); !published) {
      writer.abandon();
      return published;
    }
    log.info("done in {:.1f} s with {} (media worker: peak RSS {} MiB, {:.1f} CPU s)", report->wall_s,
             report->encoder_name, report->worker_peak_rss_bytes >> 20, report->worker_cpu_s);
    return {};
  }

  const Config& config_;
  db::Database& database_;
  store::ObjectStore& store_;
  JobQueue& queue_;
  worker::WorkerPool& media_workers_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::uint64_t wakeups_ = 0;  // under mutex_: counted by wake()
  std::vector<std::jthread> threads_;  // last: joined first
};

}  // namespace

std::unique_ptr<Workers> make_workers(const Config& config, db::Database& database, store::ObjectStore& store,
                                      JobQueue& queue, worker::WorkerPool& media_workers) {
  return std::make_unique<WorkersImpl>(config, database, store, queue, media_workers);
}

}  // namespace cinevault::pipeline
