#include "cinevault/ingest/multipart.hpp"

#include <gtest/gtest.h>

namespace cinevault::ingest {
namespace {

struct Collected {
  std::vector<PartHeader> headers;
  std::vector<std::string> bodies;
};

MultipartParser::Handler collect(Collected& out) {
  return {[&out](const PartHeader& h) -> Result<void> {
            out.headers.push_back(h);
            out.bodies.emplace_back();
            return {};
          },
          [&out](const char* data, std::size_t size) -> Result<void> {
            out.bodies.back().append(data, size);
            return {};
          },
          []() -> Result<void> { return {}; }};
}

const std::string kBody =
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n\r\n"
    "My movie\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a b.mp4\"\r\n"
    "Content-Type: video/mp4\r\n\r\n"
    "--XyZ\r\n--Xy\r\n--X"  // looks like a delimiter, but without the CRLF before it, or incomplete
    "\r\n--XyZ--\r\n";

TEST(Multipart, BoundaryFromContentType) {
  EXPECT_EQ(MultipartParser::boundary_of("multipart/form-data; boundary=XyZ").value(), "XyZ");
  EXPECT_EQ(MultipartParser::boundary_of("multipart/form-data; boundary=\"a b\"").value(), "a b");
  EXPECT_EQ(MultipartParser::boundary_of("application/json").error().code, ErrorCode::unsupported_media);
  EXPECT_FALSE(MultipartParser::boundary_of("multipart/form-data"));
}

// Whatever way the body is cut into pieces, the parts come out the same.
TEST(Multipart, ParsesFieldsAndFileAtEverySplit) {
  for (std::size_t piece = 1; piece <= kBody.size(); ++piece) {
    Collected out;
    MultipartParser parser("XyZ", collect(out));
    for (std::size_t i = 0; i < kBody.size(); i += piece) {
      auto fed = parser.feed(kBody.data() + i, std::min(piece, kBody.size() - i));
      ASSERT_TRUE(fed) << "piece " << piece << ": " << fed.error().message;
    }
    ASSERT_TRUE(parser.finish()) << "piece " << piece;
    ASSERT_EQ(out.headers.size(), 2u) << "piece " << piece;
    EXPECT_EQ(out.headers[0].name, "title");
    EXPECT_EQ(out.bodies[0], "My movie");
    EXPECT_EQ(out.headers[1].name, "file");
    EXPECT_EQ(out.headers[1].filename, "a b.mp4");
    EXPECT_EQ(out.headers[1].content_type, "video/mp4");
    EXPECT_EQ(out.bodies[1], "--XyZ\r\n--Xy\r\n--X") << "piece " << piece;
  }
}

TEST(Multipart, TruncatedBodyFailsAtFinish) {
  Collected out;
  MultipartParser parser("XyZ", collect(out));
  ASSERT_TRUE(parser.feed(kBody.data(), kBody.size() - 10));
  EXPECT_FALSE(parser.finish());
}

TEST(Multipart, HandlerErrorsStopTheParse) {
  MultipartParser parser("XyZ", {[](const PartHeader&) -> Result<void> { return {}; },
                                 [](const char*, std::size_t) -> Result<void> { return fail(ErrorCode::too_large, "full"); },
                                 []() -> Result<void> { return {}; }});
  auto fed = parser.feed(kBody.data(), kBody.size());
  ASSERT_FALSE(fed);
  EXPECT_EQ(fed.error().code, ErrorCode::too_large);
}

TEST(Multipart, RefusesPartsWithoutDispositionAndHugeHeaders) {
  Collected out;
  MultipartParser no_disposition("B", collect(out));
  std::string body = "--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--\r\n";
  EXPECT_FALSE(no_disposition.feed(body.data(), body.size()));
  MultipartParser huge("B", collect(out));
  std::string big = "--B\r\nX-Pad: " + std::string(20000, 'a');
  EXPECT_FALSE(huge.feed(big.data(), big.size()));
}

}  // namespace
}  // namespace cinevault::ingest
