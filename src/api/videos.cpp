#include <ctime>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cinevault/api/api.hpp"
#include "cinevault/api/request_parsing.hpp"
#include "cinevault/core/parse.hpp"
#include "cinevault/db/progress.hpp"
#include "cinevault/db/versions.hpp"
#include "cinevault/ingest/multipart.hpp"
#include "cinevault/ingest/staging.hpp"
#include "common.hpp"

namespace cinevault::api {
namespace {

using nlohmann::json;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 200;
constexpr std::size_t kMaxFormField = 64 * 1024;

http::Response ingested_response(const Result<ingest::IngestedVideo>& ingested) {
  if (!ingested) return http::error_response(ingested.error());
  json body = video_json(ingested->video, Audience::manager);
  body["duplicate"] = ingested->duplicate;
  auto response = http::json_response(ingested->duplicate ? 200 : 201, body);
  response.set(http::beast_http::field::location, "/api/v1/videos/" + ingested->video.id);
  return response;
}

// A one-shot upload claims its Content-Length before the first byte is read (507 when the
// disk, less its reserve, cannot take it); a chunked body claims as it arrives.
Result<ingest::UploadBudget::Claim> claim_body(ApiContext& context, const http::RequestContext& request) {
  auto declared = parse_integer<std::uint64_t>(request.header_value(http::beast_http::field::content_length));
  return context.upload_budget.claim(std::to_string(request.principal->user_id), declared.value_or(0), false);
}

// PUT /api/v1/videos?title=…: the raw body is the file.
class RawUploadSink final : public http::BodySink {
 public:
  RawUploadSink(ingest::StagingWriter writer, ingest::UploadBudget::Claim claim)
      : writer(std::move(writer)), claim_(std::move(claim)) {}
  Result<void> write(const char* data, std::size_t size) override {
    RETURN_IF_ERROR(claim_.arrived(size));
    return writer.write(data, size);
  }
  bool should_wait_for_disk() const override { return writer.should_wait_for_disk(); }
  Result<void> wait_for_disk() override { return writer.wait_for_disk(); }
  ingest::StagingWriter writer;

 private:
  ingest::UploadBudget::Claim claim_;
};

// POST /api/v1/videos, multipart/form-data: a `file` part and optional title, description, tags.
class MultipartUploadSink final : public http::BodySink {
 public:
  MultipartUploadSink(std::string boundary, ingest::StagingWriter writer, ingest::UploadBudget::Claim claim,
                      std::string default_visibility)
      : writer_(std::move(writer)),
        claim_(std::move(claim)),
        parser_(std::move(boundary), {[this](const ingest::PartHeader& part) { return begin(part); },
                                      [this](const char* data, std::size_t size) { return data_of_part(data, size); },
                                      [this]() -> Result<void> { current_ = nullptr; return {}; }}) {
    fields_["visibility"] = std::move(default_visibility);
  }

  Result<void> write(const char* data, std::size_t size) override { return parser_.feed(data, size); }
  bool should_wait_for_disk() const override { return writer_.should_wait_for_disk(); }
  Result<void> wait_for_disk() override { return writer_.wait_for_disk(); }

  Result<ingest::VideoMetadata> finish_form() {
    RETURN_IF_ERROR(parser_.finish());
    if (!has_file_) return fail(ErrorCode::invalid_argument, "the form has no 'file' part");
    ingest::VideoMetadata metadata;
    metadata.title = fields_["title"];
    metadata.description = fields_["description"];
    metadata.tags = ingest::split_tags(fields_["tags"]);
    metadata.filename = filename_;
    TRY(metadata.visibility, ingest::visibility_field(fields_["visibility"]));
    return metadata;
  }

  ingest::StagingWriter& writer() { return writer_; }

 private:
  Result<void> begin(const ingest::PartHeader& part) {
    if (part.name == "file") {
      if (has_file_) return fail(ErrorCode::invalid_argument, "the form has more than one 'file' part");
      has_file_ = true;
      filename_ = part.filename;
      current_ = nullptr;
      in_file_ = true;
      return {};
    }
    in_file_ = false;
    if (part.name != "title" && part.name != "description" && part.name != "tags" && part.name != "visibility")
      return fail(ErrorCode::invalid_argument,
                  "unknown form field: the form takes file, title, description, tags and visibility");
    current_ = &fields_[part.name];
    current_->clear();
    return {};
  }

