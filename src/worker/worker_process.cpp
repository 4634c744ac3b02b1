#include "cinevault/worker/worker_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cinevault/core/file.hpp"
#include "cinevault/worker/channel.hpp"
#include "cinevault/worker/media_worker.hpp"
#include "messages.hpp"

extern char** environ;

namespace cinevault::worker {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollTick = std::chrono::milliseconds(250);
constexpr std::size_t kMaxInitBytes = 1 << 20;
constexpr std::size_t kMaxSegmentBytes = 256u << 20;
constexpr std::size_t kMaxImageBytes = 32u << 20;
constexpr std::uint64_t kProbeCpuSeconds = 120;

std::string signal_name(int signal) {
  const char* abbreviation = ::sigabbrev_np(signal);
  return abbreviation ? std::string("SIG") + abbreviation : "signal " + std::to_string(signal);
}

}  // namespace

// One media worker process and the daemon's end of its channel. The destructor kills (by
// pid) and reaps a worker that is still there.
class WorkerProcess {
 public:
  static Result<WorkerProcess> start(const WorkerSettings& settings) {
    TRY(auto ends, Channel::pair());
    File worker_end = ends.second.release();
    if (worker_end.fd() == kWorkerChannelFd) {  // dup2 onto itself would keep close-on-exec
      int moved = ::fcntl(worker_end.fd(), F_DUPFD_CLOEXEC, kWorkerChannelFd + 1);
      if (moved < 0) return fail(ErrorCode::internal, errno_message("fcntl(F_DUPFD_CLOEXEC)", errno));
      worker_end = File(moved);
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attributes);
    ::posix_spawn_file_actions_adddup2(&actions, worker_end.fd(), kWorkerChannelFd);
    ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    // The daemon's blocked and ignored signals (SIGPIPE, its shutdown signals) are not the worker's.
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGXCPU}) sigaddset(&defaults, s);
    ::posix_spawnattr_setsigmask(&attributes, &none);
    ::posix_spawnattr_setsigdefault(&attributes, &defaults);
    ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::string executable = settings.executable.string();
    std::vector<std::string> args = {"cinevault", "media-worker", "--log-level", settings.log_level};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, executable.c_str(), &actions, &attributes, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attributes);
    if (rc != 0) return fail(ErrorCode::internal, errno_message("starting a media worker (" + executable + ")", rc));
    return WorkerProcess(pid, std::move(ends.first));
  }

  WorkerProcess(WorkerProcess&& other) noexcept
      : pid_(std::exchange(other.pid_, 0)),
        channel_(std::move(other.channel_)),
        killed_for_(std::move(other.killed_for_)),
        usage_(other.usage_),
        next_memory_check_(other.next_memory_check_) {}
  WorkerProcess& operator=(WorkerProcess&&) = delete;
  ~WorkerProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }

  Channel& channel() { return channel_; }

  // Not exited yet (an idle worker can be killed from outside, e.g. by the OOM killer).
  bool alive() {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
    pid_ = 0;
    return false;
  }

  // The next message. Errors: unavailable when `stop` is requested (the worker is killed);
  // resource when it sends nothing for the silence limit, or its resident memory is over its
  // budget (killed); otherwise how it ended (ended()).
  Result<Message> next(std::stop_token stop, const WorkerSettings& settings) {
    const auto silence = settings.silence_limit;
    auto deadline = Clock::now() + silence;
    for (;;) {
      if (stop.stop_requested()) {
        kill("stopped");
        return fail(ErrorCode::unavailable, "the transcode was cancelled");
      }
      if (std::uint64_t resident = memory_check_due(settings) ? resident_bytes() : 0; resident > settings.memory_bytes) {
        kill("over its memory budget");
        return fail(ErrorCode::resource, fmt::format("the media worker used {} MiB, over its memory budget of {} MiB "
                                                     "(pipeline.worker_memory_mb), and was stopped",
                                                     resident >> 20, settings.memory_bytes >> 20));
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        kill("silent");
        return fail(ErrorCode::resource,
                    fmt::format("the media worker sent nothing for {} s and was stopped", silence.count() / 1000));
      }
      pollfd readable{channel_.fd(), POLLIN, 0};
      int ready = ::poll(&readable, 1, static_cast<int>(std::min(left, kPollTick).count()));
      if (ready < 0 && errno != EINTR) return fail(ErrorCode::internal, errno_message("poll", errno));
      if (ready <= 0) continue;
      auto message = channel_.receive();
      if (message) return message;
      if (message.error().code == ErrorCode::gone) return tl::unexpected(ended());
      kill("broke the protocol");
      return fail(ErrorCode::crashed, "the media worker sent something that is not a message: " + message.error().message);
    }
  }

  // Waits for the worker to exit (a few seconds at most: then it is killed) and says how it ended.
  Error ended() {
    int status = 0;
    // Exiting takes a worker a few milliseconds (unmapping its libraries): polled each one.
    for (int waited_ms = 0;; ++waited_ms) {
      pid_t done = ::wait4(pid_, &status, WNOHANG, &usage_);
      if (done == pid_) break;
      if (done < 0 && errno != EINTR) return Error{ErrorCode::internal, errno_message("waitpid", errno)};
      if (waited_ms == 5000) kill("closed its channel but did not exit");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    pid_ = 0;
    if (WIFEXITED(status))
      return Error{ErrorCode::internal, fmt::format("the media worker exited with status {} before it finished{}",
                                                    WEXITSTATUS(status), killed_for_.empty() ? "" : " (" + killed_for_ + ")")};
    int signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    std::string name = signal_name(signal);
    if (!killed_for_.empty()) return Error{ErrorCode::resource, "the media worker " + killed_for_ + " and was killed"};
    switch (signal) {
      case SIGKILL:
        return Error{ErrorCode::resource, "the media worker was killed (SIGKILL): out of memory (the OOM killer) or "
                                          "over its CPU-time budget"};
      case SIGXCPU: return Error{ErrorCode::resource, "the media worker went over its CPU-time budget (SIGXCPU)"};
      case SIGSYS:
        return Error{ErrorCode::crashed, "the media worker was stopped by its sandbox (SIGSYS): it made a system call "
                                         "it may not"};
      default: return Error{ErrorCode::crashed, "the media worker crashed (" + name + ")"};
    }
  }

  // After its last message: reaped, or killed if it lingers.
  void finish() { (void)ended(); }

  // What the worker used, once reaped.
  std::uint64_t peak_resident_bytes() const { return static_cast<std::uint64_t>(usage_.ru_maxrss) << 10; }
  double cpu_seconds() const {
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return seconds(usage_.ru_utime) + seconds(usage_.ru_stime);
  }

  // Whether to look at its memory now: with a budget, once per poll tick (not per message).
  bool memory_check_due(const WorkerSettings& settings) {
    if (settings.memory_bytes == 0 || Clock::now() < next_memory_check_) return false;
    next_memory_check_ = Clock::now() + kPollTick;
    return true;
  }

  // Its resident set (/proc/PID/statm), 0 if it cannot be read.
  std::uint64_t resident_bytes() const {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid_));
    auto file = File::open_read(path);
    if (!file) return 0;
    char text[128] = {};
    auto n = file->read_some(text, sizeof text - 1);
    if (!n) return 0;
    unsigned long long size_pages = 0, resident_pages = 0;
    if (std::sscanf(text, "%llu %llu", &size_pages, &resident_pages) != 2) return 0;
    return resident_pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  }

 private:
  WorkerProcess(pid_t pid, Channel channel) : pid_(pid), channel_(std::move(channel)) {}

  void kill(const char* why) {
    if (pid_ > 0 && killed_for_.empty()) {
      killed_for_ = why;
      ::kill(pid_, SIGKILL);
    }
  }

  pid_t pid_ = 0;
  Channel channel_;
  std::string killed_for_;
  rusage usage_{};
  Clock::time_point next_memory_check_{};
};

