#include "cinevault/core/file_hasher.hpp"

#include <random>

#include <gtest/gtest.h>

#include "cinevault/core/file.hpp"
#include "scratch_dir.hpp"

namespace cinevault {
namespace {

class FileHasherTest : public ::testing::Test {
 protected:
  void SetUp() override { file_ = File::create_new(dir_ / "upload").value(); }

  // Writes `size` pseudo-random bytes in pieces of uneven sizes, telling the hasher after each
  // piece as an upload does; returns the bytes.
  std::string write(FileHasher& hasher, std::size_t size) {
    std::mt19937 random(7);
    std::string bytes(size, '\0');
    for (char& byte : bytes) byte = static_cast<char>(random());
    std::size_t written = 0;
    while (written < size) {
      std::size_t piece = std::min<std::size_t>(size - written, 1 + random() % (300 * 1024));
      EXPECT_TRUE(file_.write_all(bytes.data() + written, piece));
      written += piece;
      hasher.wrote(written);
    }
    return bytes;
  }

  test_support::ScratchDir dir_{"file-hasher"};
  File file_;
};

TEST_F(FileHasherTest, HashesASmallFileWhenFinished) {
  FileHasher hasher(file_.fd());
  std::string bytes = write(hasher, 100'000);
  EXPECT_EQ(hasher.finish().value().front().finish_hex(), sha256_hex(bytes));
}

TEST_F(FileHasherTest, HashesALargeFileOnItsThreadAsItIsWritten) {
  FileHasher hasher(file_.fd());
  // Past the thread's start, and not a whole number of blocks.
  std::string bytes = write(hasher, FileHasher::kThreadFrom + 5 * FileHasher::kBlock + 12345);
  EXPECT_EQ(hasher.finish().value().front().finish_hex(), sha256_hex(bytes));
}

TEST_F(FileHasherTest, AnEmptyFileHasTheHashOfNothing) {
  FileHasher hasher(file_.fd());
  EXPECT_EQ(hasher.finish().value().front().finish_hex(), sha256_hex(""));
}

TEST_F(FileHasherTest, GoesOnFromTheHashOfTheBytesBeforeItsStart) {
  FileHasher first(file_.fd());
  std::string head = write(first, FileHasher::kThreadFrom + 3);
  std::vector<Hasher> hashers = first.finish().value();
  // A second hasher takes only the bytes from the new start on, as a tus chunk's digest does.
  hashers.emplace_back(HashAlgorithm::sha1);
  FileHasher second(file_.fd(), head.size(), std::move(hashers));
  std::string tail(FileHasher::kThreadFrom + 2 * FileHasher::kBlock, 'y');
  ASSERT_TRUE(file_.write_all(tail.data(), tail.size()));
  second.wrote(head.size() + tail.size());
  std::vector<Hasher> hashed = second.finish().value();
  ASSERT_EQ(hashed.size(), 2u);
  EXPECT_EQ(hashed[0].finish_hex(), sha256_hex(head + tail));
  Hasher tail_sha1(HashAlgorithm::sha1);
  tail_sha1.update(tail.data(), tail.size());
  EXPECT_EQ(hashed[1].finish_hex(), tail_sha1.finish_hex());
}

TEST_F(FileHasherTest, ABlockThatCannotBeReadBackIsAnError) {
  FileHasher hasher(file_.fd());
  write(hasher, FileHasher::kThreadFrom + FileHasher::kBlock);
  hasher.wrote(FileHasher::kThreadFrom + 4 * FileHasher::kBlock);  // more than the file holds
  auto hashed = hasher.finish();
  ASSERT_FALSE(hashed);
  EXPECT_NE(hashed.error().message.find("shorter than expected"), std::string::npos);
}

TEST_F(FileHasherTest, AnAbandonedUploadStopsTheThread) {
  for (std::size_t size : {std::size_t{1000}, std::size_t{3 * FileHasher::kThreadFrom}}) {
    FileHasher hasher(file_.fd());
    write(hasher, size);
    hasher.abandon();
    hasher.abandon();  // twice, then the destructor: no hang, no second join
  }
}

}  // namespace
}  // namespace cinevault
