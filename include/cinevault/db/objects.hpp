// Rows of the objects table: which content-addressed objects exist and what refers to them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"

namespace cinevault::db {

struct ObjectRow {
  std::string sha256;
  std::int64_t size = 0;
  std::string kind;  // source, init, segment, image, text
};

// Records an object that is already durable on disk; a second insert of the same hash is a no-op.
Result<void> insert_object(Connection& c, const ObjectRow& object);
Result<bool> object_exists(Connection& c, const std::string& sha256);
// What a video's rows use the object as, or nullopt when no video refers to it (it belongs to a
// deleted video or version, or to nothing yet): "source", "video-init", "audio-init",
// "segment", or a thumbnail's format ("jpeg", "webp", "vtt").
Result<std::optional<std::string>> object_use(Connection& c, const std::string& sha256);
// Deletes object rows that nothing refers to (view object_references) and returns their hashes.
Result<std::vector<std::string>> delete_unreferenced_objects(Connection& c);

}  // namespace cinevault::db
