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
    server_ = make_server(config, false, std::move(routes),
                          [](const std::string&) -> Result<std::optional<std::string>> { return std::nullopt; });
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

}  // namespace
}  // namespace cinevault::http
