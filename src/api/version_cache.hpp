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
#include <unordered_map>

#include "cinevault/core/lru_map.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/db/versions.hpp"
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
  bool complete() const { return stamp.state == "complete"; }

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

class VersionCache {
 public:
  explicit VersionCache(std::size_t max_segments) : entries_(max_segments) {}
  std::shared_ptr<const CachedVersion> find(const db::VersionStamp& stamp);
  // Keeps `version` under `stamp` and returns it; evicts the least recently used entries
  // beyond the bound.
  std::shared_ptr<const CachedVersion> insert(db::VersionStamp stamp, manifest::Version version);

  // Names a cached version as what `name` ("<video id>/" for the published version,
  // "<video id>/v<n>" for a numbered one) was when the database was at `generation`.
  void name(const std::string& name, const std::shared_ptr<const CachedVersion>& version, std::uint64_t generation);
  // The version `name` was named for, while the database is still at that generation (no
  // write since, so it is still that version, unchanged) and the cache still holds that
  // copy. nullptr otherwise.
  std::shared_ptr<const CachedVersion> find_named(const std::string& name, std::uint64_t generation);

 private:
  std::mutex mutex_;
  // By version id, each weighing its segment count.
  LruMap<std::int64_t, std::shared_ptr<const CachedVersion>> entries_;
  struct Naming {
    std::weak_ptr<const CachedVersion> version;
    std::uint64_t generation = 0;
  };
  std::unordered_map<std::string, Naming> names_;
};

}  // namespace cinevault::api
