#include "version_writer.hpp"

#include <spdlog/spdlog.h>

#include "cinevault/db/objects.hpp"
#include "cinevault/manifest/trickplay.hpp"

namespace cinevault::pipeline {

VersionWriter::VersionWriter(db::Database& database, store::ObjectStore& store, db::VersionRow version,
                             int expected_renditions, bool publish_early)
    : database_(database),
      store_(store),
      version_(std::move(version)),
      expected_renditions_(expected_renditions),
      publish_early_(publish_early) {}

// The object is durable before its row exists, and pinned until the row is committed.
Result<store::StoredObject> VersionWriter::store_object(std::string_view bytes, const char* kind,
                                                        const Recorder& record) {
  auto pin = store_.pin();
  TRY(store::StoredObject object, store_.put_bytes(bytes));
  RETURN_IF_ERROR(database_.write([&](db::Connection& c) -> Result<void> {
    RETURN_IF_ERROR(db::insert_object(c, {object.sha256, static_cast<std::int64_t>(object.size), kind}));
    return record(c, object);
  }));
  return object;
}

Result<void> VersionWriter::on_init_segment(const Rendition& r, std::string bytes) {
  Rendition stored = r;
  std::int64_t id = 0;
  RETURN_IF_ERROR(store_object(bytes, "init", [&](db::Connection& c, const store::StoredObject& object) -> Result<void> {
    stored.init_sha256 = object.sha256;
    TRY(id, db::insert_rendition(c, version_.id, stored));
    return {};
  }));
  renditions_[r.name] = {id, r.kind, r.start, false};
  return {};
}

bool VersionWriter::startable() const {
  if (static_cast<int>(renditions_.size()) != expected_renditions_) return false;
  bool start_has_segment = false;
  for (const auto& [name, known] : renditions_) {
    if (known.kind == TrackKind::audio && !known.has_segment) return false;
    if (known.start) start_has_segment = known.has_segment;
  }
  return start_has_segment;
}

Result<void> VersionWriter::on_media_segment(const Rendition& r, const Segment& s, std::string bytes) {
  auto it = renditions_.find(r.name);
  if (it == renditions_.end()) return fail(ErrorCode::internal, "segment before the init segment of " + r.name);
  it->second.has_segment = true;
  bool publish_now = publish_early_ && !published_ && startable();
  Segment stored = s;
  RETURN_IF_ERROR(store_object(bytes, "segment", [&](db::Connection& c, const store::StoredObject& object) -> Result<void> {
    stored.size = static_cast<std::int64_t>(object.size);
    stored.sha256 = object.sha256;
    RETURN_IF_ERROR(db::insert_segment(c, it->second.row_id, stored));
    RETURN_IF_ERROR(db::touch_version(c, version_.id));
    if (publish_now) RETURN_IF_ERROR(db::publish_version(c, version_.video_id, version_.id));
    return {};
  }));
  if (publish_now) {
    published_ = true;
    spdlog::info("video {}: version {} is playable while it is transcoded", version_.video_id, version_.number);
  }
  return {};
}

Result<void> VersionWriter::on_rendition_finished(const Rendition& r, int average_bandwidth_bps) {
  auto it = renditions_.find(r.name);
  if (it == renditions_.end()) return fail(ErrorCode::internal, "finished before the init segment of " + r.name);
  return database_.write([&](db::Connection& c) -> Result<void> {
    RETURN_IF_ERROR(db::finish_rendition(c, it->second.row_id, average_bandwidth_bps));
    return db::touch_version(c, version_.id);
  });
}

Result<void> VersionWriter::add_thumbnails(const media::Thumbnails& thumbnails) {
  auto record = [&](db::ThumbnailRow row) {
    return [this, row](db::Connection& c, const store::StoredObject& object) mutable -> Result<void> {
      row.sha256 = object.sha256;
      return db::insert_thumbnail(c, version_.id, row);
    };
  };
  std::vector<std::string> sheet_urls;
  for (std::size_t i = 0; i < thumbnails.sprite_sheets.size(); ++i) {
    const auto& sheet = thumbnails.sprite_sheets[i];
    TRY(auto object, store_object(sheet.bytes, "image",
                                  record({"sprite", sheet.format, static_cast<int>(i), sheet.width, sheet.height, ""})));
    sheet_urls.push_back("/objects/" + object.sha256 + ".jpg");
  }
  std::vector<manifest::TrickplayCue> cues;
  for (const auto& tile : thumbnails.tiles) {
    if (tile.sheet < 0 || tile.sheet >= static_cast<int>(sheet_urls.size()))
      return fail(ErrorCode::internal, "a trickplay tile on a sheet that does not exist");
    cues.push_back({tile.start_s, tile.end_s, sheet_urls[static_cast<std::size_t>(tile.sheet)], tile.x, tile.y,
                    tile.width, tile.height});
  }
  if (!cues.empty()) {
    const auto& tile = thumbnails.tiles.front();
    RETURN_IF_ERROR(store_object(manifest::trickplay_vtt(cues), "text",
                                 record({"trickplay", "vtt", 0, tile.width, tile.height, ""})));
  }
  for (const auto& poster : thumbnails.posters)
    RETURN_IF_ERROR(store_object(poster.bytes, "image",
                                 record({"poster", poster.format, poster.width, poster.width, poster.height, ""})));
  return {};
}

Result<void> VersionWriter::publish() {
  RETURN_IF_ERROR(database_.write([&](db::Connection& c) -> Result<void> {
    RETURN_IF_ERROR(db::complete_version(c, version_.id));
    RETURN_IF_ERROR(db::publish_version(c, version_.video_id, version_.id));
    return db::set_video_state(c, version_.video_id, db::VideoState::ready);
  }));
  published_ = true;
  spdlog::info("video {}: version {} published", version_.video_id, version_.number);
  return {};
}

void VersionWriter::abandon() {
  if (published_) return;  // players have it: it stays until a better version replaces it
  auto removed = database_.write([&](db::Connection& c) { return db::delete_version(c, version_.id); });
  if (!removed) spdlog::error("video {}: removing abandoned version {} failed: {}", version_.video_id,
                              version_.number, removed.error().message);
}

}  // namespace cinevault::pipeline
