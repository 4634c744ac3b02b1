#include "cinevault/ingest/staging.hpp"

#include <gtest/gtest.h>

#include "cinevault/core/file.hpp"
#include "scratch_dir.hpp"

namespace cinevault::ingest {
namespace {

namespace fs = std::filesystem;

class StagingTest : public ::testing::Test {
 protected:
  std::size_t files() const { return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir_), fs::directory_iterator())); }
  test_support::ScratchDir dir_{"staging"};
};

TEST_F(StagingTest, HashesWhileWriting) {
  auto writer = StagingWriter::create(dir_, 100).value();
  ASSERT_TRUE(writer.write("ab", 2));
  ASSERT_TRUE(writer.write("c", 1));
  auto staged = writer.finish();
  ASSERT_TRUE(staged);
  ASSERT_TRUE(staged->durable());  // the fsync started by finish()
  ASSERT_TRUE(staged->durable());  // and asking again is fine
  EXPECT_EQ(staged->sha256(), sha256_hex("abc"));
  EXPECT_EQ(staged->size(), 3u);
  EXPECT_EQ(read_small_file(staged->path(), 10).value(), "abc");
}

TEST_F(StagingTest, RefusesBytesOverTheLimit) {
  auto writer = StagingWriter::create(dir_, 4).value();
  ASSERT_TRUE(writer.write("abcd", 4));
  auto over = writer.write("e", 1);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::too_large);
}

TEST_F(StagingTest, AbandonedWritesAndUnclaimedFilesLeaveNothing) {
  {
    auto writer = StagingWriter::create(dir_, 100).value();
    ASSERT_TRUE(writer.write("abc", 3));
    EXPECT_EQ(files(), 1u);
  }
  EXPECT_EQ(files(), 0u);
  {
    auto writer = StagingWriter::create(dir_, 100).value();
    auto staged = writer.finish();
    ASSERT_TRUE(staged);
    EXPECT_EQ(files(), 1u);
  }
  EXPECT_EQ(files(), 0u);
}

}  // namespace
}  // namespace cinevault::ingest
