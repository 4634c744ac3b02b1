// POST /api/v1/library/imports: an admin asks the daemon to import one file of a library
// folder on this machine (cinevault import sends each file it finds here when a daemon runs).
// GET /api/v1/library/status: how far the transcodes of imported files are, and how long the
// rest will take.
#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cinevault/core/hour_window.hpp"
#include "cinevault/core/text.hpp"
#include "cinevault/db/jobs.hpp"
#include "cinevault/db/users.hpp"
#include "common.hpp"

namespace cinevault::api {
namespace {

using json = nlohmann::json;

unsigned status_of(ingest::ImportOutcome outcome) {
  switch (outcome) {
    case ingest::ImportOutcome::added: return 201;
    case ingest::ImportOutcome::duplicate:
    case ingest::ImportOutcome::unchanged: return 200;
    case ingest::ImportOutcome::busy: return 409;
    case ingest::ImportOutcome::refused: return 422;
  }
  return 422;
}

http::Response import_file(ApiContext& context, const http::RequestContext& request) {
  json document = json::parse(request.body, nullptr, false);
  const char* usage = "send {\"path\": \"/absolute/file\"} (and optionally \"root\", \"folder_tags\", \"visibility\", \"owner\")";
  if (!document.is_object() || !document.contains("path") || !document["path"].is_string())
    return http::error_response({ErrorCode::invalid_argument, usage});
  for (const char* key : {"root", "visibility", "owner"})
    if (document.contains(key) && !document[key].is_string()) return http::error_response({ErrorCode::invalid_argument, usage});
  if (document.contains("folder_tags") && !document["folder_tags"].is_boolean())
    return http::error_response({ErrorCode::invalid_argument, usage});
  // Paths are bytes on Linux; JSON carries UTF-8 only, so a name that is not UTF-8 cannot be
  // sent (cinevault import reports it as refused).
  const std::string path = document["path"].get<std::string>();
  const std::string root = document.value("root", std::string());
  if (path.empty() || path.front() != '/' || path.find('\0') != std::string::npos || path.size() > 4096 ||
      (!root.empty() && (root.front() != '/' || root.find('\0') != std::string::npos || root.size() > 4096)))
    return http::error_response({ErrorCode::invalid_argument, "path and root must be absolute paths"});
  auto visibility = ingest::visibility_field(document.value("visibility", context.config.uploads.default_visibility));
  if (!visibility) return http::error_response(visibility.error());

  // An admin imports for themselves, or for another user named by "owner".
  std::int64_t owner_id = request.principal->user_id;
  if (document.contains("owner")) {
    auto owner = context.database.read([&](db::Connection& c) { return db::find_user(c, document["owner"].get<std::string>()); });
    if (!owner) return http::error_response(owner.error());
    if (!*owner) return http::error_response({ErrorCode::invalid_argument, "owner: no such user"});
    owner_id = (*owner)->id;
  }
  ingest::ImportRequest import{path, root, owner_id, *visibility,
                               document.value("folder_tags", context.config.library.folder_tags)};
  ingest::ImportResult result = context.importer.import_file(import);
  json answer = {{"outcome", ingest::to_string(result.outcome)}, {"bytes", result.bytes}};
  if (result.method) answer["stored_as"] = ingest::to_string(*result.method);
  if (!result.video_id.empty()) {
    auto video = context.database.read([&](db::Connection& c) { return db::find_video(c, result.video_id); });
    if (video && *video) answer["video"] = video_json(**video, Audience::manager);
  }
  const unsigned status = status_of(result.outcome);
  if (status >= 400)
    answer["error"] = {{"code", result.outcome == ingest::ImportOutcome::busy ? "conflict" : "unprocessable"},
                       {"message", result.reason}};
  return http::json_response(status, answer);
}

// The speed of recent transcodes is that of imports finished within this long; a running
// one's own says little before it has run a while.
constexpr std::int64_t kRecentMs = 3'600'000;
constexpr double kMinRunningWallS = 10;

http::Response import_status(ApiContext& context) {
  const std::int64_t now = db::now_ms();
  auto summary =
      context.database.read([&](db::Connection& c) { return db::summarize_import_jobs(c, now, now - kRecentMs); });
  if (!summary) return http::error_response(summary.error());
  // Media seconds one job transcodes per second: the imports finished in the last hour, else
  // the running ones so far.
  std::optional<double> speed;
  if (summary->recent_media_s > 0 && summary->recent_wall_s > 0)
    speed = summary->recent_media_s / summary->recent_wall_s;
  else if (summary->running_media_s > 0 && summary->running_wall_s >= kMinRunningWallS)
    speed = summary->running_media_s / summary->running_wall_s;
  const std::int64_t pending = summary->queued + summary->running;
  json eta = nullptr;
  if (pending == 0) {
    eta = 0;
  } else if (speed && context.config.pipeline.concurrent_jobs > 0) {
    // As many at once as there are workers (and imports to keep them busy).
    const double parallel = static_cast<double>(std::min<std::int64_t>(context.config.pipeline.concurrent_jobs, pending));
    eta = std::round(summary->remaining_media_s / (*speed * parallel));
  }

  json hours = nullptr, paused_until = nullptr;
  if (auto window = parse_hour_window(context.config.library.hours); window && *window) {
    hours = (*window)->text();
    const auto at = std::chrono::system_clock::time_point(std::chrono::milliseconds(now));
    if (!(*window)->open_at(at)) {
      auto opens = std::chrono::duration_cast<std::chrono::milliseconds>((*window)->next_opening(at).time_since_epoch());
      paused_until = iso8601_utc(opens.count());
    }
  }
  return http::json_response(200, {{"imports",
                                     {{"queued", summary->queued},
                                      {"running", summary->running},
                                      {"done", summary->done},
                                      {"failed", summary->failed}}},
                                    {"remaining_media_s", std::round(summary->remaining_media_s * 10) / 10},
                                    {"eta_s", eta},
                                    {"hours", hours},
                                    {"paused_until", paused_until}});
}

}  // namespace

void add_library_routes(ApiContext& context, std::vector<http::Route>& routes) {
  routes.push_back({http::Verb::post, "/api/v1/library/imports",
                    [&context](http::RequestContext& request) { return import_file(context, request); },
                    http::Access::admin, http::BodyKind::text, 16384});
  routes.push_back({http::Verb::get, "/api/v1/library/status",
                    [&context](http::RequestContext&) { return import_status(context); }, http::Access::admin});
}

}  // namespace cinevault::api