  Result<void> data_of_part(const char* data, std::size_t size) {
    if (in_file_ && !current_) {
      RETURN_IF_ERROR(claim_.arrived(size));
      return writer_.write(data, size);
    }
    if (current_->size() + size > kMaxFormField) return fail(ErrorCode::too_large, "a form field is longer than 64 KiB");
    current_->append(data, size);
    return {};
  }

  ingest::StagingWriter writer_;
  ingest::UploadBudget::Claim claim_;
  ingest::MultipartParser parser_;
  std::map<std::string, std::string> fields_;
  std::string* current_ = nullptr;
  bool in_file_ = false;
  bool has_file_ = false;
  std::string filename_;
};

// Posters by width (JPEG and WebP of each) and the trickplay track; null until made.
// `query` goes on every URL ("?share=…" for a request through a share link).
json thumbnails_json(const std::vector<db::ThumbnailRow>& rows, const std::string& query) {
  json posters = json::array();
  json trickplay = nullptr;
  for (const auto& row : rows) {
    if (row.kind == "trickplay") {
      trickplay = "/objects/" + row.sha256 + ".vtt" + query;
    } else if (row.kind == "poster") {
      if (posters.empty() || posters.back()["width"] != row.width)
        posters.push_back({{"width", row.width}, {"height", row.height}});
      posters.back()[row.format] = "/objects/" + row.sha256 + (row.format == "jpeg" ? ".jpg" : ".webp") + query;
    }
  }
  if (posters.empty() && trickplay.is_null()) return nullptr;
  return {{"poster", posters}, {"trickplay", trickplay}};
}

// Where the signed-in requester stopped watching; null when they never played it. Absent for
// anonymous requests and share links.
void add_progress(json& body, const http::RequestContext& request, const db::WatchProgress* progress) {
  if (!request.principal) return;
  body["progress"] = progress ? json{{"position_s", progress->position_s}, {"updated_at", iso8601_utc(progress->updated_at_ms)}}
                              : json(nullptr);
}

// The video with what a viewer needs now: where to play it, and how its transcode is going.
json video_with_status(const db::VideoRow& video, const db::PublishedVersion* published, const db::Job* job,
                       const http::RequestContext& request) {
  const Audience audience = audience_of(request, video.owner_id);
  const std::string query = share_query(request);
  json body = video_json(video, audience);
  if (published) {
    body["playback"] = {{"hls", "/videos/" + video.id + "/master.m3u8" + query},
                        {"dash", "/videos/" + video.id + "/manifest.mpd" + query},
                        {"version", published->number},
                        {"complete", published->state == db::VersionState::complete}};
  } else {
    body["playback"] = nullptr;
  }
  body["thumbnails"] = published ? thumbnails_json(published->thumbnails, query) : json(nullptr);
  body["job"] = job ? job_json(*job, audience) : json(nullptr);
  return body;
}

// One video as GET /api/v1/videos/{id} shows it: with the requester's watch progress.
Result<json> video_with_status(ApiContext& context, const db::VideoRow& video, const http::RequestContext& request) {
  TRY(auto published, context.database.read([&](db::Connection& c) { return db::published_version_summary(c, video.id); }));
  TRY(auto job, context.jobs.latest_for_video(video.id));
  json body = video_with_status(video, published ? &*published : nullptr, job ? &*job : nullptr, request);
  if (request.principal) {
    TRY(auto progress, context.database.read(
                           [&](db::Connection& c) { return db::find_progress(c, request.principal->user_id, video.id); }));
    add_progress(body, request, progress ? &*progress : nullptr);
  }
  return body;
}

// A share link's lifetime from {"expires_in_s": n} (an empty body: 7 days).
Result<std::int64_t> share_lifetime(const std::string& body) {
  constexpr std::int64_t kDefault = 7 * 86400, kShortest = 60, kLongest = 366 * 86400;
  if (body.empty()) return kDefault;
  json document = json::parse(body, nullptr, false);
  if (!document.is_object()) return fail(ErrorCode::invalid_argument, "the body must be a JSON object");
  auto it = document.find("expires_in_s");
  if (it == document.end()) return kDefault;
  if (!it->is_number_integer() || it->get<std::int64_t>() < kShortest || it->get<std::int64_t>() > kLongest)
    return fail(ErrorCode::invalid_argument, "expires_in_s must be a whole number of seconds from 60 to a year");
  return it->get<std::int64_t>();
}

Result<int> page_size(const http::RequestContext& request) {
  auto text = request.query_value("limit");
  if (!text) return kDefaultPageSize;
  auto limit = parse_integer<int>(*text);
  if (limit && *limit >= 1 && *limit <= kMaxPageSize) return *limit;
  return fail(ErrorCode::invalid_argument, "limit must be a number from 1 to 200");
}

}  // namespace

std::string iso8601_utc(std::int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, unix_ms % 1000);
}

