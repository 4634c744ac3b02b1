#include "cinevault/api/object_index.hpp"

#include <string_view>

#include "cinevault/db/objects.hpp"

namespace cinevault::api {
namespace {

// Enough to find one a request may watch: an object is shared by a few videos at most.
constexpr int kMaxUsers = 16;

const char* content_type_of(std::string_view use) {
  if (use == "source") return "application/octet-stream";
  if (use == "video-init") return "video/mp4";
  if (use == "audio-init") return "audio/mp4";
  if (use == "segment") return "video/iso.segment";
  if (use == "jpeg") return "image/jpeg";
  if (use == "webp") return "image/webp";
  if (use == "vtt") return "text/vtt; charset=utf-8";
  return nullptr;  // a use this binary does not serve
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
  TRY(auto uses, database.read([&](db::Connection& c) { return db::object_uses(c, sha256, kMaxUsers); }));
  auto users = std::make_shared<std::vector<ObjectUser>>();
  for (db::ObjectUse& use : uses)
    if (const char* type = content_type_of(use.use))
      users->push_back({std::move(use.video_id), use.access, type, use.use == "source"});
  std::optional<ServedObject> served;
  if (!users->empty()) served = ServedObject{std::move(users)};
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
