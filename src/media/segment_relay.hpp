// From the rung threads to the job's calling thread (internal to media/): each rung's
// segmenter reports here, and the calling thread passes the reports on to the job's
// listener, in the order they came, so that the listener (the version writer, or the media
// worker's channel) is only ever called from one thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>

#include "cinevault/package/segment_listener.hpp"

namespace cinevault::media {

class SegmentRelay : public package::SegmentListener {
 public:
  // Reports wait under `mutex` (its owner's, so that one wait of the owner sees both its own
  // state and new reports); `posted` is notified for each.
  SegmentRelay(std::mutex& mutex, std::condition_variable& posted) : mutex_(mutex), posted_(posted) {}

  // Called on the rung threads.
  Result<void> on_init_segment(const Rendition& rendition, std::string bytes) override;
  Result<void> on_media_segment(const Rendition& rendition, const Segment& segment,
                                std::string bytes) override;
  Result<void> on_rendition_finished(const Rendition& rendition, int average_bandwidth_bps) override;

  // Whether reports wait; the caller holds the mutex.
  bool pending() const { return !reports_.empty(); }
  // Passes on every waiting report; the caller does not hold the mutex.
  Result<void> deliver(package::SegmentListener& listener);

 private:
  struct Report {
    enum class Kind { init, segment, finished };
    Kind kind = Kind::init;
    Rendition rendition;
    Segment segment;
    std::string bytes;
    int average_bandwidth_bps = 0;
  };
  void post(Report report);

  std::mutex& mutex_;
  std::condition_variable& posted_;
  std::deque<Report> reports_;  // under mutex_
};

}  // namespace cinevault::media
