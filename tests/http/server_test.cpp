#include "cinevault/http/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace cinevault::http {
namespace {

// One request on a fresh connection to 127.0.0.1:port, read until the server closes it.
std::string round_trip(std::uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    if (fd >= 0) ::close(fd);
    return "";
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  return response;
}

struct Answer {
  int status = 0;
  std::string body;
};

Answer get(std::uint16_t port, const std::string& path) {
  std::string raw = round_trip(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  Answer answer;
  if (raw.size() > 12) answer.status = std::stoi(raw.substr(9, 3));
  auto end = raw.find("\r\n\r\n");
  if (end != std::string::npos) answer.body = raw.substr(end + 4);
  return answer;
}

// A real server on a loopback port whose routes throw in every place a route can.
class ThrowingRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpConfig config;
    config.listen = "127.0.0.1:0";
    config.io_threads = 2;
    config.blocking_threads = 2;
    config.access_log = false;
    auto boom = [](RequestContext&) -> Response { throw std::runtime_error("boom in /srv/secret/path"); };
    std::vector<Route> routes = {
        {.method = Verb::get, .pattern = "/ok", .handler = [](RequestContext&) -> Response {
           return json_response(200, {{"ok", true}});
         }},
        {.method = Verb::get, .pattern = "/throws", .handler = boom},
        {.method = Verb::get, .pattern = "/throws-on-the-io-thread", .handler = boom, .blocking = false},
        {.method = Verb::get, .pattern = "/throws-something-else", .handler = [](RequestContext&) -> Response {
           throw 42;
         }},
        {.method = Verb::get, .pattern = "/throws-fast", .handler = boom,
         .fast = [](RequestContext&) -> std::optional<Response> { throw std::logic_error("fast boom"); }},
        {.method = Verb::get, .pattern = "/throws-decorating", .handler = [](RequestContext&) -> Response {
           return json_response(200, {{"ok", true}});
         },
         .decorate = [](Response&) { throw std::runtime_error("decorate boom"); }},
    };
    Gate gate;
    gate.authenticate = [](const Credentials&) -> Result<std::optional<Principal>> { return std::nullopt; };
    gate.verify_share = [](std::string_view) -> Result<ShareGrant> { return fail(ErrorCode::forbidden, "no"); };
    server_ = make_server(config, std::move(gate), std::move(routes));
    ASSERT_TRUE(server_->listen().has_value());
    port_ = server_->port();
    thread_ = std::thread([this] { server_->run(); });
  }