namespace {

SandboxLimits sandbox_for(const WorkerSettings& settings, std::uint64_t cpu_seconds,
                          WorkPriority priority = WorkPriority::person) {
  SandboxLimits limits;
  // The daemon checks the worker's resident memory four times a second; the address space
  // cap is the backstop for a burst between two checks. Twice the budget and a GiB: threads'
  // stacks and malloc's arenas reserve address space that is never resident.
  if (settings.memory_bytes > 0) limits.address_space_bytes = settings.memory_bytes * 2 + (1ull << 30);
  limits.cpu_seconds = cpu_seconds;
  limits.nice = priority == WorkPriority::background ? settings.background_nice : settings.nice;
  limits.idle_io = priority == WorkPriority::background;
  return limits;
}

// Turns the worker's events into listener calls, checking each against what the plan allows.
class EventReader {
 public:
  EventReader(const media::TranscodeRequest& request, package::SegmentListener& listener)
      : listener_(listener),
        max_video_(request.plan.video.size()),
        max_audio_(request.plan.audio_streams.size()),
        start_name_(request.plan.start_rung < request.plan.video.size()
                        ? request.plan.video[request.plan.start_rung].spec.name
                        : std::string()),
        // No rendition has more segments than a one-second segment per second of the longest
        // media allowed, and a few: a worker cannot fill the disk with a stream of segments.
        max_segments_(static_cast<int>(std::ceil(request.source_info.duration_s > 0 ? request.source_info.duration_s
                                                                                      : request.limits.max_duration_s)) +
                      16) {}

