#include "segment_relay.hpp"

namespace cinevault::media {

void SegmentRelay::post(Report report) {
  {
    std::lock_guard lock(mutex_);
    reports_.push_back(std::move(report));
  }
  posted_.notify_all();
}

Result<void> SegmentRelay::on_init_segment(const Rendition& rendition, std::string bytes) {
  post({Report::Kind::init, rendition, {}, std::move(bytes), 0});
  return {};
}

Result<void> SegmentRelay::on_media_segment(const Rendition& rendition,
                                            const Segment& segment, std::string bytes) {
  post({Report::Kind::segment, rendition, segment, std::move(bytes), 0});
  return {};
}

Result<void> SegmentRelay::on_rendition_finished(const Rendition& rendition,
                                                 int average_bandwidth_bps) {
  post({Report::Kind::finished, rendition, {}, {}, average_bandwidth_bps});
  return {};
}

Result<void> SegmentRelay::deliver(package::SegmentListener& listener) {
  for (;;) {
    std::deque<Report> reports;
    {
      std::lock_guard lock(mutex_);
      reports.swap(reports_);
    }
    if (reports.empty()) return {};
    for (Report& report : reports) {
      switch (report.kind) {
        case Report::Kind::init:
          RETURN_IF_ERROR(listener.on_init_segment(report.rendition, std::move(report.bytes)));
          break;
        case Report::Kind::segment:
          RETURN_IF_ERROR(listener.on_media_segment(report.rendition, report.segment, std::move(report.bytes)));
          break;
        case Report::Kind::finished:
          RETURN_IF_ERROR(listener.on_rendition_finished(report.rendition, report.average_bandwidth_bps));
          break;
      }
    }
  }
}

}  // namespace cinevault::media
