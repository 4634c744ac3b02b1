#include "cinevault/store/object_store.hpp"

#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "cinevault/core/file.hpp"
#include "cinevault/core/hash.hpp"
#include "scratch_dir.hpp"

namespace cinevault::store {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = make_local_store(root_);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
  }

  std::string read(const fs::path& path) { return read_small_file(path, 1 << 20).value(); }

  ObjectStore::Collector keep(std::set<std::string> referenced) {
    return {[] { return Result<std::size_t>(0); },
            [referenced](const std::string& sha) { return Result<bool>(referenced.count(sha) > 0); }};
  }

  test_support::ScratchDir root_{"store"};
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(StoreTest, PutBytesNamesTheObjectByItsSha256) {
  auto put = store_->put_bytes("hello");
  ASSERT_TRUE(put) << put.error().message;
  EXPECT_EQ(put->sha256, sha256_hex("hello"));
  EXPECT_FALSE(put->already_present);
  auto path = store_->path_of(put->sha256);
  EXPECT_EQ(path, root_ / "objects" / put->sha256.substr(0, 2) / put->sha256.substr(2, 2) / put->sha256);
  EXPECT_EQ(read(path), "hello");
  EXPECT_TRUE(store_->contains(put->sha256));
}

TEST_F(StoreTest, IdenticalBytesAreStoredOnce) {
  ASSERT_TRUE(store_->put_bytes("same"));
  auto again = store_->put_bytes("same");
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->already_present);
  // A staged file with known content: renamed in, or dropped when the object exists.
  auto staged = store_->temp_dir() / "staged";
  ASSERT_TRUE(write_file_atomically(staged, "same"));
  auto from_file = store_->put_file(staged, sha256_hex("same"));
  ASSERT_TRUE(from_file);
  EXPECT_TRUE(from_file->already_present);
  EXPECT_FALSE(fs::exists(staged));
  std::size_t files = 0;
  for (auto& entry : fs::recursive_directory_iterator(root_ / "objects"))
    if (entry.is_regular_file()) ++files;
  EXPECT_EQ(files, 1u);
}

TEST_F(StoreTest, CollectorRemovesOnlyUnreferencedObjectsAndStaleTempFiles) {
  auto kept = store_->put_bytes("kept").value();
  auto dropped = store_->put_bytes("dropped").value();
  ASSERT_TRUE(write_file_atomically(store_->temp_dir() / "leftover", "x"));
  auto report = store_->collect_garbage(keep({kept.sha256}), /*remove_temp_files=*/false);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->objects_removed, 1u);
  EXPECT_EQ(report->bytes_freed, 7u);
  EXPECT_TRUE(store_->contains(kept.sha256));
  EXPECT_FALSE(store_->contains(dropped.sha256));
  EXPECT_TRUE(fs::exists(store_->temp_dir() / "leftover"));
  report = store_->collect_garbage(keep({kept.sha256}), /*remove_temp_files=*/true);
  EXPECT_EQ(report->temp_files_removed, 1u);
  EXPECT_FALSE(fs::exists(store_->temp_dir() / "leftover"));
}

TEST_F(StoreTest, CollectorLeavesFilesThatAreNotObjectsAlone) {
  fs::create_directories(root_ / "objects" / "ab" / "cd");
  auto stray = root_ / "objects" / "ab" / "cd" / "notes.txt";
  ASSERT_TRUE(write_file_atomically(stray, "mine"));
  auto report = store_->collect_garbage(keep({}), true);
  ASSERT_TRUE(report);
  EXPECT_TRUE(fs::exists(stray));
}

TEST_F(StoreTest, CollectorFailureKeepsEverything) {
  auto kept = store_->put_bytes("kept").value();
  ObjectStore::Collector broken{[] { return Result<std::size_t>(0); },
                                [](const std::string&) -> Result<bool> { return fail(ErrorCode::database, "down"); }};
  EXPECT_FALSE(store_->collect_garbage(broken, false));
  EXPECT_TRUE(store_->contains(kept.sha256));
}

}  // namespace
}  // namespace cinevault::store