  Result<void> init(const Message& message) {
    TRY(Rendition rendition, messages::parse_rendition(message.header));
    if (renditions_.count(rendition.name)) return protocol("announced a rendition twice");
    const bool video = rendition.kind == TrackKind::video;
    std::size_t& count = video ? videos_ : audios_;
    if (++count > (video ? max_video_ : max_audio_)) return protocol("announced too many renditions");
    if (rendition.start) {
      if (!video) return protocol("marked an audio rendition as the start rendition");
      if (start_announced_) return protocol("marked two start renditions");
      start_announced_ = true;
    }
    // The plan chose the start rung; the worker only repeats it.
    if (video && rendition.start != (rendition.name == start_name_))
      return protocol("marked a start rendition other than the plan's start rung");
    TRY(std::string bytes, read_sealed(message.attachment, kMaxInitBytes));
    auto& known = renditions_[rendition.name];
    known.info = rendition;
    return listener_.on_init_segment(known.info, std::move(bytes));
  }

  Result<void> segment(const Message& message) {
    TRY(Known* known, find(message));
    TRY(Segment segment, messages::parse_segment(message.header));
    if (known->finished || segment.number != known->segments || segment.number >= max_segments_)
      return protocol("sent a segment out of order");
    ++known->segments;
    TRY(std::string bytes, read_sealed(message.attachment, kMaxSegmentBytes));
    return listener_.on_media_segment(known->info, segment, std::move(bytes));
  }

  Result<void> finished(const Message& message) {
    TRY(Known* known, find(message));
    TRY(int average, messages::parse_average_bandwidth(message.header));
    if (known->finished) return protocol("finished a rendition twice");
    known->finished = true;
    return listener_.on_rendition_finished(known->info, average);
  }

  Result<void> image(const Message& message) {
    TRY(messages::ImageHeader header, messages::parse_image(message.header));
    auto& list = header.use == "poster" ? thumbnails_.posters : thumbnails_.sprite_sheets;
    constexpr std::size_t kMaxImages = 1000;
    if (list.size() >= kMaxImages) return protocol("sent too many images");
    TRY(std::string bytes, read_sealed(message.attachment, kMaxImageBytes));
    list.push_back({header.width, header.height, header.format, std::move(bytes)});
    return {};
  }

