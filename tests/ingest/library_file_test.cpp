#include "cinevault/ingest/library_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include "cinevault/core/file.hpp"
#include "cinevault/core/hash.hpp"
#include "cinevault/ingest/library_import.hpp"
#include "scratch_dir.hpp"

namespace cinevault::ingest {
namespace {

namespace fs = std::filesystem;

class LibraryFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(library());
    fs::create_directories(temp());
  }
  fs::path library() const { return dir_ / "library"; }
  fs::path temp() const { return dir_ / "tmp"; }
  std::size_t temp_files() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(temp()), fs::directory_iterator()));
  }
  // A library file written an hour ago.
  fs::path settled_file(const std::string& name, const std::string& bytes) {
    fs::path path = library() / name;
    EXPECT_TRUE(write_file_atomically(path, bytes, 0644));
    struct utimbuf old {};
    old.actime = old.modtime = ::time(nullptr) - 3600;
    ::utime(path.c_str(), &old);
    return path;
  }
  TakeOptions options(bool hard_link) const {
    TakeOptions o;
    o.allow_hard_link = hard_link;
    o.max_bytes = 1 << 20;
    o.settle_s = 10;
    return o;
  }

  test_support::ScratchDir dir_{"library-file"};
};

TEST_F(LibraryFileTest, SharesTheInodeOnlyWhenAllowed) {
  const std::string bytes(300000, 'v');
  fs::path file = settled_file("clip.mp4", bytes);
  struct stat original {};
  ASSERT_EQ(::stat(file.c_str(), &original), 0);

  {
    auto linked = take_library_file(file, temp(), options(true));
    ASSERT_TRUE(linked) << linked.error().message;
    EXPECT_EQ(linked->staged.sha256(), sha256_hex(bytes));
    EXPECT_EQ(linked->staged.size(), bytes.size());
    EXPECT_EQ(linked->state.size, bytes.size());
    struct stat taken {};
    ASSERT_EQ(::stat(linked->staged.path().c_str(), &taken), 0);
    if (linked->method == TakeMethod::hard_link)
      EXPECT_EQ(taken.st_ino, original.st_ino);
    else
      EXPECT_EQ(linked->method, TakeMethod::reflink);  // no copy while a link is allowed, on one filesystem

    auto copied = take_library_file(file, temp(), options(false));
    ASSERT_TRUE(copied) << copied.error().message;
    EXPECT_NE(copied->method, TakeMethod::hard_link);
    ASSERT_EQ(::stat(copied->staged.path().c_str(), &taken), 0);
    EXPECT_NE(taken.st_ino, original.st_ino);
    EXPECT_EQ(read_small_file(copied->staged.path(), 1 << 20).value(), bytes);
    EXPECT_EQ(copied->staged.sha256(), sha256_hex(bytes));
  }
  // The library file is as it was; dropping the taken files removed only them.
  EXPECT_EQ(temp_files(), 0u);
  EXPECT_EQ(read_small_file(file, 1 << 20).value(), bytes);
  struct stat after {};
  ASSERT_EQ(::stat(file.c_str(), &after), 0);
  EXPECT_EQ(after.st_nlink, 1u);
  EXPECT_EQ(after.st_mode, original.st_mode);
  EXPECT_EQ(after.st_mtim.tv_sec, original.st_mtim.tv_sec);
}

TEST_F(LibraryFileTest, CopiesClaimTheirSpaceFirst) {
  fs::path file = settled_file("clip.mp4", std::string(5000, 'x'));
  TakeOptions o = options(false);
  std::uint64_t claimed = 0;
  o.claim_copy = [&](std::uint64_t bytes) -> Result<UploadBudget::Claim> {
    claimed = bytes;
    return fail(ErrorCode::insufficient_storage, "the disk is full");
  };
  auto taken = take_library_file(file, temp(), o);
  if (taken) {
    EXPECT_EQ(taken->method, TakeMethod::reflink);  // a clone takes no space: nothing to claim
    return;
  }
  EXPECT_EQ(taken.error().code, ErrorCode::insufficient_storage);
  EXPECT_EQ(claimed, 5000u);
  EXPECT_EQ(temp_files(), 0u);
}

TEST_F(LibraryFileTest, RefusesWhatIsNotASettledRegularFileWithinTheLimit) {
  auto code_of = [&](const fs::path& path, TakeOptions o) {
    auto taken = take_library_file(path, temp(), o);
    return taken ? ErrorCode::internal : taken.error().code;
  };
  EXPECT_EQ(code_of(library() / "missing.mp4", options(true)), ErrorCode::not_found);
  EXPECT_EQ(code_of(library(), options(true)), ErrorCode::unsupported_media);
  fs::path fifo = library() / "pipe.mp4";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(code_of(fifo, options(true)), ErrorCode::unsupported_media);  // and does not hang
  fs::path big = settled_file("big.mp4", std::string(2 << 20, 'b'));
  EXPECT_EQ(code_of(big, options(true)), ErrorCode::too_large);
  fs::path fresh = library() / "fresh.mp4";
  ASSERT_TRUE(write_file_atomically(fresh, "still coming", 0644));
  EXPECT_EQ(code_of(fresh, options(true)), ErrorCode::conflict);
  TakeOptions no_wait = options(true);
  no_wait.settle_s = 0;
  EXPECT_EQ(code_of(fresh, no_wait), ErrorCode::internal);  // taken
  EXPECT_EQ(temp_files(), 0u);
}

TEST(FolderTags, TheFoldersBetweenTheRootAndTheFile) {
  EXPECT_EQ(folder_tags("/srv/videos", "/srv/videos/Trips/Rome 2023/clip.mp4"),
            (std::vector<std::string>{"Trips", "Rome 2023"}));
  EXPECT_EQ(folder_tags("/srv/videos", "/srv/videos/clip.mp4"), std::vector<std::string>{});
  EXPECT_EQ(folder_tags("", "/srv/videos/a/clip.mp4"), std::vector<std::string>{});
  // Names that are not UTF-8 are mended; a folder named twice is one tag.
  EXPECT_EQ(folder_tags("/v", "/v/Caf\xE9/x/Caf\xE9/clip.mp4"), (std::vector<std::string>{"Caf\xEF\xBF\xBD", "x"}));
}

}  // namespace
}  // namespace cinevault::ingest
