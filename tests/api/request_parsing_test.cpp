#include "cinevault/api/request_parsing.hpp"

#include <gtest/gtest.h>

#include "cinevault/core/hash.hpp"

namespace cinevault::api {
namespace {

TEST(UploadMetadata, DecodesPairsAndKeysWithoutValues) {
  auto parsed = parse_upload_metadata("filename " + base64_encode("clip.mp4") + ", title " +
                                      base64_encode("Été à Paris") + ",is_private");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->at("filename"), "clip.mp4");
  EXPECT_EQ(parsed->at("title"), "Été à Paris");
  EXPECT_EQ(parsed->at("is_private"), "");
  EXPECT_EQ(parse_upload_metadata(encode_upload_metadata(*parsed)).value(), *parsed);
  EXPECT_TRUE(parse_upload_metadata("")->empty());
}

TEST(UploadMetadata, RefusesWhatIsNotBase64UnicodeOrUnique) {
  EXPECT_FALSE(parse_upload_metadata("title !!!"));                           // not base64
  EXPECT_FALSE(parse_upload_metadata("title " + base64_encode("\xff\xfe")));  // not UTF-8
  EXPECT_FALSE(parse_upload_metadata("a,a"));                                 // twice
  EXPECT_FALSE(parse_upload_metadata("k\x01y " + base64_encode("v")));        // control in a key
  EXPECT_FALSE(parse_upload_metadata(std::string(9000, 'a')));                // too long
}

TEST(UploadChecksum, Sha1AndSha256OfTheRightLength) {
  auto sha256 = parse_upload_checksum("sha256 " + base64_encode(std::string(32, 'x')));
  ASSERT_TRUE(sha256 && *sha256);
  EXPECT_EQ((*sha256)->algorithm, HashAlgorithm::sha256);
  EXPECT_EQ((*sha256)->expected, std::string(32, 'x'));
  EXPECT_TRUE(parse_upload_checksum("sha1 " + base64_encode(std::string(20, 'y'))).value());
  EXPECT_FALSE(parse_upload_checksum("")->has_value());
  EXPECT_FALSE(parse_upload_checksum("sha256 " + base64_encode(std::string(20, 'x'))));
  EXPECT_FALSE(parse_upload_checksum("md5 " + base64_encode(std::string(16, 'x'))));
  EXPECT_FALSE(parse_upload_checksum("sha256"));
}

TEST(Range, OneRangeOfEachForm) {
  auto r = parse_range("bytes=10-19", 100);
  ASSERT_TRUE(r.range);
  EXPECT_EQ(r.range->first, 10u);
  EXPECT_EQ(r.range->last, 19u);
  r = parse_range("bytes=90-", 100);
  EXPECT_EQ(r.range->first, 90u);
  EXPECT_EQ(r.range->last, 99u);
  r = parse_range("bytes=-30", 100);
  EXPECT_EQ(r.range->first, 70u);
  EXPECT_EQ(r.range->last, 99u);
  r = parse_range("bytes=-300", 100);  // more than there is: all of it
  EXPECT_EQ(r.range->first, 0u);
  r = parse_range("bytes=50-1000", 100);  // clipped to the end
  EXPECT_EQ(r.range->last, 99u);
}

TEST(Range, WhatIsIgnoredAndWhatIsUnsatisfiable) {
  for (const char* ignored : {"", "bytes=1-2,4-5", "items=0-1", "bytes=5-2", "bytes=x-1", "bytes=1", "bytes=--1"}) {
    auto r = parse_range(ignored, 100);
    EXPECT_FALSE(r.range) << ignored;
    EXPECT_FALSE(r.unsatisfiable) << ignored;
  }
  EXPECT_TRUE(parse_range("bytes=100-", 100).unsatisfiable);
  EXPECT_TRUE(parse_range("bytes=-0", 100).unsatisfiable);
  EXPECT_TRUE(parse_range("bytes=0-", 0).unsatisfiable);
  EXPECT_TRUE(parse_range("bytes=99999999999999999999-", 100).range == std::nullopt);  // overflow: ignored
}

TEST(IfNoneMatch, ListsStarAndWeakTags) {
  const std::string etag = "\"abc\"";
  EXPECT_TRUE(client_has("\"abc\"", etag));
  EXPECT_TRUE(client_has("*", etag));
  EXPECT_TRUE(client_has("\"x\", W/\"abc\"", etag));
  EXPECT_TRUE(client_has(" \"x\" ,\"abc\" ", etag));
  EXPECT_FALSE(client_has("", etag));
  EXPECT_FALSE(client_has("\"x\"", etag));
  // A tag that merely contains ours is another tag.
  EXPECT_FALSE(client_has("\"xabc\"", "\"abc\"") || client_has("\"abc\"x", etag));
}

TEST(VideoPatch, FieldsTypesAndTheUploadChecks) {
  auto patch = parse_video_patch(R"({"title":"New","tags":["a","b"]})");
  ASSERT_TRUE(patch);
  EXPECT_EQ(patch->title, "New");
  EXPECT_FALSE(patch->description);
  EXPECT_EQ(patch->tags, (std::vector<std::string>{"a", "b"}));
  for (const char* bad : {"", "[]", "{", R"({"title":1})", R"({"tags":"a"})", R"({"tags":[1]})", R"({"title":""})",
                          R"({"owner":"x"})"})
    EXPECT_FALSE(parse_video_patch(bad)) << bad;
}

}  // namespace
}  // namespace cinevault::api