  Result<media::TranscodeReport> done(const Message& message) {
    TRY(media::TranscodeReport report, messages::parse_done(message.header));
    for (auto& [id, known] : renditions_)
      if (!known.finished) return protocol("said it was done before rendition " + id + " finished");
    if (report.thumbnails) {
      for (const media::TrickplayTile& tile : report.thumbnails->tiles) {
        if (static_cast<std::size_t>(tile.sheet) >= thumbnails_.sprite_sheets.size())
          return protocol("named a sprite sheet it did not send");
        const media::EncodedImage& sheet = thumbnails_.sprite_sheets[static_cast<std::size_t>(tile.sheet)];
        if (tile.x + tile.width > sheet.width || tile.y + tile.height > sheet.height)
          return protocol("placed a tile outside its sprite sheet");
      }
      report.thumbnails->posters = std::move(thumbnails_.posters);
      report.thumbnails->sprite_sheets = std::move(thumbnails_.sprite_sheets);
    }
    return report;
  }

 private:
  struct Known {
    Rendition info;
    int segments = 0;
    bool finished = false;
  };

  static tl::unexpected<Error> protocol(const std::string& what) {
    return fail(ErrorCode::crashed, "the media worker " + what);
  }

  Result<Known*> find(const Message& message) {
    auto id = message.header.find("id");
    if (id == message.header.end() || !id->is_string()) return protocol("sent an event without a rendition");
    auto it = renditions_.find(id->get<std::string>());
    if (it == renditions_.end()) return protocol("sent an event for a rendition it did not announce");
    return &it->second;
  }

  package::SegmentListener& listener_;
  std::size_t max_video_, max_audio_;
  std::string start_name_;
  int max_segments_;
  std::size_t videos_ = 0, audios_ = 0;
  bool start_announced_ = false;
  std::map<std::string, Known> renditions_;
  media::Thumbnails thumbnails_;  // images, until the report comes
};

}  // namespace

WorkerSettings worker_settings(const Config& config) {
  WorkerSettings settings;
  settings.log_level = config.log_level;
  settings.memory_bytes = static_cast<std::uint64_t>(config.pipeline.worker_memory_mb) << 20;
  settings.nice = config.pipeline.nice;
  settings.background_nice = std::max(config.pipeline.nice, config.library.nice);
  settings.silence_limit = std::chrono::seconds(config.pipeline.worker_silence_s);
  return settings;
}

struct WorkerPool::Idle {
  std::mutex mutex;
  std::deque<WorkerProcess> ready;
};

// Starts the pool's idle workers again when a probe or transcode is over (its worker gone).
struct WorkerPool::Refill {
  explicit Refill(WorkerPool& pool) : pool(pool) {}
  ~Refill() { pool.refill(); }
  WorkerPool& pool;
};

WorkerPool::WorkerPool(WorkerSettings settings, int idle_workers)
    : settings_(std::move(settings)), idle_workers_(idle_workers), idle_(std::make_unique<Idle>()) {
  refill();
}

WorkerPool::~WorkerPool() = default;  // each idle worker is killed by its pid and reaped

void WorkerPool::refill() {
  std::lock_guard lock(idle_->mutex);
  while (static_cast<int>(idle_->ready.size()) < idle_workers_) {
    auto started = WorkerProcess::start(settings_);
    if (!started) {
      spdlog::warn("no media worker started ahead: {}", started.error().message);
      return;
    }
    idle_->ready.push_back(std::move(*started));
  }
}

// A worker that is up (its libraries loaded), or a new one when none is. Its replacement is
// started when the work is done (Refill), not beside the work it would slow down.
Result<WorkerProcess> WorkerPool::take() {
  std::optional<WorkerProcess> taken;
  {
    std::lock_guard lock(idle_->mutex);
    while (!taken && !idle_->ready.empty()) {
      WorkerProcess worker = std::move(idle_->ready.front());
      idle_->ready.pop_front();
      if (worker.alive()) taken.emplace(std::move(worker));
    }
  }
  if (taken) return std::move(*taken);
  return WorkerProcess::start(settings_);
}

