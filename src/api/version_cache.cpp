#include "version_cache.hpp"

#include "cinevault/core/hash.hpp"

namespace cinevault::api {
namespace {
constexpr std::size_t kMaxNames = 100000;
}

Result<std::shared_ptr<const RenderedManifest>> CachedVersion::manifest(
    const std::string& name, const std::function<Result<std::string>()>& render) const {
  {
    std::lock_guard lock(mutex_);
    if (auto it = rendered_.find(name); it != rendered_.end()) return it->second;
  }
  TRY(std::string text, render());  // outside the lock: two first requests may both render
  auto rendered = std::make_shared<RenderedManifest>();
  rendered->etag = strong_etag(text);
  rendered->text = std::move(text);
  std::lock_guard lock(mutex_);
  return rendered_.emplace(name, std::move(rendered)).first->second;
}

bool CachedVersion::has_manifest(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return rendered_.contains(name);
}

std::shared_ptr<const CachedVersion> VersionCache::find(const db::VersionStamp& stamp) {
  std::lock_guard lock(mutex_);
  auto* found = entries_.find(stamp.id, [&](const auto& version) { return version->stamp == stamp; });
  return found ? *found : nullptr;
}

std::shared_ptr<const CachedVersion> VersionCache::insert(db::VersionStamp stamp, manifest::Version version) {
  std::size_t segments = 0;
  for (const auto& rendition : version.renditions) segments += rendition.segments.size();
  std::int64_t id = stamp.id;
  auto cached = std::make_shared<const CachedVersion>(std::move(stamp), std::move(version));
  std::lock_guard lock(mutex_);
  // A slow reader may come back with an older copy than one cached since: keep the newer
  // (updated_at only grows).
  if (auto* old = entries_.peek(id); old && (*old)->stamp.updated_at_ms > cached->stamp.updated_at_ms) return *old;
  return entries_.insert_or_assign(id, std::move(cached), segments);
}

std::size_t VersionCache::NameHash::operator()(VersionName name) const {
  std::size_t id = std::hash<std::string_view>{}(name.video_id);
  std::size_t number = std::hash<std::string_view>{}(name.number);
  return id ^ (number + 0x9e3779b97f4a7c15ull + (id << 6) + (id >> 2));
}

void VersionCache::name(VersionName name, const std::shared_ptr<const CachedVersion>& version,
                        std::uint64_t generation, db::VideoAccess access) {
  std::lock_guard lock(mutex_);
  // Names go stale at the next write anyway: dropping them all bounds the map.
  if (names_.size() >= kMaxNames) names_.clear();
  Naming naming{version, generation, access};
  if (auto named = names_.find(name); named != names_.end())
    named->second = std::move(naming);
  else
    names_.emplace(NameKey{std::string(name.video_id), std::string(name.number)}, std::move(naming));
}

std::shared_ptr<const CachedVersion> VersionCache::find_named(VersionName name, std::uint64_t generation,
                                                              db::VideoAccess* access) {
  std::lock_guard lock(mutex_);
  auto named = names_.find(name);
  if (named == names_.end() || named->second.generation != generation) return nullptr;
  auto version = named->second.version.lock();
  if (!version) return nullptr;
  // Only while the cache still holds that very copy: one put back by a slower request, or
  // evicted, is not what the name was checked against.
  if (!entries_.find(version->stamp.id, [&](const auto& held) { return held == version; })) return nullptr;
  if (access) *access = named->second.access;
  return version;
}

}  // namespace cinevault::api