json video_json(const db::VideoRow& video, Audience audience) {
  json media = json::parse(video.media_info_json, nullptr, false);
  json out = {{"id", video.id},
              {"title", video.title},
              {"description", video.description},
              {"tags", video.tags},
              {"state", db::to_string(video.state)},
              {"owner", {{"id", video.owner_id}, {"name", video.owner_name}}},
              {"visibility", db::to_string(video.visibility)},
              {"media", media.is_discarded() ? json::object() : media},
              {"recorded_at", nullptr},
              {"created_at", iso8601_utc(video.created_at_ms)},
              {"updated_at", iso8601_utc(video.updated_at_ms)}};
  // When the camera says it was recorded (the container's date tags, in UTC).
  if (media.is_object() && media.contains("recorded_at") && media["recorded_at"].is_string())
    out["recorded_at"] = media["recorded_at"];
  if (audience == Audience::manager)
    out["source"] = {{"sha256", video.source_sha256}, {"filename", video.source_filename}};
  return out;
}

void add_video_routes(ApiContext& context, std::vector<http::Route>& routes) {
  const auto max_upload = static_cast<std::uint64_t>(context.config.uploads.max_upload_bytes);

  routes.push_back({http::Verb::get, "/api/v1/videos", [&context](http::RequestContext& request) -> http::Response {
                      auto limit = page_size(request);
                      if (!limit) return http::error_response(limit.error());
                      // The page, the published versions of its videos in one query, then their
                      // latest jobs in one more.
                      struct Listed {
                        db::VideoPage page;
                        std::vector<std::string> ids;
                        std::map<std::string, db::PublishedVersion> published;
                        std::map<std::string, db::WatchProgress> progress;
                      };
                      auto listed = context.database.read([&](db::Connection& c) -> Result<Listed> {
                        TRY(auto page, db::list_videos(c, list_scope(request), *limit, request.query_value("cursor"),
                                                       request.query_value("q").value_or("")));
                        std::vector<std::string> ids;
                        for (auto& video : page.videos) ids.push_back(video.id);
                        TRY(auto published, db::published_version_summaries(c, ids));
                        std::map<std::string, db::WatchProgress> progress;
                        if (request.principal) {
                          TRY(progress, db::progress_in(c, request.principal->user_id, ids));
                        }
                        return Listed{std::move(page), std::move(ids), std::move(published), std::move(progress)};
                      });
                      if (!listed) return http::error_response(listed.error());
                      const db::VideoPage& page = listed->page;
                      auto jobs = context.jobs.latest_for_videos(listed->ids);
                      if (!jobs) return http::error_response(jobs.error());
                      json videos = json::array();
                      for (auto& video : page.videos) {
                        auto published = listed->published.find(video.id);
                        auto job = jobs->find(video.id);
                        json entry = video_with_status(video, published == listed->published.end() ? nullptr : &published->second,
                                                       job == jobs->end() ? nullptr : &job->second, request);
                        auto progress = listed->progress.find(video.id);
                        add_progress(entry, request, progress == listed->progress.end() ? nullptr : &progress->second);
                        videos.push_back(std::move(entry));
                      }
                      json body = {{"videos", videos}, {"total", page.total}};
                      body["next_cursor"] = page.next_cursor ? json(*page.next_cursor) : json(nullptr);
                      return http::json_response(200, body);
                    }});

  routes.push_back({http::Verb::get, "/api/v1/videos/{}", [&context](http::RequestContext& request) -> http::Response {
                      auto video = watchable_video(context, request);
                      if (!video) return http::error_response(video.error());
                      auto body = video_with_status(context, *video, request);
                      if (!body) return http::error_response(body.error());
                      return http::json_response(200, *body);
                    }});

  routes.push_back({http::Verb::patch, "/api/v1/videos/{}",
                    [&context](http::RequestContext& request) -> http::Response {
                      auto patch = parse_video_patch(request.body);
                      if (!patch) return http::error_response(patch.error());
                      if (auto managed = managed_video(context, request); !managed)
                        return http::error_response(managed.error());
                      auto updated = context.database.write([&](db::Connection& c) -> Result<std::optional<db::VideoRow>> {
                        TRY(bool found, db::update_video(c, request.params[0], *patch));
                        if (!found) return std::optional<db::VideoRow>();
                        return db::find_video(c, request.params[0]);
                      });
                      if (!updated) return http::error_response(updated.error());
                      if (!*updated) return http::error_response({ErrorCode::not_found, "no such video"});
                      // Who may watch it changed: remembered answers about its objects go.
                      if (patch->visibility) context.objects.forget_all();
                      return http::json_response(200, video_json(**updated, Audience::manager));
                    },
                    http::Access::user, http::BodyKind::text});

  routes.push_back({http::Verb::delete_, "/api/v1/videos/{}",
                    [&context](http::RequestContext& request) -> http::Response {
                      if (auto managed = managed_video(context, request); !managed)
                        return http::error_response(managed.error());
                      auto deleted = context.database.write([&](db::Connection& c) { return db::delete_video(c, request.params[0]); });
                      if (!deleted) return http::error_response(deleted.error());
                      if (!*deleted) return http::error_response({ErrorCode::not_found, "no such video"});
                      context.objects.forget_all();  // its objects are no longer served, from now
                      spdlog::info("video {} deleted; its objects' files go at the next collection", request.params[0]);
                      return http::empty_response(204);
                    },
                    http::Access::user});

  // curl -T movie.mp4 '…/api/v1/videos?title=…'
  routes.push_back({http::Verb::put, "/api/v1/videos",
                    [&context](http::RequestContext& request) -> http::Response {
                      auto& sink = static_cast<RawUploadSink&>(*request.sink);
                      if (sink.writer.size() == 0) return http::error_response({ErrorCode::invalid_argument, "the upload is empty"});
                      ingest::VideoMetadata metadata{request.query_value("title").value_or(""),
                                                     request.query_value("description").value_or(""),
                                                     ingest::split_tags(request.query_value("tags").value_or("")),
                                                     request.query_value("filename").value_or("")};
                      auto visibility = ingest::visibility_field(
                          request.query_value("visibility").value_or(context.config.uploads.default_visibility));
                      if (!visibility) return http::error_response(visibility.error());
                      metadata.visibility = *visibility;
                      metadata.owner_id = request.principal->user_id;
                      auto normalized = ingest::normalize_metadata(std::move(metadata));
                      if (!normalized) return http::error_response(normalized.error());
                      return ingested_response(sink.writer.finish().and_then([&](ingest::StagedFile staged) {
                        return context.ingestor.ingest(std::move(staged), *normalized);
                      }));
                    },
                    http::Access::upload, http::BodyKind::stream, max_upload,
                    [&context, max_upload](http::RequestContext& request) -> Result<std::unique_ptr<http::BodySink>> {
                      TRY(auto claim, claim_body(context, request));
                      TRY(auto writer, ingest::StagingWriter::create(context.store.temp_dir(), max_upload));
                      return std::unique_ptr<http::BodySink>(new RawUploadSink(std::move(writer), std::move(claim)));
                    }});

  // curl -F file=@movie.mp4 -F title=… …/api/v1/videos
  routes.push_back({http::Verb::post, "/api/v1/videos",
                    [&context](http::RequestContext& request) -> http::Response {
                      auto& sink = static_cast<MultipartUploadSink&>(*request.sink);
                      auto metadata = sink.finish_form().and_then(
                          [](ingest::VideoMetadata m) { return ingest::normalize_metadata(std::move(m)); });
                      if (!metadata) return http::error_response(metadata.error());
                      metadata->owner_id = request.principal->user_id;
                      if (sink.writer().size() == 0) return http::error_response({ErrorCode::invalid_argument, "the file is empty"});
                      return ingested_response(sink.writer().finish().and_then([&](ingest::StagedFile staged) {
                        return context.ingestor.ingest(std::move(staged), *metadata);
                      }));
                    },
                    http::Access::upload, http::BodyKind::stream, max_upload + (1 << 20),
                    [&context, max_upload](http::RequestContext& request) -> Result<std::unique_ptr<http::BodySink>> {
                      TRY(auto boundary, ingest::MultipartParser::boundary_of(
                                             request.header_value(http::beast_http::field::content_type)));
                      TRY(auto claim, claim_body(context, request));
                      TRY(auto writer, ingest::StagingWriter::create(context.store.temp_dir(), max_upload));
                      return std::unique_ptr<http::BodySink>(
                          new MultipartUploadSink(std::move(boundary), std::move(writer), std::move(claim),
                                                  context.config.uploads.default_visibility));
                    }});

  // A link that plays the video in any player, without signing in, until it expires.
  routes.push_back({http::Verb::post, "/api/v1/videos/{}/share",
                    [&context](http::RequestContext& request) -> http::Response {
                      auto video = managed_video(context, request);
                      if (!video) return http::error_response(video.error());
                      auto expires_in = share_lifetime(request.body);
                      if (!expires_in) return http::error_response(expires_in.error());
                      const std::int64_t expires_at_s = db::now_ms() / 1000 + *expires_in;
                      const std::string query = "?share=" + context.share_links.sign(video->id, expires_at_s);
                      // The Host the request was addressed to (the server allows only its own names).
                      const std::string origin = (context.config.auth.behind_tls ? "https://" : "http://") +
                                                 std::string(request.header_value(http::beast_http::field::host));
                      return http::json_response(201, {{"hls", origin + "/videos/" + video->id + "/master.m3u8" + query},
                                                       {"dash", origin + "/videos/" + video->id + "/manifest.mpd" + query},
                                                       {"watch", origin + "/watch/" + video->id + query},
                                                       {"expires_at", iso8601_utc(expires_at_s * 1000)}});
                    },
                    http::Access::user, http::BodyKind::text, 4096});

  // Where the user stopped watching, for any of their devices to resume there.
  routes.push_back({http::Verb::put, "/api/v1/videos/{}/progress",
                    [&context](http::RequestContext& request) -> http::Response {
                      auto video = watchable_video(context, request);
                      if (!video) return http::error_response(video.error());
                      json body = json::parse(request.body, nullptr, false);
                      auto position = body.is_object() ? body.find("position_s") : body.end();
                      if (position == body.end() || !position->is_number() || !(position->get<double>() >= 0) ||
                          position->get<double>() > 1e7)
                        return http::error_response({ErrorCode::invalid_argument, "send {\"position_s\": seconds from the start}"});
                      auto saved = context.database.write([&](db::Connection& c) {
                        return db::save_progress(c, request.principal->user_id, video->id, position->get<double>());
                      });
                      if (!saved) return http::error_response(saved.error());
                      return http::empty_response(204);
                    },
                    http::Access::user, http::BodyKind::text, 1024});

  // "Continue watching": what the user started and did not finish, most recent first.
  routes.push_back({http::Verb::get, "/api/v1/progress",
                    [&context](http::RequestContext& request) -> http::Response {
                      auto limit = page_size(request);
                      if (!limit) return http::error_response(limit.error());
                      auto recent = context.database.read([&](db::Connection& c) {
                        return db::recent_progress(c, request.principal->user_id, *limit * 2);
                      });
                      if (!recent) return http::error_response(recent.error());
                      json videos = json::array();
                      for (const db::WatchProgress& progress : *recent) {
                        if (static_cast<int>(videos.size()) >= *limit) break;
                        auto video = context.database.read([&](db::Connection& c) { return db::find_video(c, progress.video_id); });
                        if (!video) return http::error_response(video.error());
                        if (!*video || !may_watch(context, request, (*video)->id, {(*video)->owner_id, (*video)->visibility}))
                          continue;
                        json media = json::parse((*video)->media_info_json, nullptr, false);
                        double duration = media.is_object() ? media.value("duration_s", 0.0) : 0.0;
                        if (duration > 0 && progress.position_s >= 0.95 * duration) continue;  // finished
                        auto body = video_with_status(context, **video, request);
                        if (!body) return http::error_response(body.error());
                        videos.push_back(std::move(*body));
                      }
                      return http::json_response(200, {{"videos", videos}});
                    },
                    http::Access::user});
}

}  // namespace cinevault::api
