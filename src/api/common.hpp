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
// Who asks. An anonymous reader sees what plays; a key holder also sees the original upload
// (its camera and GPS metadata) and job log tails (server paths).
enum class Audience { anonymous, key_holder };
Audience audience_of(const http::RequestContext& request);
nlohmann::json video_json(const db::VideoRow& video, Audience audience);
nlohmann::json job_json(const db::Job& job, Audience audience);

// The bytes of a stored object with ETag, Range, 304 (objects.cpp); the hash must be valid.
http::Response object_response(ApiContext& context, const http::RequestContext& request, const std::string& sha256,
                               const char* content_type);
// Lets players on other origins read the response.
void set_cors(http::Response& response);

}  // namespace cinevault::api
