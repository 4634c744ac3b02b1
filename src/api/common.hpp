// What the API's route files share: JSON views of rows, object responses, CORS.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "cinevault/api/api.hpp"
#include "cinevault/db/videos.hpp"
#include "cinevault/pipeline/job_queue.hpp"

namespace cinevault::api {

std::string iso8601_utc(std::int64_t unix_ms);
// Who may see and change what (access.cpp). A video that a request may not watch is answered
// 404, as one that does not exist.
bool may_watch(const ApiContext& context, const http::RequestContext& request, std::string_view video_id,
               const db::VideoAccess& video);
// Its owner and admins edit, share and delete a video, and see its source and job logs.
bool may_manage(const http::RequestContext& request, std::int64_t owner_id);
db::ListScope list_scope(const http::RequestContext& request);
// The video params[0] names, when the request may watch it; not_found otherwise, as for none.
Result<db::VideoRow> watchable_video(ApiContext& context, const http::RequestContext& request);
// ... and may change it; forbidden for someone who may only watch it.
Result<db::VideoRow> managed_video(ApiContext& context, const http::RequestContext& request);
// "?share=…" when the request came through a share link, for the URLs its answer names; "".
std::string share_query(const http::RequestContext& request);

// Who asks. A viewer sees what plays; a manager (the owner, an admin) also sees the original
// upload (its camera and GPS metadata) and job log tails (server paths).
enum class Audience { viewer, manager };
Audience audience_of(const http::RequestContext& request, std::int64_t owner_id);
nlohmann::json video_json(const db::VideoRow& video, Audience audience);
nlohmann::json job_json(const db::Job& job, Audience audience);

// The bytes of a stored object with ETag, Range, 304 (objects.cpp); the hash must be valid.
http::Response object_response(ApiContext& context, const http::RequestContext& request, std::string_view sha256,
                               const char* content_type);
// Lets players on other origins read the response.
void set_cors(http::Response& response);
// An object response that credentials or a share link opened: browsers may keep it, shared
// caches (proxies, CDNs) may not.
void keep_out_of_shared_caches(http::Response& response);

}  // namespace cinevault::api