Result<media::TranscodeReport> WorkerPool::transcode(
    const media::TranscodeRequest& request, package::SegmentListener& listener,
    const std::function<void(const media::TranscodeProgress&)>& progress, std::stop_token stop,
    WorkPriority priority) {
  TRY(File source, File::open_read(request.source));
  // The transcode stops itself at its wall-time budget; the CPU-time cap is a backstop in
  // case it cannot (every core busy for the whole of that time).
  double budget_s = 300 + request.limits.max_transcode_time_factor * request.source_info.duration_s;
  auto cores = std::max(1u, std::thread::hardware_concurrency());
  auto cpu_seconds = static_cast<std::uint64_t>(budget_s * cores);

  Refill refill(*this);
  TRY(WorkerProcess worker, take());
  RETURN_IF_ERROR(worker.channel().send(
      messages::transcode_request(request, sandbox_for(settings_, cpu_seconds, priority)), source.fd()));
  source = File();  // the worker has its own
  EventReader reader(request, listener);
  // A message that does not parse or check out is the worker's fault, not the input's: a
  // worker that breaks the protocol has been subverted or is broken (crashed, not retried).
  auto broken = [](Error error) {
    if (error.code == ErrorCode::invalid_argument) error = {ErrorCode::crashed, "the media worker: " + error.message};
    return tl::unexpected(std::move(error));
  };
  for (;;) {
    TRY(Message message, worker.next(stop, settings_));
    std::string event = message.header.value("event", "");
    Result<void> step;
    if (event == "init") step = reader.init(message);
    else if (event == "segment") step = reader.segment(message);
    else if (event == "finished") step = reader.finished(message);
    else if (event == "image") step = reader.image(message);
    else if (event == "progress") {
      auto parsed = messages::parse_progress(message.header);
      if (parsed && progress) progress(*parsed);
      if (!parsed) step = tl::unexpected(parsed.error());
    } else if (event == "done") {
      auto report = reader.done(message);
      worker.finish();
      if (!report) return broken(report.error());
      report->worker_peak_rss_bytes = worker.peak_resident_bytes();
      report->worker_cpu_s = worker.cpu_seconds();
      return report;
    } else if (event == "error") {
      worker.finish();
      return tl::unexpected(messages::parse_error(message.header));
    } else {
      return fail(ErrorCode::crashed, "the media worker sent an unknown event");
    }
    if (!step) return broken(step.error());
  }
}

Result<media::MediaInfo> WorkerPool::probe(const std::filesystem::path& path, const MediaLimits& limits) {
  TRY(File file, File::open_read(path));
  Refill refill(*this);
  TRY(WorkerProcess worker, take());
  RETURN_IF_ERROR(worker.channel().send(messages::probe_request(limits, sandbox_for(settings_, kProbeCpuSeconds)),
                                        file.fd()));
  file = File();
  auto answer = worker.next(std::stop_token(), settings_);
  if (!answer) {
    // A file that crashes or stalls a decoder is refused, as a file that fails to decode is.
    return fail(ErrorCode::unprocessable, "the file could not be read: " + answer.error().message);
  }
  worker.finish();
  std::string event = answer->header.value("event", "");
  if (event == "error") return tl::unexpected(messages::parse_error(answer->header));
  auto info = answer->header.find("info");
  if (event != "probed" || info == answer->header.end())
    return fail(ErrorCode::unprocessable, "the file could not be read: the media worker gave no answer");
  TRY(media::MediaInfo probed, media::media_info_from_json(*info));
  RETURN_IF_ERROR(media::check_media_info(probed, limits));
  return probed;
}

}  // namespace cinevault::worker
