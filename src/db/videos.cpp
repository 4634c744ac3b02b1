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

constexpr const char* kColumns =
    "id, title, description, tags, state, source_sha256, source_filename, media_info, created_at, updated_at";

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

std::string new_video_id() { return random_hex(8); }

Result<void> insert_video(Connection& c, const VideoRow& v) {
  TRY(auto stmt, c.prepare("INSERT INTO videos (" + std::string(kColumns) + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
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
      .run();
}

Result<std::optional<VideoRow>> find_video(Connection& c, const std::string& id) {
  TRY(auto stmt, c.prepare("SELECT " + std::string(kColumns) + " FROM videos WHERE id = ?"));
  stmt.bind(1, id);
  TRY(bool row, stmt.step());
  if (!row) return std::optional<VideoRow>();
  return std::optional<VideoRow>(read_row(stmt));
}

Result<std::optional<VideoRow>> find_video_by_source(Connection& c, const std::string& source_sha256) {
  TRY(auto stmt, c.prepare("SELECT " + std::string(kColumns) + " FROM videos WHERE source_sha256 = ? LIMIT 1"));
  stmt.bind(1, source_sha256);
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

Result<VideoPage> list_videos(Connection& c, int limit, const std::optional<std::string>& cursor,
                              std::string_view search) {
  VideoPage page;
  std::optional<std::pair<std::int64_t, std::string>> position;
  if (cursor) {
    position = parse_cursor(*cursor);
    if (!position) return fail(ErrorCode::invalid_argument, "the cursor is not one this server gave out");
  }
  auto patterns = search_patterns(search);
  std::string filter;
  if (!patterns.empty()) {
    filter = "id IN (SELECT video_id FROM video_search WHERE ";
    for (std::size_t i = 0; i < patterns.size(); ++i) filter += (i ? " AND " : "") + std::string("text LIKE ? ESCAPE '\\'");
    filter += ")";
  }
  // One row more than asked tells whether there is a next page.
  std::string sql = "SELECT " + std::string(kColumns) + " FROM videos WHERE 1";
  if (!filter.empty()) sql += " AND " + filter;
  if (position) sql += " AND (created_at, id) < (?, ?)";
  sql += " ORDER BY created_at DESC, id DESC LIMIT ?";
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
  TRY(auto count, c.prepare("SELECT count(*) FROM videos" + (filter.empty() ? std::string() : " WHERE " + filter)));
  index = 1;
  for (auto& pattern : patterns) count.bind(index++, pattern);
  TRY(bool counted, count.step());
  page.total = counted ? count.int64(0) : 0;
  return page;
}

Result<bool> update_video(Connection& c, const std::string& id, const VideoPatch& patch) {
  TRY(auto stmt, c.prepare("UPDATE videos SET title = coalesce(?, title), description = coalesce(?, description), "
                           "tags = coalesce(?, tags), updated_at = ? WHERE id = ?"));
  std::optional<std::string> tags;
  if (patch.tags) tags = json_text(nlohmann::json(*patch.tags));
  RETURN_IF_ERROR(stmt.bind(1, patch.title).bind(2, patch.description).bind(3, tags).bind(4, now_ms()).bind(5, id).run());
  return c.changes() > 0;
}

Result<bool> delete_video(Connection& c, const std::string& id) {
  TRY(auto stmt, c.prepare("DELETE FROM videos WHERE id = ?"));
  RETURN_IF_ERROR(stmt.bind(1, id).run());
  return c.changes() > 0;
}

}  // namespace cinevault::db
