// The daemon's side of the media worker (worker/media_worker.hpp): every probe and every
// transcode runs in a new `cinevault media-worker` process, so that a decoder that crashes,
// loops or runs out of memory on a hostile file ends that process, never the daemon.
//
// The source goes to the worker as an open read-only descriptor; what comes back is read as
// hostile (worker/channel.hpp, and every field checked before it reaches the store or the
// database). A worker that dies is named by its signal: `crashed` for SIGSEGV, SIGABRT,
// SIGBUS, SIGSYS (a system call its sandbox forbids) and the like; `resource` for SIGKILL
// (the OOM killer), SIGXCPU (its CPU-time budget), memory over its budget, or silence beyond
// the limit. Workers are
// stopped by their pid only.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "cinevault/core/config.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/media/probe.hpp"
#include "cinevault/media/transcode.hpp"
#include "cinevault/package/segment_listener.hpp"
#include "cinevault/worker/sandbox.hpp"

namespace cinevault::worker {

struct WorkerSettings {
  std::filesystem::path executable = "/proc/self/exe";  // this very binary, even if replaced on disk
  std::string log_level = "info";
  // The worker's resident memory budget: checked four times a second (over it: killed, the
  // job fails as resource), and its address space capped at twice this and 1 GiB (RLIMIT_AS).
  std::uint64_t memory_bytes = 0;  // 0: no limit
  int nice = 10;
  // A transcode nobody waits for (a library import): its niceness, and the idle I/O class.
  int background_nice = 19;
  // A worker that sends nothing for this long is killed (a decoder in an endless loop).
  std::chrono::milliseconds silence_limit = std::chrono::seconds(120);
};

// From the configuration: pipeline.worker_memory_mb, worker_silence_s, nice, log_level;
// library.nice (when nicer than pipeline.nice).
WorkerSettings worker_settings(const Config& config);

// Who waits for a transcode: a person (an upload, a transcode asked for), or no one soon (a
// file of a library import: background_nice and the idle I/O class).
enum class WorkPriority { person, background };

class WorkerProcess;

// The media workers of a daemon. Starting one takes about 150 ms (the dynamic loader maps the
// ~170 shared libraries FFmpeg's brings): the pool keeps `idle_workers` started ahead, so
// that an upload's probe does not wait for it, and starts another when the probe or
// transcode that took one is over. Each worker does one piece of work and exits. Thread-safe.
class WorkerPool {
 public:
  explicit WorkerPool(WorkerSettings settings, int idle_workers = 1);
  ~WorkerPool();  // the idle workers are killed by their pids and reaped
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // media::transcode in a sandboxed worker, with the same contract (the source is opened
  // here, from request.source, and handed over; request.source_fd is not used); also
  // crashed or resource as above. Its CPU-time budget follows the transcode's wall-time
  // budget (media.max_transcode_time_factor). A stop request kills the worker (unavailable).
  Result<media::TranscodeReport> transcode(const media::TranscodeRequest& request,
                                           package::SegmentListener& listener,
                                           const std::function<void(const media::TranscodeProgress&)>& progress,
                                           std::stop_token stop, WorkPriority priority = WorkPriority::person);

  // media::probe_file in a sandboxed worker; the answer is checked against `limits` again.
  // A worker that crashes on the file makes it unprocessable (the file is the likely cause).
  Result<media::MediaInfo> probe(const std::filesystem::path& path, const MediaLimits& limits);

 private:
  struct Idle;
  struct Refill;
  Result<WorkerProcess> take();
  void refill();

  const WorkerSettings settings_;
  const int idle_workers_;
  std::unique_ptr<Idle> idle_;
};

}  // namespace cinevault::worker
