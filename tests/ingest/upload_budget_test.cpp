#include "cinevault/ingest/upload_budget.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace cinevault::ingest {
namespace {

constexpr std::uint64_t MiB = 1 << 20;

// The filesystem's free space is what the test says it is; what was written is taken from it.
class UploadBudgetTest : public ::testing::Test {
 protected:
  UploadBudgetTest() {
    config_.reserve_bytes = 100 * MiB;
    config_.max_open_uploads = 5;
    config_.max_open_uploads_per_key = 3;
    config_.max_pending_bytes_per_key = 1000 * MiB;
  }
  UploadBudget& budget() {
    if (!budget_) budget_.emplace(config_, [this]() -> Result<std::uint64_t> { return free_; });
    return *budget_;
  }
  // BYTES of CLAIM were written: the claim owes them no longer, the disk has them.
  void write(UploadBudget::Claim& claim, std::uint64_t bytes) {
    ASSERT_TRUE(claim.arrived(bytes));
    free_ -= bytes;
  }

  UploadConfig config_;
  std::uint64_t free_ = 400 * MiB;
  std::optional<UploadBudget> budget_;
};

TEST_F(UploadBudgetTest, AClaimMustLeaveTheReserveFree) {
  EXPECT_TRUE(budget().claim("k", 300 * MiB, false));
  auto over = budget().claim("k", 300 * MiB + 1, false);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::insufficient_storage);
}

TEST_F(UploadBudgetTest, TheSameFreeSpaceIsNotPromisedTwice) {
  auto first = budget().claim("a", 200 * MiB, true);
  ASSERT_TRUE(first);
  auto second = budget().claim("b", 200 * MiB, true);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::insufficient_storage);
  auto third = budget().claim("b", 100 * MiB, true);
  EXPECT_TRUE(third);
  // Bytes written are on the disk, not owed to it: the sum stays the same.
  write(*first, 150 * MiB);
  EXPECT_EQ(budget().unwritten(), 150 * MiB);  // 50 of the first, 100 of the third
  EXPECT_FALSE(budget().claim("b", 1, false));
  // Giving a claim back frees what it still owed.
  first->release();
  EXPECT_TRUE(budget().claim("b", 50 * MiB, false));
  EXPECT_FALSE(budget().claim("b", 50 * MiB + 1, false));
}

TEST_F(UploadBudgetTest, AChunkedBodyGrowsItsClaimUntilTheReserve) {
  auto claim = budget().claim("k", 0, false);
  ASSERT_TRUE(claim);
  std::uint64_t written = 0;
  Result<void> arrived;
  while ((arrived = claim->arrived(MiB))) {
    free_ -= MiB;
    written += MiB;
    ASSERT_LE(written, 300 * MiB);
  }
  EXPECT_EQ(arrived.error().code, ErrorCode::insufficient_storage);
  EXPECT_GE(written, 300 * MiB - 16 * MiB);  // it stops at the reserve, less at most one step
  EXPECT_GE(free_, config_.reserve_bytes);
}

TEST_F(UploadBudgetTest, OpenUploadsAreLimitedPerKeyAndInAll) {
  std::vector<UploadBudget::Claim> claims;
  for (int i = 0; i < 3; ++i) claims.push_back(budget().claim("a", MiB, true).value());
  auto fourth = budget().claim("a", MiB, true);
  ASSERT_FALSE(fourth);
  EXPECT_EQ(fourth.error().code, ErrorCode::too_many);
  EXPECT_TRUE(budget().claim("a", MiB, false));  // a one-shot upload is not an open one
  claims.push_back(budget().claim("b", MiB, true).value());
  claims.push_back(budget().claim("b", MiB, true).value());
  EXPECT_EQ(budget().open_uploads(), 5);
  auto sixth = budget().claim("c", MiB, true);
  ASSERT_FALSE(sixth);
  EXPECT_EQ(sixth.error().code, ErrorCode::too_many);
  claims.erase(claims.begin());  // "a" finished one
  EXPECT_TRUE(budget().claim("a", MiB, true));
}

TEST_F(UploadBudgetTest, AKeysPendingBytesAreLimited) {
  free_ = 10000 * MiB;
  auto big = budget().claim("a", 900 * MiB, true);
  ASSERT_TRUE(big);
  auto over = budget().claim("a", 101 * MiB, true);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::insufficient_storage);
  // Declared bytes count until the upload is finished, written or not.
  write(*big, 900 * MiB);
  EXPECT_FALSE(budget().claim("a", 101 * MiB, true));
  EXPECT_TRUE(budget().claim("b", 900 * MiB, true));
  big->release();
  EXPECT_TRUE(budget().claim("a", 900 * MiB, true));
}

TEST_F(UploadBudgetTest, RestoredUploadsCountWithoutBeingChecked) {
  std::vector<UploadBudget::Claim> restored;
  for (int i = 0; i < 4; ++i) restored.push_back(budget().restore("a", 100 * MiB, 50 * MiB));
  EXPECT_EQ(budget().open_uploads(), 4);
  EXPECT_EQ(budget().unwritten(), 200 * MiB);
  auto more = budget().claim("a", MiB, true);
  ASSERT_FALSE(more);
  EXPECT_EQ(more.error().code, ErrorCode::too_many);
  auto one_shot = budget().claim("b", 100 * MiB, false);
  EXPECT_TRUE(one_shot);
  EXPECT_FALSE(budget().claim("b", 1, false));
  restored.clear();
  EXPECT_EQ(budget().open_uploads(), 0);
  EXPECT_EQ(budget().unwritten(), 100 * MiB);
}

TEST_F(UploadBudgetTest, SetUnwrittenFollowsTheRecordedOffset) {
  auto claim = budget().claim("a", 200 * MiB, true).value();
  write(claim, 80 * MiB);
  // The chunk was discarded (a checksum mismatch): its bytes are owed again.
  free_ += 80 * MiB;
  claim.set_unwritten(200 * MiB);
  EXPECT_EQ(budget().unwritten(), 200 * MiB);
  EXPECT_FALSE(budget().claim("b", 100 * MiB + 1, false));
}

}  // namespace
}  // namespace cinevault::ingest
