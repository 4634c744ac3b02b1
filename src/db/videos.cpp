#include "cinevault/db/videos.hpp"

#include <cctype>

#include <nlohmann/json.hpp>

#include "cinevault/core/hash.hpp"
#include "cinevault/core/parse.hpp"
#include "cinevault/core/text.hpp"
#include "cinevault/db/database.hpp"

namespace cinevault::db {
namespace {

// The table's CHECK admits only these four.
VideoState parse_video_state(const std::string& text) {
  if (text == "processing") return VideoState::processing;
  if (text == "ready") return VideoState::ready;
  if (text == "failed") return VideoState::failed;
  return VideoState::queued;
}

// Read with the owner's name: every query names the table `videos` and joins `users` as `owner`.
constexpr const char* kColumns =
    "videos.id, title, description, tags, state, source_sha256, source_filename, media_info, videos.created_at, "
    "videos.updated_at, owner_id, owner.name, visibility";
constexpr const char* kFrom = " FROM videos LEFT JOIN users AS owner ON owner.id = videos.owner_id";

VideoRow read_row(const Statement& s) {
  VideoRow v;
  v.id = s.text(0);
  v.title = s.text(1);
  v.description = s.text(2);
  auto tags = nlohmann::json::parse(s.text(3), nullptr, false);
  if (tags.is_array())
    for (auto& t : tags)
      if (t.is_string()) v.tags.push_back(t.get<std::string>());
  v.state = parse_video_state(s.text(4));
  v.source_sha256 = s.text(5);
  v.source_filename = s.text(6);
  v.media_info_json = s.text(7);
  v.created_at_ms = s.int64(8);
  v.updated_at_ms = s.int64(9);
  v.owner_id = s.int64(10);
  v.owner_name = s.text(11);
  // The table's CHECK admits only the four.
  v.visibility = parse_visibility(s.text(12)).value_or(Visibility::owner_only);
  return v;
}

// The cursor is "<created_at>.<id>": the position of the last row of the previous page.
std::optional<std::pair<std::int64_t, std::string>> parse_cursor(const std::string& cursor) {
  auto dot = cursor.find('.');
  if (dot == std::string::npos || dot == 0) return std::nullopt;
  auto created = parse_integer<std::int64_t>(std::string_view(cursor).substr(0, dot));
  if (!created) return std::nullopt;
  return std::pair{*created, cursor.substr(dot + 1)};
}

}  // namespace

const char* to_string(VideoState state) {
  switch (state) {
    case VideoState::queued: return "queued";
    case VideoState::processing: return "processing";
    case VideoState::ready: return "ready";
    case VideoState::failed: return "failed";
  }
  return "queued";
}

const char* to_string(Visibility visibility) {
  switch (visibility) {
    case Visibility::owner_only: return "private";
    case Visibility::unlisted: return "unlisted";
    case Visibility::library: return "library";
    case Visibility::anyone: return "public";
  }
  return "private";
}

std::optional<Visibility> parse_visibility(std::string_view text) {
  for (Visibility v : {Visibility::owner_only, Visibility::unlisted, Visibility::library, Visibility::anyone})
    if (text == to_string(v)) return v;
  return std::nullopt;
}

std::string new_video_id() { return random_hex(8); }

Result<void> insert_video(Connection& c, const VideoRow& v) {
  TRY(auto stmt, c.prepare("INSERT INTO videos (id, title, description, tags, state, source_sha256, source_filename, "
                           "media_info, created_at, updated_at, owner_id, visibility) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  return stmt.bind(1, v.id)
      .bind(2, v.title)
      .bind(3, v.description)
      .bind(4, json_text(nlohmann::json(v.tags)))
      .bind(5, to_string(v.state))
      .bind(6, v.source_sha256)
      .bind(7, v.source_filename)
      .bind(8, v.media_info_json)
      .bind(9, v.created_at_ms)
      .bind(10, v.updated_at_ms)
      .bind(11, v.owner_id > 0 ? std::optional<std::int64_t>(v.owner_id) : std::nullopt)  // 0: stored as NULL
      .bind(12, to_string(v.visibility))
      .run();
}

Result<std::optional<VideoRow>> find_video(Connection& c, const std::string& id) {
  TRY(auto stmt, c.prepare("SELECT " + std::string(kColumns) + kFrom + " WHERE videos.id = ?"));
  stmt.bind(1, id);
  TRY(bool row, stmt.step());
  if (!row) return std::optional<VideoRow>();
  return std::optional<VideoRow>(read_row(stmt));
}

Result<std::optional<VideoAccess>> find_video_access(Connection& c, const std::string& video_id) {
  TRY(auto stmt, c.prepare("SELECT owner_id, visibility FROM videos WHERE id = ?"));
  TRY(bool row, stmt.bind(1, video_id).step());
  if (!row) return std::optional<VideoAccess>();
  return std::optional<VideoAccess>(
      VideoAccess{stmt.int64(0), parse_visibility(stmt.text(1)).value_or(Visibility::owner_only)});
}

Result<std::optional<VideoRow>> find_video_by_source(Connection& c, const std::string& source_sha256,
                                                     std::int64_t owner_id) {
  TRY(auto stmt, c.prepare("SELECT " + std::string(kColumns) + kFrom + " WHERE source_sha256 = ? AND owner_id = ?"));
  stmt.bind(1, source_sha256).bind(2, owner_id);
  TRY(bool row, stmt.step());
  if (!row) return std::optional<VideoRow>();
  return std::optional<VideoRow>(read_row(stmt));
}

namespace {

// The words of a search as LIKE patterns, with LIKE's own wildcards taken literally.
std::vector<std::string> search_patterns(std::string_view search) {
  std::vector<std::string> patterns;
  std::size_t i = 0;
  while (i < search.size() && patterns.size() < 8) {
    while (i < search.size() && std::isspace(static_cast<unsigned char>(search[i]))) ++i;
    std::size_t start = i;
    while (i < search.size() && !std::isspace(static_cast<unsigned char>(search[i]))) ++i;
    if (i == start) break;
    std::string pattern = "%";
    for (char ch : search.substr(start, i - start)) {
      if (ch == '%' || ch == '_' || ch == '\\') pattern += '\\';
      pattern += ch;
    }
    patterns.push_back(pattern + "%");
  }
  return patterns;
}

}  // namespace

Result<VideoPage> list_videos(Connection& c, const ListScope& scope, int limit,
                              const std::optional<std::string>& cursor, std::string_view search) {
  VideoPage page;
  std::optional<std::pair<std::int64_t, std::string>> position;
  if (cursor) {
    position = parse_cursor(*cursor);
    if (!position) return fail(ErrorCode::invalid_argument, "the cursor is not one this server gave out");
  }
  auto patterns = search_patterns(search);
  std::string filter;
  if (!patterns.empty()) {
    filter = " AND videos.id IN (SELECT video_id FROM video_search WHERE ";
    for (std::size_t i = 0; i < patterns.size(); ++i) filter += (i ? " AND " : "") + std::string("text LIKE ? ESCAPE '\\'");
    filter += ")";
  }
  std::string scoped = " WHERE 1";
  if (!scope.everything && scope.user_id)
    scoped = " WHERE (owner_id = " + std::to_string(*scope.user_id) + " OR visibility IN ('library', 'public'))";
  else if (!scope.everything)
    scoped = " WHERE visibility = 'public'";
  // One row more than asked tells whether there is a next page.
  std::string sql = "SELECT " + std::string(kColumns) + kFrom + scoped + filter;
  if (position) sql += " AND (videos.created_at, videos.id) < (?, ?)";
  sql += " ORDER BY videos.created_at DESC, videos.id DESC LIMIT ?";
  TRY(auto stmt, c.prepare(sql));
  int index = 1;
  for (auto& pattern : patterns) stmt.bind(index++, pattern);
  if (position) {
    stmt.bind(index++, position->first);
    stmt.bind(index++, position->second);
  }
  stmt.bind(index, limit + 1);
  for (;;) {
    TRY(bool row, stmt.step());
    if (!row) break;
    page.videos.push_back(read_row(stmt));
  }
  if (static_cast<int>(page.videos.size()) > limit) {
    page.videos.pop_back();
    auto& last = page.videos.back();
    page.next_cursor = std::to_string(last.created_at_ms) + "." + last.id;
  }
  TRY(auto count, c.prepare("SELECT count(*) FROM videos" + scoped + filter));
  index = 1;
  for (auto& pattern : patterns) count.bind(index++, pattern);
  TRY(bool counted, count.step());
  page.total = counted ? count.int64(0) : 0;
  return page;
}

Result<bool> update_video(Connection& c, const std::string& id, const VideoPatch& patch) {
  TRY(auto stmt, c.prepare("UPDATE videos SET title = coalesce(?, title), description = coalesce(?, description), "
                           "tags = coalesce(?, tags), visibility = coalesce(?, visibility), updated_at = ? WHERE id = ?"));
  std::optional<std::string> tags;
  if (patch.tags) tags = json_text(nlohmann::json(*patch.tags));
  std::optional<std::string> visibility;
  if (patch.visibility) visibility = to_string(*patch.visibility);
  RETURN_IF_ERROR(stmt.bind(1, patch.title)
                      .bind(2, patch.description)
                      .bind(3, tags)
                      .bind(4, visibility)
                      .bind(5, now_ms())
                      .bind(6, id)
                      .run());
  return c.changes() > 0;
}

Result<bool> delete_video(Connection& c, const std::string& id) {
  TRY(auto stmt, c.prepare("DELETE FROM videos WHERE id = ?"));
  RETURN_IF_ERROR(stmt.bind(1, id).run());
  return c.changes() > 0;
}

}  // namespace cinevault::db
