// The HTTP/1.1 server: Boost.Beast on Asio, keep-alive, limits, timeouts, auth, access log.
//
// Threads: http.io_threads run the network event loop only; handlers marked blocking (and
// every SinkFactory and Gate::authenticate call) run on a separate pool of http.blocking_threads.
// A connection's steps run on its own strand, one at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cinevault/core/config.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/http/types.hpp"

namespace cinevault::http {

// What a request presents to prove who sends it.
struct Credentials {
  std::string bearer;   // Authorization: Bearer <key>
  std::string session;  // the session cookie's value
};

// Who may pass (see Access): the server asks these before a route's handler runs.
struct Gate {
  bool anonymous_reads = true;  // false: auth.require_key_for_reads
  std::string session_cookie = "cinevault_session";
  // The user behind the credentials, or nullopt when they are wrong, revoked or expired (the
  // request is answered 401). Runs on the blocking pool.
  std::function<Result<std::optional<Principal>>(const Credentials&)> authenticate;
  // A share link's grant from the `share` query value; an error (forbidden) for an expired,
  // altered or revoked one. Runs on the I/O thread: memory and CPU only.
  std::function<Result<ShareGrant>(std::string_view token)> verify_share;
};

class Server {
 public:
  virtual ~Server() = default;

  // Binds and listens. Fails (with a message naming the address) if the port is taken.
  virtual Result<void> listen() = 0;
  virtual std::uint16_t port() const = 0;
  // Runs until a shutdown completes: the first SIGTERM/SIGINT (or shutdown()) stops
  // accepting, closes idle connections and lets requests in flight finish for up to
  // http.shutdown_grace_s; a second signal stops at once.
  virtual void run() = 0;
  virtual void shutdown() = 0;  // thread-safe
  virtual bool draining() const = 0;
  // Whether every event loop runs a posted task within WITHIN (thread-safe): what a service
  // manager's watchdog should hear about, rather than that the process exists.
  virtual bool loops_answer(std::chrono::milliseconds within) = 0;
};

std::unique_ptr<Server> make_server(const HttpConfig& config, Gate gate, std::vector<Route> routes);

}  // namespace cinevault::http
