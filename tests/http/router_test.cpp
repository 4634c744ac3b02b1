#include "cinevault/http/router.hpp"

#include <gtest/gtest.h>

namespace cinevault::http {
namespace {

Response ok(RequestContext&) { return empty_response(200); }

TEST(Target, DecodesPathAndQuery) {
  auto t = parse_target("/api/v1/videos?title=My%20movie&tags=a,b&flag");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/api/v1/videos");
  EXPECT_EQ(t->query["title"], "My movie");
  EXPECT_EQ(t->query["tags"], "a,b");
  EXPECT_EQ(t->query["flag"], "");
  EXPECT_EQ(parse_target("/a?q=x+y")->query["q"], "x y");
  // Empty segments are kept, decoded or not.
  EXPECT_EQ(parse_target("/a//b/")->path, "/a//b/");
  EXPECT_EQ(parse_target("/a//b%20c/")->path, "/a//b c/");
  EXPECT_EQ(parse_target("/")->path, "/");
}

TEST(Target, RefusesPathsThatCouldEscape) {
  using namespace std::string_view_literals;
  // Paths with nothing to decode are checked in place, the others once decoded: both kinds here.
  for (std::string_view bad : {"/objects/../etc/passwd"sv, "/a/./b"sv, "/a/.."sv, "/a\\b"sv, "/a\0b"sv,
                               "/a/%2e%2e/b"sv, "/a/%2E%2E"sv, "/a%2fb"sv, "/a%00b"sv, "/a/%5c.."sv, "relative"sv, ""sv,
                               "/a%zz"sv, "/a%4"sv}) {
    auto t = parse_target(bad);
    EXPECT_FALSE(t) << bad;
    if (!t) {
      EXPECT_EQ(t.error().code, ErrorCode::invalid_argument) << bad;
    }
  }
}

TEST(Target, TakesUtf8AndRefusesOtherBytesWithoutEchoingThem) {
  auto t = parse_target("/videos/caf%C3%A9?title=%E6%97%A5%E6%9C%AC");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/videos/caf\xc3\xa9");
  EXPECT_EQ(t->query["title"], "\xe6\x97\xa5\xe6\x9c\xac");
  for (const char* bad : {"/videos/%FF", "/videos/\xff", "/a%C3", "/a%C0%AF", "/a?title=caf%E9", "/a?%FE=1", "/a?q=%ED%A0%80"}) {
    auto refused = parse_target(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().code, ErrorCode::invalid_argument) << bad;
    EXPECT_NE(refused.error().message.find("UTF-8"), std::string::npos) << refused.error().message;
  }
}

TEST(Router, MatchesPlaceholdersAndMethods) {
  Router router({{Verb::get, "/api/v1/videos", ok},
                 {Verb::get, "/api/v1/videos/{}", ok},
                 {Verb::delete_, "/api/v1/videos/{}", ok},
                 {Verb::head, "/api/v1/uploads/{}", ok},
                 {Verb::get, "/api/v1/uploads/{}", ok},
                 {Verb::get, "/", ok},
                 {Verb::get, "/objects/{}/{}", ok}});
  std::string allowed;
  auto m = router.match(Verb::get, "/api/v1/videos/abc", &allowed);
  ASSERT_TRUE(m && m->route);
  EXPECT_EQ(m->params, std::vector<std::string>{"abc"});
  EXPECT_EQ(m->route->method, Verb::get);

  auto wrong_method = router.match(Verb::put, "/api/v1/videos/abc", &allowed);
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->route, nullptr);
  EXPECT_EQ(allowed, "GET, DELETE");

  EXPECT_EQ(router.match(Verb::get, "/api/v1/videos/abc/extra", nullptr).error().code, ErrorCode::not_found);
  EXPECT_EQ(router.match(Verb::get, "/api/v1/videos/", nullptr).error().code, ErrorCode::not_found);
  EXPECT_EQ(router.match(Verb::get, "/api/v1//abc", nullptr).error().code, ErrorCode::not_found);
  EXPECT_EQ(router.match(Verb::get, "/objects/a/", nullptr).error().code, ErrorCode::not_found);
  EXPECT_EQ(router.match(Verb::get, "/objects/a/b", nullptr)->params, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(router.match(Verb::get, "/", nullptr)->route->pattern, "/");
  // HEAD goes to an explicit HEAD route before the GET one; elsewhere GET answers HEAD.
  EXPECT_EQ(router.match(Verb::head, "/api/v1/uploads/x", nullptr)->route->method, Verb::head);
  EXPECT_EQ(router.match(Verb::head, "/api/v1/videos", nullptr)->route->method, Verb::get);
}

TEST(Errors, OneStatusPerErrorKindAndAJsonBody) {
  EXPECT_EQ(status_for(ErrorCode::unsupported_media), 415u);
  EXPECT_EQ(status_for(ErrorCode::unprocessable), 422u);
  EXPECT_EQ(status_for(ErrorCode::checksum_mismatch), 460u);
  EXPECT_EQ(status_for(ErrorCode::locked), 423u);
  EXPECT_EQ(status_for(ErrorCode::too_many), 429u);
  EXPECT_EQ(status_for(ErrorCode::insufficient_storage), 507u);
  // A full disk is the client's to know about: its message is theirs too.
  auto full = error_response({ErrorCode::insufficient_storage, "not enough disk space"});
  EXPECT_NE(full.body().find("not enough disk space"), std::string::npos);
  auto r = error_response({ErrorCode::not_found, "no such video"});
  EXPECT_EQ(r.result_int(), 404u);
  EXPECT_EQ(r.body(), "{\"error\":{\"code\":\"not_found\",\"message\":\"no such video\"}}\n");
  // Internal details stay in the log.
  auto internal = error_response({ErrorCode::io, "open /srv/secret/path: EACCES"});
  EXPECT_EQ(internal.body().find("/srv/secret"), std::string::npos);
}

}  // namespace
}  // namespace cinevault::http
