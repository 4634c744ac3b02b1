// Which stored objects are served under /objects/, as what, and to whom. An object is served
// while a video's rows use it (its source, a rendition's init segment, a media segment, a
// thumbnail), to those who may watch that video (a source: who may manage it), with the
// content type of that use, never the URL's extension. Answers are remembered, so a hot
// segment costs no database query; forget_all() after any deletion or change of visibility
// makes each be looked up again, so a deleted or hidden video's objects stop at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cinevault/core/lru_map.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/db/database.hpp"
#include "cinevault/db/videos.hpp"

namespace cinevault::api {

struct ObjectUser {
  std::string video_id;
  db::VideoAccess access;
  const char* content_type = "application/octet-stream";
  bool source = false;  // the original upload: camera and GPS metadata live in it
};

// The videos that use an object (shared: the I/O thread's fast path copies no list).
struct ServedObject {
  std::shared_ptr<const std::vector<ObjectUser>> users;
};

class ObjectIndex {
 public:
  explicit ObjectIndex(std::size_t max_entries) : entries_(max_entries) {}

  // From memory only (the I/O thread's fast path); nullopt when not looked up yet.
  std::optional<ServedObject> find(std::string_view sha256);
  // From the database, remembered; nullopt when no video uses the object.
  Result<std::optional<ServedObject>> lookup(db::Database& database, const std::string& sha256);
  // After rows were deleted: nothing remembered stays, nor a lookup that was under way.
  void forget_all();

 private:
  // Looked up by the hash in the request path, without building a std::string.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };

  std::mutex mutex_;
  LruMap<std::string, ServedObject, Hash, std::equal_to<>> entries_;
  std::uint64_t generation_ = 0;  // forget_all() calls so far
};

}  // namespace cinevault::api
