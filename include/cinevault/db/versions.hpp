// Rows of versions, renditions and segments: what a transcode run produced, and which
// version of a video players get (videos.published_version_id).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cinevault/core/rendition.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"
#include "cinevault/db/videos.hpp"

namespace cinevault::db {

// building while a transcode adds segments, complete when every rendition is finished.
enum class VersionState { building, complete };

struct VersionRow {
  std::int64_t id = 0;
  std::string video_id;
  int number = 0;
  std::optional<std::int64_t> job_id;
  VersionState state = VersionState::building;
  double segment_s = 0;
  std::string encoder;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::vector<Rendition> renditions;  // filled by load_version: video tallest first, then audio
};

Result<VersionRow> create_version(Connection& c, const std::string& video_id, std::optional<std::int64_t> job_id,
                                  double segment_s, const std::string& encoder);
// The rendition as reported before its segments (its segments, `finished` and average
// bandwidth are not written here); returns its renditions.id.
Result<std::int64_t> insert_rendition(Connection& c, std::int64_t version_id, const Rendition& rendition);
Result<void> insert_segment(Connection& c, std::int64_t rendition_id, const Segment& segment);
Result<void> finish_rendition(Connection& c, std::int64_t rendition_id, int average_bandwidth);
Result<void> complete_version(Connection& c, std::int64_t version_id);
Result<void> touch_version(Connection& c, std::int64_t version_id);
Result<void> delete_version(Connection& c, std::int64_t version_id);

// Points the video at the version (players switch at their next manifest request).
Result<void> publish_version(Connection& c, const std::string& video_id, std::int64_t version_id);
// Versions nobody should be playing any more: superseded more than `grace_ms` ago, or runs
// abandoned (not published, no running job) for that long. Their objects go to GC.
Result<std::int64_t> delete_stale_versions(Connection& c, std::int64_t now, std::int64_t grace_ms);
Result<void> set_video_state(Connection& c, const std::string& video_id, VideoState state);

// A version with its renditions and segments, by id or by (video, number).
Result<std::optional<VersionRow>> load_version(Connection& c, std::int64_t version_id);
Result<std::optional<VersionRow>> load_version(Connection& c, const std::string& video_id, int number);
// The published version of a video, if any.
Result<std::optional<VersionRow>> load_published_version(Connection& c, const std::string& video_id);

// What identifies a version's content at a moment: any change to its renditions or
// segments moves `updated_at_ms` (strictly: two changes in one millisecond still differ).
struct VersionStamp {
  std::int64_t id = 0;
  VersionState state = VersionState::building;
  std::int64_t updated_at_ms = 0;
  bool operator==(const VersionStamp&) const = default;
};
// One indexed row each: the published version, or version `number` of the video.
Result<std::optional<VersionStamp>> published_version_stamp(Connection& c, const std::string& video_id);
Result<std::optional<VersionStamp>> version_stamp(Connection& c, const std::string& video_id, int number);
struct ThumbnailRow {
  std::string kind;    // poster, sprite, trickplay
  std::string format;  // jpeg, webp, vtt
  int number = 0;      // poster: its width; sprite: the sheet's index; trickplay: 0
  int width = 0;
  int height = 0;
  std::string sha256;
};
Result<void> insert_thumbnail(Connection& c, std::int64_t version_id, const ThumbnailRow& thumbnail);

// The number and state of the published version, without its renditions.
struct PublishedVersion {
  int number = 0;
  VersionState state = VersionState::building;
  std::vector<ThumbnailRow> thumbnails;  // posters and the trickplay track, not the sheets
};
Result<std::optional<PublishedVersion>> published_version_summary(Connection& c, const std::string& video_id);
// The same for a page of videos in one query, by video id (videos without a published
// version are left out).
Result<std::map<std::string, PublishedVersion>> published_version_summaries(Connection& c,
                                                                            const std::vector<std::string>& video_ids);
// Versions of the video other than `keep` (superseded or abandoned runs).
Result<std::vector<std::int64_t>> other_versions(Connection& c, const std::string& video_id, std::int64_t keep);

}  // namespace cinevault::db
