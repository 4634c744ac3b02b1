// POST /api/v1/library/imports: an admin asks the daemon to import one file of a library
// folder on this machine (cinevault import sends each file it finds here when a daemon runs).
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cinevault/core/text.hpp"
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

}  // namespace

void add_library_routes(ApiContext& context, std::vector<http::Route>& routes) {
  routes.push_back({http::Verb::post, "/api/v1/library/imports",
                    [&context](http::RequestContext& request) { return import_file(context, request); },
                    http::Access::admin, http::BodyKind::text, 16384});
}

}  // namespace cinevault::api
