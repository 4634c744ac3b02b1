// Rows of the objects table: which content-addressed objects exist and what refers to them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"
#include "cinevault/db/videos.hpp"

namespace cinevault::db {

struct ObjectRow {
  std::string sha256;
  std::int64_t size = 0;
  std::string kind;  // source, init, segment, image, text
};

// Records an object that is already durable on disk; a second insert of the same hash is a no-op.
Result<void> insert_object(Connection& c, const ObjectRow& object);
Result<bool> object_exists(Connection& c, const std::string& sha256);
// A use of an object by a video: as what ("source", "video-init", "audio-init", "segment", or
// a thumbnail's format: "jpeg", "webp", "vtt"), and who may watch that video.
struct ObjectUse {
  std::string use;
  std::string video_id;
  VideoAccess access;
};
// Up to `limit` uses; none when no video refers to the object (it belongs to a deleted video
// or version, or to nothing yet).
Result<std::vector<ObjectUse>> object_uses(Connection& c, const std::string& sha256, int limit);
// Deletes object rows that nothing refers to (view object_references) and returns their hashes.
Result<std::vector<std::string>> delete_unreferenced_objects(Connection& c);

}  // namespace cinevault::db
