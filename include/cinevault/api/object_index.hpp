// Which stored objects are served under /objects/, and as what. An object is served while a
// video's rows use it (its source, a rendition's init segment, a media segment, a thumbnail),
// with the content type of that use, never the URL's extension; a source only to key holders.
// Answers are remembered, so a hot segment costs no database query; forget_all() after any
// deletion makes each be looked up again, so a deleted video's objects stop at once.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "cinevault/core/lru_map.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/db/database.hpp"

namespace cinevault::api {

struct ServedObject {
  const char* content_type = "application/octet-stream";
  bool needs_key = false;  // the original upload: camera and GPS metadata live in it
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
