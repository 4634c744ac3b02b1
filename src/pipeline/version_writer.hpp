// The SegmentListener that turns a transcode's output into a version: objects in the
// store, rows in the database, published progressively and then for good.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "cinevault/db/database.hpp"
#include "cinevault/db/versions.hpp"
#include "cinevault/media/thumbnails.hpp"
#include "cinevault/package/segment_listener.hpp"
#include "cinevault/store/object_store.hpp"

namespace cinevault::pipeline {

class VersionWriter final : public package::SegmentListener {
 public:
  // `publish_early`: make the version the published one as soon as a player can start it
  // (the video has nothing better to show): once all `expected_renditions` are known, when
  // every audio rendition and the start rendition (Rendition::start) have a segment. The
  // transcoder stores that rung's first segment before the others' (docs/transcoding.md).
  VersionWriter(db::Database& database, store::ObjectStore& store, db::VersionRow version, int expected_renditions,
                bool publish_early);

  Result<void> on_init_segment(const Rendition& rendition, std::string bytes) override;
  Result<void> on_media_segment(const Rendition& rendition, const Segment& segment, std::string bytes) override;
  Result<void> on_rendition_finished(const Rendition& rendition, int average_bandwidth_bps) override;

  // Posters, sprite sheets and the trickplay track that points into them, as objects and rows.
  Result<void> add_thumbnails(const media::Thumbnails& thumbnails);
  // Every rendition finished: one transaction completes and publishes the version.
  Result<void> publish();
  // The run failed: unless players already have it, the version's rows go (objects to GC).
  void abandon();
  bool published() const { return published_; }
  const db::VersionRow& version() const { return version_; }

 private:
  using Recorder = std::function<Result<void>(db::Connection&, const store::StoredObject&)>;
  Result<store::StoredObject> store_object(std::string_view bytes, const char* kind, const Recorder& record);
  // Once every expected rendition is known: the audio and the start rendition have a segment.
  bool startable() const;

  db::Database& database_;
  store::ObjectStore& store_;
  db::VersionRow version_;
  int expected_renditions_;
  bool publish_early_;
  bool published_ = false;

  struct Known {
    std::int64_t row_id = 0;  // renditions.id
    TrackKind kind = TrackKind::video;
    bool start = false;
    bool has_segment = false;
  };
  std::map<std::string, Known> renditions_;  // by Rendition::name
};

}  // namespace cinevault::pipeline
