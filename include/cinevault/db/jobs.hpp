// Rows of the jobs table. The queue that claims them comes with the pipeline.
#pragma once

#include <cstdint>
#include <string>

#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"

namespace cinevault::db {

// Queues a job of `kind` for a video; returns the job id.
Result<std::int64_t> enqueue_job(Connection& c, const std::string& video_id, const std::string& kind);
// A job of the video is queued or running.
Result<bool> has_active_job(Connection& c, const std::string& video_id);
Result<std::int64_t> count_jobs(Connection& c, const std::string& video_id);

}  // namespace cinevault::db
