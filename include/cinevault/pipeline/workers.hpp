// The transcode workers: threads that take jobs from the queue and run them.
//
// Each job transcodes a video's source into a new version: segments are stored as objects
// and recorded as they come, the version is published as soon as every rendition has its
// first segment (if the video has no complete version yet), and when the last segment
// lands the finished version is published in one transaction. A failed run leaves the
// published version as it was; its own rows are removed and its objects left to GC.
#pragma once

#include <memory>

#include "cinevault/core/config.hpp"
#include "cinevault/db/database.hpp"
#include "cinevault/pipeline/job_queue.hpp"
#include "cinevault/store/object_store.hpp"
#include "cinevault/worker/worker_process.hpp"

namespace cinevault::pipeline {

class Workers {
 public:
  virtual ~Workers() = default;
  // Starts pipeline.concurrent_jobs threads.
  virtual void start() = 0;
  // A job was queued: a waiting worker takes it now rather than at its next poll.
  virtual void wake() = 0;
  // Stops taking jobs and stops the running ones; their jobs go back to the queue.
  virtual void stop() = 0;
};

// Each job runs in one of `media_workers`' processes.
std::unique_ptr<Workers> make_workers(const Config& config, db::Database& database, store::ObjectStore& store,
                                      JobQueue& queue, worker::WorkerPool& media_workers);

}  // namespace cinevault::pipeline
