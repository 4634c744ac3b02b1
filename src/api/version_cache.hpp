// Versions as players read them, kept in memory: a version's renditions and segments (in
// the manifest stage's form) and the manifests rendered from them. An entry is good while the version's
// stamp (state, updated_at) is unchanged, so a request costs one indexed query instead of
// reading every segment row and rendering again. Bounded by the segment rows it holds.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cinevault/core/lru_map.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/db/versions.hpp"
#include "cinevault/db/videos.hpp"
#include "cinevault/manifest/manifest.hpp"

namespace cinevault::api {

struct RenderedManifest {
  std::string text;
  std::string etag;  // strong, quoted
};

class CachedVersion {
 public:
  CachedVersion(db::VersionStamp stamp, manifest::Version version)
      : stamp(std::move(stamp)), version(std::move(version)) {}
  const db::VersionStamp stamp;
  const manifest::Version version;
  bool complete() const { return stamp.state == db::VersionState::complete; }

  // The manifest `name` rendered once by `render`; failures are not kept (a rendition
  // without its first segment yet becomes renderable later).
  Result<std::shared_ptr<const RenderedManifest>> manifest(const std::string& name,
                                                           const std::function<Result<std::string>()>& render) const;
  // Whether `name` was rendered already (answering it costs no rendering).
  bool has_manifest(const std::string& name) const;

 private:
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<const RenderedManifest>> rendered_;
};

// How a request names a version: the video id and the version part of its path, "v<n>" for
// a numbered version or empty for the published one. Views into the request.
struct VersionName {
  std::string_view video_id;
  std::string_view number;
  bool operator==(const VersionName&) const = default;
};

class VersionCache {
 public:
  explicit VersionCache(std::size_t max_segments) : entries_(max_segments) {}
  std::shared_ptr<const CachedVersion> find(const db::VersionStamp& stamp);
  // Keeps `version` under `stamp` and returns it; evicts the least recently used entries
  // beyond the bound.
  std::shared_ptr<const CachedVersion> insert(db::VersionStamp stamp, manifest::Version version);

  // Names a cached version as what `name` was when the database was at `generation`, with
  // who could watch its video then.
  void name(VersionName name, const std::shared_ptr<const CachedVersion>& version, std::uint64_t generation,
            db::VideoAccess access = {});
  // The version `name` was named for, while the database is still at that generation (no
  // write since, so it is still that version, unchanged, and its video's owner and
  // visibility too: into *access) and the cache still holds that copy. nullptr otherwise.
  // Allocates nothing (the I/O thread's fast path calls it).
  std::shared_ptr<const CachedVersion> find_named(VersionName name, std::uint64_t generation,
                                                  db::VideoAccess* access = nullptr);

 private:
  std::mutex mutex_;
  // By version id, each weighing its segment count.
  LruMap<std::int64_t, std::shared_ptr<const CachedVersion>> entries_;
  struct Naming {
    std::weak_ptr<const CachedVersion> version;
    std::uint64_t generation = 0;
    db::VideoAccess access;
  };
  struct NameKey {
    std::string video_id;
    std::string number;
    operator VersionName() const { return {video_id, number}; }
  };
  // Transparent: a lookup by VersionName builds no NameKey.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(VersionName name) const;
  };
  struct NameEqual {
    using is_transparent = void;
    bool operator()(VersionName a, VersionName b) const { return a == b; }
  };
  std::unordered_map<NameKey, Naming, NameHash, NameEqual> names_;
};

}  // namespace cinevault::api
