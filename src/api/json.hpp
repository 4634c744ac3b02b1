// JSON views of database rows, shared by the API's route files.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "cinevault/db/videos.hpp"

namespace cinevault::api {

std::string iso8601_utc(std::int64_t unix_ms);
nlohmann::json video_json(const db::VideoRow& video);

}  // namespace cinevault::api