  void TearDown() override {
    server_->shutdown();
    thread_.join();
  }

  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

TEST_F(ThrowingRoutes, AThrowingHandlerIsA500AndTheServerGoesOnServing) {
  for (const char* path : {"/throws", "/throws-on-the-io-thread", "/throws-something-else", "/throws-fast",
                           "/throws-decorating"}) {
    SCOPED_TRACE(path);
    Answer answer = get(port_, path);
    ASSERT_EQ(answer.status, 500) << answer.body;
    auto body = nlohmann::json::parse(answer.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << answer.body;
    EXPECT_EQ(body["error"]["code"], "internal");
    std::string message = body["error"]["message"];
    EXPECT_NE(message.find("request"), std::string::npos) << message;
    EXPECT_EQ(message.find("boom"), std::string::npos) << "no internals in the answer: " << message;
    EXPECT_EQ(get(port_, "/ok").status, 200) << "still serving after " << path;
  }
}

TEST_F(ThrowingRoutes, ARequestThatIsNotUtf8IsA400ThatDoesNotEchoIt) {
  Answer answer = get(port_, "/ok\xff\xfe");
  EXPECT_EQ(answer.status, 400) << answer.body;
  EXPECT_EQ(answer.body.find('\xff'), std::string::npos);
  EXPECT_EQ(get(port_, "/ok?title=caf%E9").status, 400);
  EXPECT_EQ(get(port_, "/ok").status, 200);
}

// A real server whose gate knows two keys (an admin's, a viewer's), one session and one share
// link: each Access level, and changes made with the cookie from another site.
class GatedRoutes : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    HttpConfig config;
    config.listen = "127.0.0.1:0";
    config.io_threads = 1;
    config.blocking_threads = 1;
    config.access_log = false;
    auto ok = [](RequestContext& request) -> Response {
      return json_response(200, {{"user", request.principal ? request.principal->name : ""},
                                 {"share", request.share ? request.share->video_id : ""}});
    };
    std::vector<Route> routes;
    for (auto [access, path] : {std::pair{Access::read, "/read"}, {Access::user, "/user"}, {Access::upload, "/upload"},
                                {Access::admin, "/admin"}, {Access::open, "/open"}}) {
      routes.push_back({.method = Verb::get, .pattern = path, .handler = ok, .access = access});
      routes.push_back({.method = Verb::post, .pattern = path, .handler = ok, .access = access});
    }
    Gate gate;
    gate.anonymous_reads = GetParam();
    gate.authenticate = [](const Credentials& c) -> Result<std::optional<Principal>> {
      if (c.bearer == "admin-key") return Principal{1, "ada", Role::admin, "k1", ""};
      if (c.bearer == "viewer-key") return Principal{2, "vic", Role::viewer, "k2", ""};
      if (c.bearer.empty() && c.session == "s3cret") return Principal{3, "sam", Role::uploader, std::nullopt, "tok"};
      return std::nullopt;
    };
    gate.verify_share = [](std::string_view token) -> Result<ShareGrant> {
      if (token == "good") return ShareGrant{"v1", 0, "good"};
      return fail(ErrorCode::forbidden, "not a valid link");
    };
    server_ = make_server(config, std::move(gate), std::move(routes));
    ASSERT_TRUE(server_->listen().has_value());
    thread_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    server_->shutdown();
    thread_.join();
  }
  int status(const std::string& method, const std::string& path, const std::string& headers = "") {
    std::string raw = round_trip(server_->port(), method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n" +
                                                      headers + "Content-Length: 0\r\nConnection: close\r\n\r\n");
    return raw.size() > 12 ? std::stoi(raw.substr(9, 3)) : 0;
  }

  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_P(GatedRoutes, EachAccessLevelAsksForWhatItNeeds) {
  const bool anonymous_reads = GetParam();
  EXPECT_EQ(status("GET", "/open"), 200);
  EXPECT_EQ(status("GET", "/read"), anonymous_reads ? 200 : 401);
  EXPECT_EQ(status("GET", "/read?share=good"), 200) << "a share link opens reads";
  EXPECT_EQ(status("GET", "/read?share=forged"), 403);
  EXPECT_EQ(status("GET", "/user?share=good"), 401) << "a share link is not a user";
  EXPECT_EQ(status("GET", "/user"), 401);
  EXPECT_EQ(status("GET", "/user", "Authorization: Bearer wrong\r\n"), 401);
  EXPECT_EQ(status("GET", "/read", "Authorization: Basic eDp5\r\n"), 401) << "credentials sent are checked";
  EXPECT_EQ(status("GET", "/user", "Authorization: Bearer viewer-key\r\n"), 200);
  EXPECT_EQ(status("GET", "/upload", "Authorization: Bearer viewer-key\r\n"), 403);
  EXPECT_EQ(status("GET", "/admin", "Authorization: Bearer viewer-key\r\n"), 403);
  EXPECT_EQ(status("GET", "/admin", "Authorization: Bearer admin-key\r\n"), 200);
  EXPECT_EQ(status("GET", "/upload", "Cookie: theme=dark; cinevault_session=s3cret\r\n"), 200);
  EXPECT_EQ(status("GET", "/user", "Cookie: cinevault_session=stale\r\n"), 401);
}

TEST_P(GatedRoutes, AChangeMadeWithTheCookieNeedsItsTokenAndOurOrigin) {
  const std::string cookie = "Cookie: cinevault_session=s3cret\r\n";
  EXPECT_EQ(status("POST", "/user", cookie), 403) << "no X-CSRF-Token";
  EXPECT_EQ(status("POST", "/user", cookie + "X-CSRF-Token: wrong\r\n"), 403);
  EXPECT_EQ(status("POST", "/user", cookie + "X-CSRF-Token: tok\r\n"), 200);
  EXPECT_EQ(status("POST", "/user", cookie + "X-CSRF-Token: tok\r\nOrigin: http://127.0.0.1:8080\r\n"), 200);
  EXPECT_EQ(status("POST", "/user", cookie + "X-CSRF-Token: tok\r\nOrigin: http://evil.example\r\n"), 403);
  EXPECT_EQ(status("POST", "/open", cookie), 200) << "open routes ignore credentials";
  // A key is never sent by a browser on its own: no token needed.
  EXPECT_EQ(status("POST", "/user", "Authorization: Bearer viewer-key\r\n"), 200);
}

INSTANTIATE_TEST_SUITE_P(AnonymousReads, GatedRoutes, ::testing::Bool());

}  // namespace
}  // namespace cinevault::http
