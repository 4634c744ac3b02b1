#include "cinevault/core/lru_map.hpp"

#include <memory>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace cinevault {
namespace {

TEST(LruMap, DropsTheLeastRecentlyUsedBeyondTheCount) {
  LruMap<int, std::string> map(2);
  EXPECT_TRUE(map.try_emplace(1, "one").second);
  EXPECT_TRUE(map.try_emplace(2, "two").second);
  ASSERT_NE(map.find(1), nullptr);  // 1 is now the most recently used
  EXPECT_EQ(*map.find(1), "one");
  map.try_emplace(3, "three");
  EXPECT_EQ(map.size(), 2u);
  EXPECT_NE(map.peek(1), nullptr);
  EXPECT_EQ(map.peek(2), nullptr);
  EXPECT_NE(map.peek(3), nullptr);
}

TEST(LruMap, PeekAndARefusedFindDoNotCountAsAUse) {
  LruMap<int, std::string> map(2);
  map.try_emplace(1, "one");
  map.try_emplace(2, "two");
  EXPECT_EQ(*map.peek(1), "one");
  EXPECT_EQ(map.find(1, [](const std::string& value) { return value == "uno"; }), nullptr);
  map.try_emplace(3, "three");  // 1 is still the least recently used
  EXPECT_EQ(map.peek(1), nullptr);
  EXPECT_NE(map.peek(2), nullptr);
  EXPECT_EQ(map.find(4), nullptr);
}

TEST(LruMap, TryEmplaceLeavesAnExistingEntryAsItWas) {
  LruMap<int, std::string> map(2);
  map.try_emplace(1, "first");
  map.try_emplace(2, "two");
  auto [value, added] = map.try_emplace(1, "second", 5);
  EXPECT_FALSE(added);
  EXPECT_EQ(*value, "first");
  EXPECT_EQ(map.weight(), 2u);
  map.try_emplace(3, "three");  // 1 was not made the most recently used
  EXPECT_EQ(map.peek(1), nullptr);
}

TEST(LruMap, InsertOrAssignReplacesTheValueAndItsWeight) {
  LruMap<int, std::string> map(10);
  map.insert_or_assign(1, "one", 4);
  map.insert_or_assign(2, "two", 4);
  EXPECT_EQ(map.insert_or_assign(1, "uno", 2), "uno");  // and 1 is now the most recently used
  EXPECT_EQ(map.weight(), 6u);
  EXPECT_EQ(*map.peek(1), "uno");
  map.insert_or_assign(3, "three", 6);  // 12 > 10: 2 goes
  EXPECT_EQ(map.peek(2), nullptr);
  EXPECT_NE(map.peek(1), nullptr);
  EXPECT_EQ(map.weight(), 8u);
  map.insert_or_assign(1, "one", 5);  // 11 > 10: 3 goes, not 1 that was just put in
  EXPECT_EQ(map.peek(3), nullptr);
  EXPECT_EQ(map.weight(), 5u);
}

TEST(LruMap, AnEntryHeavierThanTheBoundIsKeptAlone) {
  LruMap<int, int> map(10);
  map.try_emplace(1, 1, 3);
  map.try_emplace(2, 2, 3);
  map.try_emplace(3, 3, 50);
  EXPECT_EQ(map.size(), 1u);
  EXPECT_NE(map.peek(3), nullptr);
  EXPECT_EQ(map.weight(), 50u);
}

TEST(LruMap, EraseFreesTheWeight) {
  LruMap<int, int> map(10);
  map.try_emplace(1, 1, 6);
  map.try_emplace(2, 2, 4);
  EXPECT_TRUE(map.erase(1));
  EXPECT_FALSE(map.erase(1));
  EXPECT_EQ(map.size(), 1u);
  EXPECT_EQ(map.weight(), 4u);
  map.try_emplace(3, 3, 6);  // 10: nothing goes
  EXPECT_NE(map.peek(2), nullptr);
  EXPECT_NE(map.peek(3), nullptr);
}

struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

TEST(LruMap, TransparentKeysAreLookedUpWithoutBuildingAKey) {
  LruMap<std::string, std::unique_ptr<int>, TransparentHash, std::equal_to<>> map(100);
  map.try_emplace("abc", std::make_unique<int>(7));
  std::string_view key = "abc";
  ASSERT_NE(map.find(key), nullptr);
  EXPECT_EQ(**map.find(key), 7);
  EXPECT_NE(map.peek(key), nullptr);
  EXPECT_TRUE(map.erase(key));
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(map.weight(), 0u);
}

TEST(LruMap, ManyEntriesThroughRehashingKeepTheirOrder) {
  LruMap<int, int> map(1000);
  for (int i = 0; i < 5000; ++i) map.try_emplace(i, i);
  EXPECT_EQ(map.size(), 1000u);
  EXPECT_EQ(map.peek(3999), nullptr);
  for (int i = 4000; i < 5000; ++i) ASSERT_NE(map.peek(i), nullptr) << i;
}

}  // namespace
}  // namespace cinevault
