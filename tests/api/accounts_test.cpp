// The sign-in throttle's waits, and share links signed, checked, expired, altered and rotated.
#include <gtest/gtest.h>

#include "cinevault/api/share_links.hpp"
#include "scratch_dir.hpp"
#include "sign_in_throttle.hpp"

namespace cinevault::api {
namespace {

using std::chrono::seconds;

TEST(SignInThrottle, AFifthFailureInARowMakesTheNameWaitLongerEachTime) {
  SignInThrottle throttle;
  const auto t = SignInThrottle::Clock::now();
  for (int i = 0; i < 4; ++i) {
    throttle.failed("ben", "10.0.0.1", t);
    EXPECT_FALSE(throttle.wait("ben", "10.0.0.1", t)) << "failure " << i + 1 << " is free";
  }
  throttle.failed("ben", "10.0.0.1", t);
  EXPECT_EQ(throttle.wait("ben", "10.0.0.1", t), seconds(1));
  EXPECT_EQ(throttle.wait("ben", "10.0.0.2", t), seconds(1)) << "the name waits from any address";
  EXPECT_FALSE(throttle.wait("ann", "10.0.0.1", t)) << "the address has failures to spare";
  EXPECT_FALSE(throttle.wait("ben", "10.0.0.1", t + seconds(1)));
  throttle.failed("ben", "10.0.0.1", t + seconds(1));
  EXPECT_EQ(throttle.wait("ben", "10.0.0.1", t + seconds(1)), seconds(2));
  for (int i = 0; i < 20; ++i) throttle.failed("ben", "10.0.0.1", t + seconds(2));
  EXPECT_EQ(throttle.wait("ben", "10.0.0.9", t + seconds(2)), seconds(15 * 60)) << "at most 15 minutes";
  throttle.succeeded("ben", "10.0.0.1");
  EXPECT_FALSE(throttle.wait("ben", "10.0.0.1", t + seconds(2)));
}

TEST(SignInThrottle, TwentyFailuresFromOneAddressMakeEveryNameWaitThere) {
  SignInThrottle throttle;
  const auto t = SignInThrottle::Clock::now();
  for (int i = 0; i < 20; ++i) throttle.failed("guess" + std::to_string(i), "10.0.0.1", t);
  EXPECT_EQ(throttle.wait("someone-else", "10.0.0.1", t), seconds(1));
  EXPECT_FALSE(throttle.wait("someone-else", "10.0.0.2", t));
}

TEST(SignInThrottle, ForgetsTheLeastRecentBeyondItsBound) {
  SignInThrottle throttle(3);
  const auto t = SignInThrottle::Clock::now();
  for (int i = 0; i < 5; ++i) throttle.failed("first", "a", t);
  for (const char* other : {"b", "c", "d"}) throttle.failed(other, other, t);
  EXPECT_FALSE(throttle.wait("first", "z", t)) << "bounded: the oldest name was forgotten";
}

class ShareLinksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = db::Database::open(dir_ / "test.db");
    ASSERT_TRUE(opened) << opened.error().message;
    db_ = std::move(*opened);
    auto links = ShareLinks::open(*db_);
    ASSERT_TRUE(links);
    links_ = std::move(*links);
  }
  test_support::ScratchDir dir_{"share-links"};
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<ShareLinks> links_;
};

TEST_F(ShareLinksTest, ALinkGrantsItsVideoUntilItExpires) {
  std::string token = links_->sign("abc123", 1000);
  auto grant = links_->verify(token, 999);
  ASSERT_TRUE(grant) << grant.error().message;
  EXPECT_EQ(grant->video_id, "abc123");
  EXPECT_EQ(grant->expires_at_s, 1000);
  EXPECT_EQ(grant->token, token);
  auto expired = links_->verify(token, 1000);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::forbidden);
  EXPECT_NE(expired.error().message.find("expired"), std::string::npos);
}

TEST_F(ShareLinksTest, AnAlteredLinkIsRefusedWithoutEchoingIt) {
  std::string token = links_->sign("abc123", 1000);
  std::string other_video = "abc124" + token.substr(6);
  std::string later = "abc123.2000" + token.substr(token.find('.', 7));
  std::string flipped = token;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  for (const std::string& bad : {other_video, later, flipped, std::string("abc123.1000"), std::string(""),
                                 std::string("..."), token + "0", std::string("x.y.z")}) {
    auto refused = links_->verify(bad, 0);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().code, ErrorCode::forbidden);
    if (bad.size() > 8) {
      EXPECT_EQ(refused.error().message.find(bad), std::string::npos);
    }
  }
}

TEST_F(ShareLinksTest, TheKeyOutlivesARestartAndARotationEndsEveryLink) {
  std::string token = links_->sign("abc123", 1000);
  auto reopened = ShareLinks::open(*db_);
  ASSERT_TRUE(reopened);
  EXPECT_TRUE((*reopened)->verify(token, 0)) << "the key is the stored one";
  ASSERT_TRUE(links_->rotate(*db_));
  EXPECT_FALSE(links_->verify(token, 0));
  auto after = ShareLinks::open(*db_);
  ASSERT_TRUE(after);
  EXPECT_FALSE((*after)->verify(token, 0)) << "rotated for good";
  EXPECT_TRUE((*after)->verify(links_->sign("abc123", 1000), 0));
}

}  // namespace
}  // namespace cinevault::api
