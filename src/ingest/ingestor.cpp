#include "cinevault/ingest/ingestor.hpp"

#include "cinevault/ingest/file_title.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cinevault/core/text.hpp"
#include "cinevault/db/jobs.hpp"
#include "cinevault/db/objects.hpp"
#include "cinevault/media/probe.hpp"

namespace cinevault::ingest {
namespace {

constexpr std::size_t kMaxTitle = 500;
constexpr std::size_t kMaxDescription = 20000;
constexpr std::size_t kMaxTags = 50;
constexpr std::size_t kMaxTag = 100;

bool has_control_characters(const std::string& text, bool allow_newlines) {
  for (unsigned char c : text)
    if ((c < 0x20 && !(allow_newlines && (c == '\n' || c == '\r' || c == '\t'))) || c == 0x7f) return true;
  return false;
}

std::string base_name(const std::string& filename) {
  auto slash = filename.find_last_of("/\\");
  return slash == std::string::npos ? filename : filename.substr(slash + 1);
}

}  // namespace

std::vector<std::string> split_tags(const std::string& text) {
  std::vector<std::string> tags;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    auto tag = text.substr(start, comma - start);
    auto first = tag.find_first_not_of(' ');
    auto last = tag.find_last_not_of(' ');
    if (first != std::string::npos) tags.push_back(tag.substr(first, last - first + 1));
    start = comma + 1;
  }
  return tags;
}

Result<VideoMetadata> normalize_metadata(VideoMetadata m) {
  m.filename = base_name(m.filename);
  if (m.filename.size() > 255 || has_control_characters(m.filename, false))
    return fail(ErrorCode::invalid_argument, "the filename is longer than 255 bytes or has control characters");
  if (m.title.size() > kMaxTitle || has_control_characters(m.title, false))
    return fail(ErrorCode::invalid_argument, "the title must be at most 500 bytes without control characters");
  if (m.description.size() > kMaxDescription || has_control_characters(m.description, true))
    return fail(ErrorCode::invalid_argument, "the description must be at most 20000 bytes without control characters");
  if (m.tags.size() > kMaxTags) return fail(ErrorCode::invalid_argument, "at most 50 tags");
  for (auto& tag : m.tags)
    if (tag.empty() || tag.size() > kMaxTag || has_control_characters(tag, false))
      return fail(ErrorCode::invalid_argument, "each tag must be 1 to 100 bytes without control characters");
  bool utf8 = is_utf8(m.title) && is_utf8(m.description) && is_utf8(m.filename) &&
              std::all_of(m.tags.begin(), m.tags.end(), [](const std::string& tag) { return is_utf8(tag); });
  if (!utf8) return fail(ErrorCode::invalid_argument, "title, description, tags and filename must be UTF-8");
  return m;
}

Result<db::Visibility> visibility_field(std::string_view text) {
  if (text.empty()) return db::Visibility::library;
  auto visibility = db::parse_visibility(text);
  if (!visibility) return fail(ErrorCode::invalid_argument, "visibility must be private, unlisted, library or public");
  return *visibility;
}

Result<IngestedVideo> Ingestor::ingest(StagedFile staged, const VideoMetadata& metadata) {
  // The same bytes again from the same person: they have this video; hand it back, store nothing.
  TRY(auto existing, database_.read(
                         [&](db::Connection& c) { return db::find_video_by_source(c, staged.sha256(), metadata.owner_id); }));
  if (existing) {
    spdlog::info("ingest: identical upload of video {} ({}), nothing stored", existing->id, staged.sha256());
    return IngestedVideo{std::move(*existing), 0, true};
  }
  TRY(media::MediaInfo info, probe_(staged.path()));
  RETURN_IF_ERROR(staged.durable());

  // Pinned from the move into the store until the row that refers to the object commits.
  auto pin = store_.pin();
  TRY(store::StoredObject object, store_.put_file(staged.path(), staged.sha256()));

  IngestedVideo result;
  auto now = db::now_ms();
  db::VideoRow& video = result.video;
  video.id = db::new_video_id();
  // Without a title given: the container's, else one made from the file's name
  // ("Holiday.2019.1080p.x264.mkv" → "Holiday (2019)"; "Untitled" without a name).
  video.title = !metadata.title.empty() ? metadata.title
                : !info.title.empty()   ? info.title
                                        : title_from_file_name(metadata.filename);
  video.description = metadata.description;
  video.tags = metadata.tags;
  video.state = db::VideoState::queued;
  video.source_sha256 = object.sha256;
  video.source_filename = metadata.filename;
  video.owner_id = metadata.owner_id;
  video.visibility = metadata.visibility;
  video.media_info_json = json_text(media::to_json(info));
  video.created_at_ms = now;
  video.updated_at_ms = now;

  auto recorded = database_.write([&](db::Connection& c) -> Result<std::int64_t> {
    RETURN_IF_ERROR(db::insert_object(c, {object.sha256, static_cast<std::int64_t>(object.size), "source"}));
    RETURN_IF_ERROR(db::insert_video(c, video));
    return db::enqueue_job(c, video.id, "transcode",
                           metadata.library_import ? db::JobPriority::library_import : db::JobPriority::person);
  });
  if (!recorded && recorded.error().code == ErrorCode::conflict) {
    // The same bytes were ingested by a concurrent request a moment ago (unique source).
    TRY(auto winner, database_.read(
                         [&](db::Connection& c) { return db::find_video_by_source(c, object.sha256, metadata.owner_id); }));
    if (winner) return IngestedVideo{std::move(*winner), 0, true};
  }
  // On failure the object is unreferenced (or was already): the next collection takes it.
  if (!recorded) return tl::unexpected(recorded.error());
  result.job_id = *recorded;
  if (job_queued_) job_queued_();
  spdlog::info("ingest: video {} '{}' stored as {} ({} bytes), job {} queued", video.id, video.title, object.sha256,
               object.size, result.job_id);
  return result;
}

}  // namespace cinevault::ingest
