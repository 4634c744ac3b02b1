// libFuzzer target: raw bytes on a connection to the real HTTP server (make_server), end
// to end. check_framing() is internal to src/http/server.cpp, so it is reached the way a
// client reaches it: the input is written to a loopback connection of a server started
// once per process, the write side is shut, and the response read until the server
// closes. Exercises Beast's parser with our limits, the framing checks (Transfer-Encoding,
// Content-Length, Host), parse_target, the router, body limits and keep-alive pipelining.
// The server's own threads run the request; its coverage still counts for this input,
// because the input is not done until the server has answered and closed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cinevault/http/server.hpp"

namespace {

using namespace cinevault;
using http::Access;
using http::BodyKind;
using http::RequestContext;
using http::Response;
using http::Route;
using http::Verb;

class DiscardSink : public http::BodySink {
 public:
  Result<void> write(const char*, std::size_t) override { return {}; }
};

Response ok(RequestContext& request) {
  return http::json_response(200, {{"path", request.path}, {"bytes", request.body.size()}});
}

std::vector<Route> routes() {
  std::vector<Route> table;
  auto add = [&](Verb method, const char* pattern, Access access = Access::read, BodyKind body = BodyKind::none) {
    Route route{method, pattern, &ok, access, body};
    route.blocking = false;
    if (body == BodyKind::stream)
      route.open_sink = [](RequestContext&) -> Result<std::unique_ptr<http::BodySink>> { return std::make_unique<DiscardSink>(); };
    table.push_back(std::move(route));
  };
  add(Verb::get, "/healthz", Access::open);
  add(Verb::get, "/api/v1/videos/{}");
  add(Verb::patch, "/api/v1/videos/{}", Access::open, BodyKind::text);
  add(Verb::post, "/api/v1/videos", Access::open, BodyKind::stream);
  add(Verb::post, "/api/v1/uploads", Access::upload, BodyKind::none);
  add(Verb::patch, "/api/v1/uploads/{}", Access::open, BodyKind::stream);
  add(Verb::get, "/videos/{}/master.m3u8");
  add(Verb::get, "/objects/{}");
  // A small text limit of its own, to reach the "larger than the limit" refusal.
  Route small{Verb::post, "/api/v1/jobs/{}/retry", &ok, Access::open, BodyKind::text, 16};
  small.blocking = false;
  table.push_back(std::move(small));
  return table;
}

// Never destroyed: run() is on a detached thread, and destroying a server whose run() has
// not returned would race with it (both join the blocking pool) and hang the exit.
http::Server* server = nullptr;
std::uint16_t port = 0;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  HttpConfig config;
  config.listen = "127.0.0.1:0";
  config.io_threads = 1;
  config.blocking_threads = 1;
  config.max_header_bytes = 4096;
  config.max_url_bytes = 512;
  config.max_json_body_bytes = 1024;
  config.idle_timeout_s = 2;
  config.header_timeout_s = 2;
  config.body_stall_timeout_s = 2;
  config.write_timeout_s = 2;
  config.access_log = false;
  http::Gate gate;
  gate.authenticate = [](const http::Credentials& credentials) -> Result<std::optional<Principal>> {
    if (credentials.bearer == "fuzz-key") return Principal{1, "fuzz", Role::admin, "key1", ""};
    if (credentials.session == "fuzz-session") return Principal{2, "cookie", Role::uploader, std::nullopt, "csrf"};
    return std::optional<Principal>();
  };
  gate.verify_share = [](std::string_view token) -> Result<ShareGrant> {
    if (token == "fuzz-share") return ShareGrant{"video", 0, "fuzz-share"};
    return fail(ErrorCode::forbidden, "not a valid share link");
  };
  server = http::make_server(config, std::move(gate), routes()).release();
  if (auto listening = server->listen(); !listening) {
    std::fprintf(stderr, "fuzz_http_request: listen failed: %s\n", listening.error().message.c_str());
    std::abort();
  }
  port = server->port();
  std::thread([] { server->run(); }).detach();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) std::abort();
  // Each connection from its own address in 127.0.0.0/8 and closed with a reset: a thousand
  // connections a second would otherwise use up the ephemeral ports of one address pair in
  // TIME_WAIT (the server closes first on a refusal) and fail connect() within a minute.
  static std::uint32_t next_source = 0;
  sockaddr_in source{};
  source.sin_family = AF_INET;
  source.sin_addr.s_addr = htonl(0x7f000002u + (next_source++ % 0xfffff0u));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) std::perror("bind"), std::abort();
  linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    // A signal (libFuzzer's own timers) can interrupt connect(); the connection still goes on:
    // wait for it and take its outcome.
    if (errno != EINTR) std::perror("connect"), std::abort();
    pollfd connecting{fd, POLLOUT, 0};
    while (::poll(&connecting, 1, 8000) < 0 && errno == EINTR) {
    }
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) std::perror("getsockopt"), std::abort();
    if (error != 0) errno = error, std::perror("connect"), std::abort();
  }
  // Longer than the server's own timeouts: a connection the server never closes is a bug.
  timeval limit{8, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);

  std::size_t sent = 0;
  while (sent < size) {
    ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server closed early (a refusal): fine
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);

  std::string response;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      response.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      std::fprintf(stderr, "fuzz_http_request: the server neither answered nor closed within 8 s\n");
      std::abort();
    }
    break;  // closed (0) or reset
  }
  ::close(fd);
  if (!response.empty() && response.rfind("HTTP/1.1 ", 0) != 0) {
    std::fprintf(stderr, "fuzz_http_request: response does not start with a status line\n");
    std::abort();
  }
  return 0;
}
