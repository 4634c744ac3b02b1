#include "cinevault/core/hash.hpp"

#include <gtest/gtest.h>

namespace cinevault {
namespace {

TEST(Hash, Sha256OfKnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Hash, StrongEtagIsTheQuotedFirst128BitsOfTheSha256) {
  EXPECT_EQ(strong_etag("abc"), "\"ba7816bf8f01cfea414140de5dae2223\"");
}

TEST(Hash, IncrementalEqualsOneShot) {
  Hasher hasher(HashAlgorithm::sha256);
  hasher.update("a", 1);
  hasher.update("bc", 2);
  EXPECT_EQ(hasher.finish_hex(), sha256_hex("abc"));
  Hasher sha1(HashAlgorithm::sha1);
  sha1.update("abc", 3);
  EXPECT_EQ(sha1.finish_hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(Hash, Base64RoundTripAndRejectsGarbage) {
  for (std::string text : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto decoded = base64_decode(base64_encode(text));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, text);
  }
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_FALSE(base64_decode("Zm9v!mFy"));
  EXPECT_FALSE(base64_decode("Zm9"));
}

TEST(Hash, RecognisesSha256Names) {
  EXPECT_TRUE(is_sha256_hex(sha256_hex("x")));
  EXPECT_FALSE(is_sha256_hex("../../etc/passwd"));
  EXPECT_FALSE(is_sha256_hex(std::string(64, 'A')));
}

}  // namespace
}  // namespace cinevault
