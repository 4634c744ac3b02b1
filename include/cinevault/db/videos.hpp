// Rows of the videos table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"

namespace cinevault::db {

// queued until its first transcode starts, processing until a version plays, ready, or
// failed when the transcode is a dead letter and nothing was ever published.
enum class VideoState { queued, processing, ready, failed };
// As stored and as the API shows it.
const char* to_string(VideoState state);

// Who may watch a video: owner_only ("private": its owner and admins), unlisted (anyone
// holding its link), library (every signed-in user), anyone ("public", anonymous readers too
// when the server allows them). Only library and anyone are listed to people other than the
// owner and admins.
enum class Visibility { owner_only, unlisted, library, anyone };
// "private", "unlisted", "library", "public": as stored and as the API spells them.
const char* to_string(Visibility visibility);
std::optional<Visibility> parse_visibility(std::string_view text);

// What decides who may watch a video.
struct VideoAccess {
  std::int64_t owner_id = 0;
  Visibility visibility = Visibility::owner_only;
};
Result<std::optional<VideoAccess>> find_video_access(Connection& c, const std::string& video_id);

// Which videos a listing shows: every video (admins), a user's own and those listed to every
// signed-in user, or the public ones (anonymous readers).
struct ListScope {
  bool everything = false;
  std::optional<std::int64_t> user_id;  // nullopt: anonymous
};

struct VideoRow {
  std::string id;
  std::string title;
  std::string description;
  std::vector<std::string> tags;
  VideoState state = VideoState::queued;
  std::string source_sha256;
  std::string source_filename;
  std::string media_info_json;
  std::int64_t owner_id = 0;  // 0: nobody's (only admins manage it)
  std::string owner_name;     // read with the row; not written
  Visibility visibility = Visibility::library;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
};

struct VideoPatch {
  std::optional<std::string> title;
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> tags;
  std::optional<Visibility> visibility;
};

// A page of the library, newest first. `after` is the cursor returned with the previous page.
struct VideoPage {
  std::vector<VideoRow> videos;
  std::optional<std::string> next_cursor;
  std::int64_t total = 0;
};

std::string new_video_id();
Result<void> insert_video(Connection& c, const VideoRow& video);
Result<std::optional<VideoRow>> find_video(Connection& c, const std::string& id);
// The owner's video made from these source bytes, if any.
Result<std::optional<VideoRow>> find_video_by_source(Connection& c, const std::string& source_sha256,
                                                     std::int64_t owner_id);
// `search`: only videos whose title, description or tags contain every word of it
// (case-insensitive substrings; at most 8 words count).
Result<VideoPage> list_videos(Connection& c, const ListScope& scope, int limit,
                              const std::optional<std::string>& cursor, std::string_view search = {});
// Returns false when there is no such video.
Result<bool> update_video(Connection& c, const std::string& id, const VideoPatch& patch);
Result<bool> delete_video(Connection& c, const std::string& id);

}  // namespace cinevault::db
