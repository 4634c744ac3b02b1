#include "cinevault/db/versions.hpp"

#include <functional>

#include <nlohmann/json.hpp>

#include "cinevault/db/database.hpp"

namespace cinevault::db {
namespace {

constexpr const char* kVersionColumns =
    "id, video_id, number, job_id, state, segment_s, encoder, created_at, updated_at";

// The table's CHECK admits only 'building' and 'complete'.
VersionState version_state(const std::string& text) {
  return text == "complete" ? VersionState::complete : VersionState::building;
}

VersionRow read_version(const Statement& s) {
  VersionRow v;
  v.id = s.int64(0);
  v.video_id = s.text(1);
  v.number = static_cast<int>(s.int64(2));
  v.job_id = s.optional_int64(3);
  v.state = version_state(s.text(4));
  v.segment_s = s.real(5);
  v.encoder = s.text(6);
  v.created_at_ms = s.int64(7);
  v.updated_at_ms = s.int64(8);
  return v;
}

// renditions.kind: the only place the text of a TrackKind is read or written in db/.
const char* kind_text(TrackKind kind) { return kind == TrackKind::video ? "video" : "audio"; }

Result<TrackKind> parse_kind(const std::string& text) {
  if (text == "video") return TrackKind::video;
  if (text == "audio") return TrackKind::audio;
  return fail(ErrorCode::database, "a rendition has kind '" + text + "'");
}

Result<void> load_parts(Connection& c, VersionRow& version) {
  TRY(auto renditions, c.prepare("SELECT id, name, kind, codecs, width, height, frame_rate, bandwidth, "
                                 "average_bandwidth, language, channels, sample_rate, timescale, init_sha256, "
                                 "finished, start FROM renditions WHERE version_id = ? "
                                 "ORDER BY kind = 'audio', height DESC, bandwidth DESC, name"));
  renditions.bind(1, version.id);
  std::vector<std::int64_t> row_ids;  // renditions.id, in the order of version.renditions
  for (;;) {
    TRY(bool row, renditions.step());
    if (!row) break;
    Rendition r;
    row_ids.push_back(renditions.int64(0));
    r.name = renditions.text(1);
    TRY(r.kind, parse_kind(renditions.text(2)));
    r.codecs = renditions.text(3);
    r.width = static_cast<int>(renditions.int64(4));
    r.height = static_cast<int>(renditions.int64(5));
    r.frame_rate = renditions.real(6);
    r.bandwidth_bps = static_cast<int>(renditions.int64(7));
    r.average_bandwidth_bps = static_cast<int>(renditions.int64(8));
    r.language = renditions.text(9);
    r.channels = static_cast<int>(renditions.int64(10));
    r.sample_rate = static_cast<int>(renditions.int64(11));
    r.timescale = static_cast<std::uint32_t>(renditions.int64(12));
    r.init_sha256 = renditions.text(13);
    r.finished = renditions.int64(14) != 0;
    r.start = renditions.int64(15) != 0;
    version.renditions.push_back(std::move(r));
  }
  TRY(auto segments, c.prepare("SELECT number, start, duration, size, sha256 FROM segments WHERE rendition_id = ? "
                               "ORDER BY number"));
  for (std::size_t i = 0; i < version.renditions.size(); ++i) {
    segments.bind(1, row_ids[i]);
    for (;;) {
      TRY(bool row, segments.step());
      if (!row) break;
      version.renditions[i].segments.push_back({static_cast<int>(segments.int64(0)), segments.int64(1),
                                                segments.int64(2), segments.int64(3), segments.text(4)});
    }
    RETURN_IF_ERROR(segments.reset());
  }
  return {};
}

Result<std::optional<VersionRow>> load_where(Connection& c, const std::string& where,
                                             const std::function<void(Statement&)>& bind) {
  TRY(auto stmt, c.prepare("SELECT " + std::string(kVersionColumns) + " FROM versions WHERE " + where));
  bind(stmt);
  TRY(bool row, stmt.step());
  if (!row) return std::optional<VersionRow>();
  VersionRow version = read_version(stmt);
  RETURN_IF_ERROR(load_parts(c, version));
  return std::optional<VersionRow>(std::move(version));
}

}  // namespace

Result<VersionRow> create_version(Connection& c, const std::string& video_id, std::optional<std::int64_t> job_id,
                                  double segment_s, const std::string& encoder) {
  auto now = now_ms();
  TRY(auto stmt, c.prepare("INSERT INTO versions (video_id, number, job_id, state, segment_s, encoder, created_at, "
                           "updated_at) VALUES (?1, (SELECT coalesce(max(number), 0) + 1 FROM versions WHERE video_id = ?1), "
                           "?2, 'building', ?3, ?4, ?5, ?5) RETURNING " + std::string(kVersionColumns)));
  stmt.bind(1, video_id).bind(2, job_id).bind(3, segment_s).bind(4, encoder).bind(5, now);
  TRY(bool row, stmt.step());
  if (!row) return fail(ErrorCode::database, "insert version returned nothing");
  return read_version(stmt);
}

Result<std::int64_t> insert_rendition(Connection& c, std::int64_t version_id, const Rendition& r) {
  TRY(auto stmt, c.prepare("INSERT INTO renditions (version_id, name, kind, codecs, width, height, frame_rate, "
                           "bandwidth, language, channels, sample_rate, timescale, init_sha256, start) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"));
  stmt.bind(1, version_id)
      .bind(2, r.name)
      .bind(3, kind_text(r.kind))
      .bind(4, r.codecs)
      .bind(5, r.width)
      .bind(6, r.height)
      .bind(7, r.frame_rate)
      .bind(8, r.bandwidth_bps)
      .bind(9, r.language)
      .bind(10, r.channels)
      .bind(11, r.sample_rate)
      .bind(12, static_cast<std::int64_t>(r.timescale))
      .bind(13, r.init_sha256)
      .bind(14, r.start ? 1 : 0);
  TRY(bool row, stmt.step());
  if (!row) return fail(ErrorCode::database, "insert rendition returned nothing");
  return stmt.int64(0);
}

Result<void> insert_segment(Connection& c, std::int64_t rendition_id, const Segment& s) {
  TRY(auto stmt, c.prepare("INSERT INTO segments (rendition_id, number, start, duration, size, sha256) "
                           "VALUES (?, ?, ?, ?, ?, ?)"));
  return stmt.bind(1, rendition_id).bind(2, s.number).bind(3, s.start).bind(4, s.duration).bind(5, s.size).bind(6, s.sha256).run();
}

Result<void> finish_rendition(Connection& c, std::int64_t rendition_id, int average_bandwidth) {
  TRY(auto stmt, c.prepare("UPDATE renditions SET finished = 1, average_bandwidth = ? WHERE id = ?"));
  return stmt.bind(1, average_bandwidth).bind(2, rendition_id).run();
}

Result<void> complete_version(Connection& c, std::int64_t version_id) {
  TRY(auto stmt, c.prepare("UPDATE versions SET state = 'complete', updated_at = max(?, updated_at + 1) WHERE id = ?"));
  return stmt.bind(1, now_ms()).bind(2, version_id).run();
}

Result<void> touch_version(Connection& c, std::int64_t version_id) {
  TRY(auto stmt, c.prepare("UPDATE versions SET updated_at = max(?, updated_at + 1) WHERE id = ?"));
  return stmt.bind(1, now_ms()).bind(2, version_id).run();
}

Result<void> delete_version(Connection& c, std::int64_t version_id) {
  TRY(auto stmt, c.prepare("DELETE FROM versions WHERE id = ?"));
  return stmt.bind(1, version_id).run();
}

Result<void> publish_version(Connection& c, const std::string& video_id, std::int64_t version_id) {
  auto now = now_ms();
  // Players of the version being replaced keep it for a while (delete_stale_versions).
  TRY(auto superseded, c.prepare("UPDATE versions SET superseded_at = ? WHERE id = (SELECT published_version_id FROM "
                                 "videos WHERE id = ?) AND id <> ?"));
  RETURN_IF_ERROR(superseded.bind(1, now).bind(2, video_id).bind(3, version_id).run());
  TRY(auto stmt, c.prepare("UPDATE videos SET published_version_id = ?, updated_at = ? WHERE id = ?"));
  return stmt.bind(1, version_id).bind(2, now).bind(3, video_id).run();
}

Result<std::int64_t> delete_stale_versions(Connection& c, std::int64_t now, std::int64_t grace_ms) {
  TRY(auto stmt, c.prepare(
                     "DELETE FROM versions WHERE id NOT IN (SELECT published_version_id FROM videos WHERE "
                     "published_version_id IS NOT NULL) AND ((superseded_at IS NOT NULL AND superseded_at < ?1) OR "
                     "(state = 'building' AND updated_at < ?1 AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = "
                     "versions.job_id AND jobs.state = 'running')))"));
  RETURN_IF_ERROR(stmt.bind(1, now - grace_ms).run());
  return c.changes();
}

Result<void> set_video_state(Connection& c, const std::string& video_id, VideoState state) {
  TRY(auto stmt, c.prepare("UPDATE videos SET state = ?, updated_at = ? WHERE id = ?"));
  return stmt.bind(1, to_string(state)).bind(2, now_ms()).bind(3, video_id).run();
}

Result<std::optional<VersionRow>> load_version(Connection& c, std::int64_t version_id) {
  return load_where(c, "id = ?", [&](Statement& s) { s.bind(1, version_id); });
}

Result<std::optional<VersionRow>> load_version(Connection& c, const std::string& video_id, int number) {
  return load_where(c, "video_id = ? AND number = ?", [&](Statement& s) { s.bind(1, video_id).bind(2, number); });
}

Result<std::optional<VersionRow>> load_published_version(Connection& c, const std::string& video_id) {
  return load_where(c, "id = (SELECT published_version_id FROM videos WHERE id = ?)",
                    [&](Statement& s) { s.bind(1, video_id); });
}

namespace {

Result<std::optional<VersionStamp>> read_stamp(Statement& stmt) {
  TRY(bool row, stmt.step());
  if (!row) return std::optional<VersionStamp>();
  return std::optional<VersionStamp>(VersionStamp{stmt.int64(0), version_state(stmt.text(1)), stmt.int64(2)});
}

}  // namespace

Result<std::optional<VersionStamp>> published_version_stamp(Connection& c, const std::string& video_id) {
  TRY(auto stmt, c.prepare("SELECT v.id, v.state, v.updated_at FROM videos JOIN versions v ON v.id = "
                           "videos.published_version_id WHERE videos.id = ?"));
  stmt.bind(1, video_id);
  return read_stamp(stmt);
}

Result<std::optional<VersionStamp>> version_stamp(Connection& c, const std::string& video_id, int number) {
  TRY(auto stmt, c.prepare("SELECT id, state, updated_at FROM versions WHERE video_id = ? AND number = ?"));
  stmt.bind(1, video_id).bind(2, number);
  return read_stamp(stmt);
}

Result<void> insert_thumbnail(Connection& c, std::int64_t version_id, const ThumbnailRow& t) {
  TRY(auto stmt, c.prepare("INSERT INTO thumbnails (version_id, kind, format, number, width, height, sha256) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)"));
  return stmt.bind(1, version_id).bind(2, t.kind).bind(3, t.format).bind(4, t.number).bind(5, t.width)
      .bind(6, t.height).bind(7, t.sha256).run();
}

Result<std::optional<PublishedVersion>> published_version_summary(Connection& c, const std::string& video_id) {
  TRY(auto found, published_version_summaries(c, {video_id}));
  if (found.empty()) return std::optional<PublishedVersion>();
  return std::optional<PublishedVersion>(std::move(found.begin()->second));
}

Result<std::map<std::string, PublishedVersion>> published_version_summaries(Connection& c,
                                                                            const std::vector<std::string>& video_ids) {
  std::map<std::string, PublishedVersion> found;
  if (video_ids.empty()) return found;
  // The ids go in as one JSON array, so that every page size uses the same prepared statement.
  TRY(auto stmt, c.prepare("SELECT videos.id, v.number, v.state, t.kind, t.format, t.number, t.width, t.height, t.sha256 "
                           "FROM videos JOIN versions v ON v.id = videos.published_version_id "
                           "LEFT JOIN thumbnails t ON t.version_id = v.id AND t.kind <> 'sprite' "
                           "WHERE videos.id IN (SELECT value FROM json_each(?)) "
                           "ORDER BY videos.id, t.kind, t.number, t.format"));
  stmt.bind(1, nlohmann::json(video_ids).dump());
  for (;;) {
    TRY(bool row, stmt.step());
    if (!row) break;
    auto version =
        found.try_emplace(stmt.text(0), PublishedVersion{static_cast<int>(stmt.int64(1)), version_state(stmt.text(2)), {}}).first;
    if (stmt.is_null(3)) continue;  // no thumbnails (yet)
    version->second.thumbnails.push_back({stmt.text(3), stmt.text(4), static_cast<int>(stmt.int64(5)),
                                          static_cast<int>(stmt.int64(6)), static_cast<int>(stmt.int64(7)),
                                          stmt.text(8)});
  }
  return found;
}

Result<std::vector<std::int64_t>> other_versions(Connection& c, const std::string& video_id, std::int64_t keep) {
  TRY(auto stmt, c.prepare("SELECT id FROM versions WHERE video_id = ? AND id <> ?"));
  stmt.bind(1, video_id).bind(2, keep);
  std::vector<std::int64_t> ids;
  for (;;) {
    TRY(bool row, stmt.step());
    if (!row) break;
    ids.push_back(stmt.int64(0));
  }
  return ids;
}

}  // namespace cinevault::db
