#include "cinevault/core/password.hpp"

#include <gtest/gtest.h>

namespace cinevault {
namespace {

TEST(Password, HashIsArgon2idAndVerifiesOnlyThatPassword) {
  auto hash = hash_password("correct horse battery");
  ASSERT_TRUE(hash) << hash.error().message;
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u) << *hash;
  EXPECT_EQ(hash->find("correct"), std::string::npos);
  EXPECT_TRUE(verify_password(*hash, "correct horse battery"));
  EXPECT_FALSE(verify_password(*hash, "correct horse batterY"));
  EXPECT_FALSE(verify_password(*hash, ""));
  // A random salt: the same password hashes differently each time, and both verify.
  auto again = hash_password("correct horse battery");
  ASSERT_TRUE(again);
  EXPECT_NE(*hash, *again);
  EXPECT_TRUE(verify_password(*again, "correct horse battery"));
}

TEST(Password, WhatIsNotAHashNeverVerifies) {
  EXPECT_FALSE(verify_password("", "anything at all"));
  EXPECT_FALSE(verify_password("anything at all", "anything at all"));
  EXPECT_FALSE(verify_password(std::string(1000, '$'), "anything at all"));
}

TEST(Password, ShortControlOrNonUtf8PasswordsAreRefusedWithoutEchoingThem) {
  for (std::string bad : {std::string("short7!"), std::string("tab\there!"), std::string("bad \xff bytes"),
                          std::string(1025, 'x')}) {
    auto hash = hash_password(bad);
    ASSERT_FALSE(hash) << bad;
    EXPECT_EQ(hash.error().code, ErrorCode::invalid_argument);
    EXPECT_EQ(hash.error().message.find(bad), std::string::npos);
  }
  EXPECT_TRUE(check_password("eight ch"));
  EXPECT_TRUE(check_password("pässwörd ünicode"));
}

}  // namespace
}  // namespace cinevault
