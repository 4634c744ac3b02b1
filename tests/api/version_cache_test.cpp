#include "version_cache.hpp"

#include <gtest/gtest.h>

namespace cinevault::api {
namespace {

// A version of one rendition with `segments` segments, cached under its stamp.
std::shared_ptr<const CachedVersion> insert(VersionCache& cache, std::int64_t id, std::int64_t updated_at,
                                            int segments, db::VersionState state = db::VersionState::building) {
  Rendition rendition;
  rendition.name = "240p";
  for (int i = 0; i < segments; ++i) rendition.segments.push_back({i, i * 90000, 90000, 2, "ab"});
  manifest::Version version;
  version.renditions.push_back(rendition);
  return cache.insert({id, state, updated_at}, std::move(version));
}

TEST(VersionCache, HitOnlyWhileTheStampIsUnchanged) {
  VersionCache cache(1000);
  insert(cache, 1, 100, 3);
  EXPECT_NE(cache.find({1, db::VersionState::building, 100}), nullptr);
  EXPECT_EQ(cache.find({1, db::VersionState::building, 101}), nullptr);  // a segment landed since
  EXPECT_EQ(cache.find({1, db::VersionState::complete, 100}), nullptr);
  EXPECT_EQ(cache.find({2, db::VersionState::building, 100}), nullptr);
  insert(cache, 1, 101, 4);
  EXPECT_EQ(cache.find({1, db::VersionState::building, 100}), nullptr);  // replaced
  ASSERT_NE(cache.find({1, db::VersionState::building, 101}), nullptr);
  EXPECT_EQ(cache.find({1, db::VersionState::building, 101})->version.renditions[0].segments.size(), 4u);
}

TEST(VersionCache, EvictsLeastRecentlyUsedBeyondTheSegmentBound) {
  VersionCache cache(10);
  insert(cache, 1, 1, 4);
  insert(cache, 2, 1, 4);
  EXPECT_NE(cache.find({1, db::VersionState::building, 1}), nullptr);  // 1 is now the most recently used
  insert(cache, 3, 1, 4);                 // 12 > 10: the least recent (2) goes
  EXPECT_NE(cache.find({1, db::VersionState::building, 1}), nullptr);
  EXPECT_EQ(cache.find({2, db::VersionState::building, 1}), nullptr);
  EXPECT_NE(cache.find({3, db::VersionState::building, 1}), nullptr);
  // One version larger than the bound is still kept (alone): it is being played.
  insert(cache, 4, 1, 50);
  EXPECT_NE(cache.find({4, db::VersionState::building, 1}), nullptr);
  EXPECT_EQ(cache.find({1, db::VersionState::building, 1}), nullptr);
}

TEST(VersionCache, NamedVersionIsFoundOnlyAtTheGenerationItWasNamedAt) {
  VersionCache cache(10);
  auto first = insert(cache, 1, 1, 4);
  cache.name({"video", ""}, first, 7);
  ASSERT_NE(cache.find_named({"video", ""}, 7), nullptr);
  EXPECT_EQ(cache.find_named({"video", ""}, 7)->stamp.id, 1);
  EXPECT_EQ(cache.find_named({"video", ""}, 8), nullptr);  // something was written since
  EXPECT_EQ(cache.find_named({"video", "v1"}, 7), nullptr);
  EXPECT_EQ(cache.find_named({"other", ""}, 7), nullptr);
  cache.name({"video", ""}, first, 8);
  EXPECT_NE(cache.find_named({"video", ""}, 8), nullptr);
  // The named version evicted: the name finds nothing rather than something stale.
  insert(cache, 2, 1, 8);
  EXPECT_EQ(cache.find_named({"video", ""}, 8), nullptr);
}

TEST(VersionCache, NamesOfTheSameVideoAreDistinctAndOwnTheirText) {
  VersionCache cache(100);
  auto published = insert(cache, 1, 1, 2);
  auto numbered = insert(cache, 2, 1, 2);
  {
    // The request's strings are gone by the time the next request looks the name up.
    std::string video = "0123456789abcdef";
    std::string number = "v2";
    cache.name({video, ""}, published, 5);
    cache.name({video, number}, numbered, 5);
  }
  EXPECT_EQ(cache.find_named({"0123456789abcdef", ""}, 5), published);
  EXPECT_EQ(cache.find_named({"0123456789abcdef", "v2"}, 5), numbered);
  EXPECT_EQ(cache.find_named({"0123456789abcdef", "v1"}, 5), nullptr);
  EXPECT_EQ(cache.find_named({"0123456789abcdefv2", ""}, 5), nullptr);
  // Named again: the newer naming wins.
  cache.name({"0123456789abcdef", ""}, numbered, 6);
  EXPECT_EQ(cache.find_named({"0123456789abcdef", ""}, 6), numbered);
  EXPECT_EQ(cache.find_named({"0123456789abcdef", "v2"}, 6), nullptr);
}

// Two requests race: the slower one read the version before it was completed and comes back
// last. The cache keeps the newer copy, and a name given to one copy never finds another.
TEST(VersionCache, ASlowerRequestDoesNotPutAnOlderCopyBack) {
  VersionCache cache(100);
  auto complete = insert(cache, 1, 200, 4, db::VersionState::complete);
  auto stale = insert(cache, 1, 100, 3, db::VersionState::building);  // read earlier, inserted later
  EXPECT_EQ(stale, complete);
  EXPECT_EQ(cache.find({1, db::VersionState::complete, 200}), complete);
  cache.name({"video", ""}, complete, 9);
  ASSERT_EQ(cache.find_named({"video", ""}, 9), complete);
  // A name given to a copy the cache no longer holds finds nothing.
  auto newer = insert(cache, 1, 300, 5, db::VersionState::complete);
  cache.name({"video", ""}, complete, 9);
  EXPECT_EQ(cache.find_named({"video", ""}, 9), nullptr);
  cache.name({"video", ""}, newer, 9);
  EXPECT_EQ(cache.find_named({"video", ""}, 9), newer);
}

TEST(VersionCache, ManifestIsRenderedOnceAndFailuresAreNotKept) {
  VersionCache cache(100);
  auto cached = insert(cache, 1, 1, 1);
  int renders = 0;
  auto render = [&]() -> Result<std::string> {
    ++renders;
    return std::string("#EXTM3U\n");
  };
  EXPECT_FALSE(cached->has_manifest("master.m3u8"));
  auto first = cached->manifest("master.m3u8", render);
  EXPECT_TRUE(cached->has_manifest("master.m3u8"));
  auto second = cached->manifest("master.m3u8", render);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(renders, 1);
  EXPECT_EQ((*first)->text, "#EXTM3U\n");
  EXPECT_EQ((*first)->etag.size(), 34u);  // 32 hex digits in quotes
  int failures = 0;
  auto failing = [&]() -> Result<std::string> {
    ++failures;
    return fail(ErrorCode::unavailable, "no segment yet");
  };
  EXPECT_FALSE(cached->manifest("720p.m3u8", failing));
  EXPECT_FALSE(cached->manifest("720p.m3u8", failing));
  EXPECT_EQ(failures, 2);
}

}  // namespace
}  // namespace cinevault::api
