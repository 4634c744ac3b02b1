#include "cinevault/api/object_index.hpp"

#include <string_view>

#include "cinevault/db/objects.hpp"

namespace cinevault::api {
namespace {

std::optional<ServedObject> served_as(std::string_view use) {
  if (use == "source") return ServedObject{"application/octet-stream", true};
  if (use == "video-init") return ServedObject{"video/mp4", false};
  if (use == "audio-init") return ServedObject{"audio/mp4", false};
  if (use == "segment") return ServedObject{"video/iso.segment", false};
  if (use == "jpeg") return ServedObject{"image/jpeg", false};
  if (use == "webp") return ServedObject{"image/webp", false};
  if (use == "vtt") return ServedObject{"text/vtt; charset=utf-8", false};
  return std::nullopt;  // a use this binary does not serve
}

}  // namespace

std::optional<ServedObject> ObjectIndex::find(std::string_view sha256) {
  std::lock_guard lock(mutex_);
  const ServedObject* found = entries_.find(sha256);
  return found ? std::optional<ServedObject>(*found) : std::nullopt;
}

Result<std::optional<ServedObject>> ObjectIndex::lookup(db::Database& database, const std::string& sha256) {
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    generation = generation_;
  }
  TRY(auto use, database.read([&](db::Connection& c) { return db::object_use(c, sha256); }));
  std::optional<ServedObject> served = use ? served_as(*use) : std::nullopt;
  if (served) {
    std::lock_guard lock(mutex_);
    // Rows deleted while we looked: what we read may be gone, so it is not remembered.
    if (generation == generation_) entries_.insert_or_assign(sha256, *served);
  }
  return served;
}

void ObjectIndex::forget_all() {
  std::lock_guard lock(mutex_);
  ++generation_;
  entries_.clear();
}

}  // namespace cinevault::api
