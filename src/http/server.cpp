#include "cinevault/http/server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <iterator>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <sys/sendfile.h>
#include <sys/socket.h>

#include <cerrno>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cinevault/core/text.hpp"
#include "cinevault/http/router.hpp"
#include "gate.hpp"
#include "sink_body.hpp"

namespace cinevault::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
// A connection's socket is bound to its own event loop's executor, not a type-erased one:
// every operation's completion goes straight to that loop.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;

// The first read of a request; the header parser reads on if the header is longer. Small,
// because an idle keep-alive connection keeps this buffer (10,000 idle connections).
constexpr std::size_t kIdleReadChunk = 4 * 1024;
// What a streamed request body (an upload) is read into, at most this much at once. Beast's
// own body read stops at 64 KiB; reading 1 MiB at once took 15 % less CPU per GiB uploaded
// (docs/performance.md). Only while a body is read: read_idle gives the buffer back.
constexpr std::size_t kBodyReadChunk = 1 << 20;
// Largest piece handed to sendfile at once, so that one big download does not hold an I/O
// thread while other connections wait.
constexpr std::size_t kSendfileChunk = 1 << 20;
// How often each event loop looks for connections past their deadline: the timeouts are whole
// seconds, so they end at most this much late.
constexpr std::chrono::milliseconds kSweepInterval{250};

// Which Host names requests may carry (http.allowed_hosts). A page on another site can make a
// browser send requests to 127.0.0.1 under its own name (DNS rebinding): a server on loopback
// answers only to loopback names unless told otherwise.
class HostPolicy {
 public:
  explicit HostPolicy(const HttpConfig& config) {
    std::string_view list = config.allowed_hosts;
    while (!list.empty()) {
      auto comma = list.find(',');
      std::string name = ascii_lower(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      if (name == "*") any_ = true;
      else if (!name.empty()) names_.push_back(std::move(name));
    }
    if (!config.allowed_hosts.empty()) return;
    auto listen = split_listen(config.listen);
    beast::error_code ec;
    auto address = listen ? asio::ip::make_address(listen->host, ec) : asio::ip::address();
    if (!listen || ec || !address.is_loopback()) {
      any_ = true;
      return;
    }
    names_ = {"localhost", "127.0.0.1", "[::1]", ascii_lower(address.is_v6() ? "[" + listen->host + "]" : listen->host)};
  }

  // `host` is a Host header: a name or address and an optional port ("[::1]:8080"). Runs for
  // every request: compares in place, builds no string.
  bool allows(std::string_view host) const {
    if (any_) return true;
    std::size_t end = host.size();
    if (!host.empty() && host.front() == '[') end = std::min(end, host.find(']') + 1);
    else if (auto colon = host.rfind(':'); colon != std::string_view::npos) end = colon;
    std::string_view name = host.substr(0, end);
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    return std::any_of(names_.begin(), names_.end(), [&](const std::string& allowed) {
      return ascii_iequals(name, allowed);
    });
  }

 private:
  bool any_ = false;
  std::vector<std::string> names_;
};

// What every connection shares; owned by the server, outlives every session.
struct Shared {
  Shared(HttpConfig c, Gate g, Router r, asio::thread_pool* pool)
      : config(std::move(c)), hosts(config), gate(std::move(g)), router(std::move(r)), blocking_pool(pool) {}
  HttpConfig config;
  HostPolicy hosts;
  Gate gate;
  Router router;
  asio::thread_pool* blocking_pool = nullptr;
  std::atomic<int> active_sessions{0};
  std::atomic<bool> draining{false};

  // Open connections per client address (http.max_connections_per_address).
  bool admit(const std::string& address) {
    std::lock_guard lock(addresses_mutex);
    int& open = per_address[address];
    if (open >= config.max_connections_per_address) {
      if (open == 0) per_address.erase(address);
      return false;
    }
    ++open;
    return true;
  }
  void release(const std::string& address) {
    std::lock_guard lock(addresses_mutex);
    auto it = per_address.find(address);
    if (it != per_address.end() && --it->second <= 0) per_address.erase(it);
  }
  std::mutex addresses_mutex;
  std::unordered_map<std::string, int> per_address;
  std::atomic<std::uint64_t> next_request_id{1};  // names a request in the log and in a 500
  std::function<void()> on_session_closed;  // lets the server finish a drain
};

std::string_view field_value(const RequestHeader& header, beast_http::field field) {
  auto it = header.find(field);
  return it == header.end() ? std::string_view() : std::string_view(it->value().data(), it->value().size());
}

std::string_view view(beast::string_view text) { return {text.data(), text.size()}; }

// RFC 9112 §6: Beast 1.74 reads an unknown Transfer-Encoding as "no body" and does not
// check Host, so request framing is checked here, and any failure closes the connection.
std::optional<Error> check_framing(const RequestHeader& header) {
  std::size_t te_count = 0, cl_count = 0, host_count = 0;
  std::string_view te, cl;
  for (auto& field : header) {
    if (field.name() == beast_http::field::transfer_encoding) ++te_count, te = std::string_view(field.value().data(), field.value().size());
    if (field.name() == beast_http::field::content_length) ++cl_count, cl = std::string_view(field.value().data(), field.value().size());
    if (field.name() == beast_http::field::host) ++host_count;
  }
  if (te_count > 0) {
    if (header.version() < 11) return Error{ErrorCode::invalid_argument, "Transfer-Encoding is not allowed in HTTP/1.0"};
    if (te_count > 1 || !ascii_iequals(te, "chunked")) {
      if (te.find("chunked") != std::string_view::npos || te_count > 1)
        return Error{ErrorCode::invalid_argument, "Transfer-Encoding must be exactly 'chunked'"};
      return Error{ErrorCode::invalid_argument, "unsupported Transfer-Encoding"};
    }
    if (cl_count > 0) return Error{ErrorCode::invalid_argument, "both Transfer-Encoding and Content-Length"};
  }
  if (cl_count > 1) return Error{ErrorCode::invalid_argument, "more than one Content-Length"};
  if (cl_count == 1 && (cl.empty() || cl.find_first_not_of("0123456789") != std::string_view::npos || cl.size() > 19))
    return Error{ErrorCode::invalid_argument, "Content-Length is not a number"};
  if (header.version() >= 11 && host_count != 1) return Error{ErrorCode::invalid_argument, "exactly one Host header is required"};
  return std::nullopt;
}

class LoopSessions;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Socket&& socket, std::shared_ptr<Shared> shared, LoopSessions& home)
      : socket_(std::move(socket)), shared_(std::move(shared)), home_(home) {
    beast::error_code ec;
    auto endpoint = socket_.remote_endpoint(ec);
    if (!ec) {
      address_ = endpoint.address().to_string();
      remote_ = address_ + ":" + std::to_string(endpoint.port());
    }
    // File bodies are written with sendmsg and sendfile on the descriptor itself.
    socket_.native_non_blocking(true, ec);
  }

  ~Session() {
    if (admitted_) shared_->release(address_);
    if (counted_) {
      shared_->active_sessions.fetch_sub(1);
      if (shared_->on_session_closed) shared_->on_session_closed();
    }
  }

  // Takes one of the client address's connections; false when it holds all it may.
  bool admit() { return admitted_ = shared_->admit(address_); }

  void start();

  // Over a connection cap: say so and close.
  void refuse_over_capacity(const char* message);

  // Graceful shutdown: an idle connection closes now, a busy one after its response. On the
  // connection's loop.
  void drain() {
    close_after_response_ = true;
    if (!busy_) close();
  }

  // On the connection's loop, from its sweep: a connection whose read or write has taken past
  // its deadline is ended (the pending operation completes with operation_aborted). The
  // deadline stays: if the operation had just completed, the cancel finds nothing, and the
  // next sweep ends what the connection does next unless it set a new deadline.
  void end_if_late(Clock::time_point now) {
    if (now < deadline_) return;
    timed_out_ = true;
    beast::error_code ignored;
    socket_.cancel(ignored);
  }

 private:
  // Waits for the first byte of the next request under the idle timeout (the shorter first
  // byte timeout on a new connection: a socket opened to hold a place is let go soon).
  void read_idle() {
    if (shared_->draining.load()) return close();
    if (buffer_.size() > 0) return read_header();  // a pipelined request is already here
    // Give back what a large request needed; the usual small buffer is kept, since the read
    // below needs one anyway.
    if (buffer_.capacity() > kIdleReadChunk) buffer_.shrink_to_fit();
    set_deadline(answered_ == 0 ? shared_->config.first_byte_timeout_s : shared_->config.idle_timeout_s);
    socket_.async_read_some(buffer_.prepare(kIdleReadChunk),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  void read_header() {
    busy_ = true;
    started_ = Clock::now();
    request_id_ = shared_->next_request_id.fetch_add(1);
    header_parser_.emplace();
    header_parser_->header_limit(static_cast<std::uint32_t>(shared_->config.max_header_bytes));
    // Beast checks Content-Length against a default 1 MiB limit while reading the header;
    // the route's own limit is applied once it is known.
    header_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    // Usually the whole header came with the first read: parse it here, rather than through
    // async_read_header, which would post its completion through the loop once more.
    if (buffer_.size() > 0) {
      beast::error_code ec;
      buffer_.consume(header_parser_->put(buffer_.data(), ec));
      if (ec != beast_http::error::need_more) return guarded("reading the request", [&] { on_header(ec); });
    }
    set_deadline(shared_->config.header_timeout_s);
    beast_http::async_read_header(socket_, buffer_, *header_parser_,
                                  [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                    self->guarded("reading the request", [&] { self->on_header(ec); });
                                  });
  }

  void on_header(beast::error_code ec) {
    if (ec == beast_http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::eof || ec == asio::error::connection_reset)
      return close();
    close_after_response_ = true;  // until the request is known to be well framed
    if (ec == beast_http::error::header_limit)
      return send(json_response(431, {{"error", {{"code", "header_too_large"}, {"message", "request header fields too large"}}}}));
    if (ec) return send(error_response({ErrorCode::invalid_argument, "malformed request: " + ec.message()}));

    const RequestHeader& header = header_parser_->get().base();
    method_.assign(view(header.method_string()));  // assign: keeps the capacity of earlier requests
    target_.assign(view(header.target()));
    if (auto framing = check_framing(header)) {
      unsigned status = framing->message == "unsupported Transfer-Encoding" ? 501 : 400;
      auto response = error_response(*framing);
      response.result(status);
      return send(std::move(response));
    }
    if (auto host = field_value(header, beast_http::field::host); !host.empty() && !shared_->hosts.allows(host)) {
      std::string message = "this server does not answer to that host name (see http.allowed_hosts)";
      return send(json_response(421, {{"error", {{"code", "misdirected"}, {"message", message}}}}));
    }
    if (header.target().size() > static_cast<std::size_t>(shared_->config.max_url_bytes))
      return send(json_response(414, {{"error", {{"code", "uri_too_long"}, {"message", "the request target is too long"}}}}));
    has_body_ = header_parser_->chunked() || header_parser_->content_length().value_or(0) > 0;
    close_after_response_ = !header_parser_->keep_alive();

    auto target = parse_target(view(header.target()));
    if (!target) return reject(target.error());
    credentials_ = Credentials{};  // ctx_ was emptied after the last answer (on_write)
    ctx_.header = &header;
    ctx_.path = std::move(target->path);
    ctx_.query = std::move(target->query);
    ctx_.remote = remote_;

    std::string allowed;
    auto match = shared_->router.match(header.method(), ctx_.path, &allowed);
    if (!match) return reject(match.error());
    if (!match->route) {
      auto response = error_response({ErrorCode::invalid_argument, "method not allowed here"});
      response.result(405);
      response.set(beast_http::field::allow, allowed);
      return reject(std::move(response));
    }
    route_ = match->route;
    ctx_.params = std::move(match->params);

    if (route_->body == BodyKind::none && has_body_)
      return reject(Error{ErrorCode::invalid_argument, "this request takes no body"});
    std::uint64_t limit = body_limit();
    if (header_parser_->content_length().value_or(0) > limit)
      return reject(Error{ErrorCode::too_large, "the request body is larger than the limit of " + std::to_string(limit) + " bytes"});

    // A share link opens reads of what it grants without looking at credentials.
    bool check_credentials = false;
    if (route_->access != Access::open) {
      if (auto token = ctx_.query_value("share")) {
        auto grant = shared_->gate.verify_share(*token);
        if (!grant) return reject(grant.error());
        ctx_.share = std::move(*grant);
      }
      auto credentials = credentials_of(header, shared_->gate.session_cookie);
      if (!credentials) return reject(credentials.error());
      credentials_ = std::move(*credentials);
      check_credentials = !credentials_.bearer.empty() ||
                          (!credentials_.session.empty() && !(ctx_.share && route_->access == Access::read));
    }
    if (!check_credentials) {
      if (auto refused = refusal(*route_, ctx_, shared_->gate)) return reject(*refused);
      if (route_->body != BodyKind::stream) return read_body();
    }
    run_blocking([self = shared_from_this(), check_credentials]() -> std::optional<Response> {
      if (check_credentials) {
        if (auto denied = self->authenticate()) return Response(error_response(*denied));
        if (auto refused = refusal(*self->route_, self->ctx_, self->shared_->gate)) return Response(error_response(*refused));
      }
      if (self->route_->body == BodyKind::stream) {
        auto sink = self->route_->open_sink(self->ctx_);
        if (!sink) return Response(error_response(sink.error()));
        self->sink_.sink = std::move(*sink);
      }
      return std::nullopt;
    }, [self = shared_from_this()](std::optional<Response> refused) {
      if (refused) return self->reject(std::move(*refused));
      self->read_body();
    });
  }

  std::uint64_t body_limit() const {
    if (route_->max_body_bytes > 0) return route_->max_body_bytes;
    return static_cast<std::uint64_t>(shared_->config.max_json_body_bytes);
  }

  std::optional<Error> authenticate() {
    auto principal = shared_->gate.authenticate(credentials_);
    if (!principal) return principal.error();
    if (!*principal) {
      if (!credentials_.bearer.empty()) return Error{ErrorCode::unauthorized, "the API key is not valid or was revoked"};
      return Error{ErrorCode::unauthorized, "the session has ended: sign in again"};
    }
    ctx_.principal = std::move(**principal);
    return std::nullopt;
  }

  // Refuses a request before its body is read; an unread body means the connection can't be reused.
  void reject(Response response) {
    if (has_body_) close_after_response_ = true;
    send(std::move(response));
  }
  void reject(const Error& error) { reject(Response(error_response(error))); }

  void read_body() {
    if (!has_body_) {
      ctx_.sink = std::move(sink_.sink);
      return run_handler();
    }
    bool expects_continue = ascii_iequals(field_value(header_parser_->get().base(), beast_http::field::expect), "100-continue");
    if (expects_continue) {
      continue_.emplace(beast_http::status::continue_, header_parser_->get().version());
      set_deadline(shared_->config.write_timeout_s);
      return beast_http::async_write(socket_, *continue_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec) return self->close();
        self->start_body();
      });
    }
    start_body();
  }

  void start_body() {
    if (route_->body == BodyKind::text) {
      text_parser_.emplace(std::move(*header_parser_));
      text_parser_->body_limit(body_limit());
      ctx_.header = &text_parser_->get().base();
      set_deadline(shared_->config.body_stall_timeout_s);
      return beast_http::async_read(socket_, buffer_, *text_parser_,
                                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                      self->guarded("reading the body", [&] { self->on_body_done(ec); });
                                    });
    }
    buffer_.reserve(kBodyReadChunk);
    sink_parser_.emplace(std::move(*header_parser_));
    sink_parser_->body_limit(body_limit());
    sink_parser_->get().body() = std::move(sink_);
    ctx_.header = &sink_parser_->get().base();
    if (buffer_.size() > 0) return take_body({});  // the body's start came with the header
    read_body_some();
  }

  // Streamed bodies are read piece by piece so that the stall timeout restarts on progress.
  // The socket is read here rather than by Beast's read, for pieces of kBodyReadChunk.
  void read_body_some() {
    if (buffer_.size() >= kBodyReadChunk)  // a chunk header of a megabyte is not one
      return on_body_done(beast_http::error::bad_chunk);
    set_deadline(shared_->config.body_stall_timeout_s);
    socket_.async_read_some(buffer_.prepare(kBodyReadChunk - buffer_.size()),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->guarded("reading the body", [&] {
                                self->buffer_.commit(n);
                                self->take_body(ec);
                              });
                            });
  }

  void take_body(beast::error_code ec) {
    if (ec == asio::error::eof) sink_parser_->put_eof(ec);  // partial_message unless complete
    if (!ec) ec = parse_body();
    if (ec || sink_parser_->is_done()) return on_body_done(ec);
    if (sink_parser_->get().body().sink->should_wait_for_disk()) return wait_for_disk();
    read_body_some();
  }

  // Hands what was read to the body parser (and through it to the sink). An incomplete chunk
  // header stays in the buffer for the next read.
  beast::error_code parse_body() {
    beast::error_code ec;
    while (buffer_.size() > 0 && !sink_parser_->is_done()) {
      std::size_t used = sink_parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == beast_http::error::need_more) return {};
      if (ec || used == 0) break;
    }
    return ec;
  }

  // The body stays unread (TCP slows the client down) while the disk catches up.
  void wait_for_disk() {
    BodySink* sink = sink_parser_->get().body().sink.get();
    run_blocking([sink] { return sink->wait_for_disk(); },
                 [self = shared_from_this()](Result<void> waited) {
                   if (waited) return self->read_body_some();
                   self->sink_parser_->get().body().error = waited.error();
                   self->on_body_done(beast::errc::make_error_code(beast::errc::io_error));
                 });
  }

  void on_body_done(beast::error_code ec) {
    if (ec && timed_out_) ec = beast::error::timeout;
    if (ec) {
      close_after_response_ = true;
      if (sink_parser_ && sink_parser_->get().body().error)
        return send(error_response(*sink_parser_->get().body().error));
      if (ec == beast_http::error::body_limit)
        return send(error_response({ErrorCode::too_large, "the request body is larger than the limit of " +
                                                              std::to_string(body_limit()) + " bytes"}));
      if (ec == beast::error::timeout || ec == beast_http::error::partial_message || ec == asio::error::eof ||
          ec == asio::error::connection_reset) {
        // The client went away or stalled: nobody to answer. The sink's owner cleans up.
        spdlog::info("{} {} {} body interrupted: {}", remote_, method_, target_, ec.message());
        if (sink_parser_) {
          std::shared_ptr<BodySink> sink = std::move(sink_parser_->get().body().sink);
          if (sink)
            asio::post(*shared_->blocking_pool, [sink, id = request_id_] {
              try {
                sink->interrupted();
              } catch (const std::exception& exception) {
                spdlog::error("request {}: cleaning up an interrupted body threw: {}", id, exception.what());
              }
            });
        }
        return close();
      }
      return send(error_response({ErrorCode::invalid_argument, "malformed request body: " + ec.message()}));
    }
    if (text_parser_) ctx_.body = std::move(text_parser_->get().body());
    if (sink_parser_) ctx_.sink = std::move(sink_parser_->get().body().sink);
    run_handler();
  }

  void run_handler() {
    if (route_->fast) {
      if (auto answer = route_->fast(ctx_)) return send(std::move(*answer));
    }
    if (!route_->blocking) return send(route_->handler(ctx_));
    run_blocking([self = shared_from_this()] { return self->route_->handler(self->ctx_); },
                 [self = shared_from_this()](Response response) { self->send(std::move(response)); });
  }

  // Runs work on the blocking pool, then its continuation back on this connection's strand.
  // An exception from either becomes a 500 for this request, never the end of a thread.
  template <typename Work, typename Then>
  void run_blocking(Work work, Then then) {
    deadline_ = Clock::time_point::max();  // no read or write waits meanwhile
    asio::post(*shared_->blocking_pool, [self = shared_from_this(), work = std::move(work), then = std::move(then)]() mutable {
      std::optional<decltype(work())> result;
      std::string thrown;
      try {
        result.emplace(work());
      } catch (const std::exception& exception) {
        thrown = exception.what();
      } catch (...) {
        thrown = "an exception that is not a std::exception";
      }
      asio::post(self->socket_.get_executor(), [self, result = std::move(result), thrown = std::move(thrown),
                                                then = std::move(then)]() mutable {
        if (!result) return self->on_exception("the handler", thrown.c_str());
        self->guarded("finishing the request", [&] { then(std::move(*result)); });
      });
    });
  }

  // Runs one step of a request (parsing, routing, a handler, a continuation). What it throws
  // is logged with the request's id and answered with a 500 that names only that id.
  template <typename Step>
  void guarded(const char* stage, Step&& step) {
    try {
      std::forward<Step>(step)();
    } catch (const std::exception& exception) {
      on_exception(stage, exception.what());
    } catch (...) {
      on_exception(stage, "an exception that is not a std::exception");
    }
  }

  void on_exception(const char* stage, const char* what) {
    spdlog::error("request {} ({} {} from {}): {} threw: {}", request_id_, method_.empty() ? "-" : method_,
                  target_.empty() ? "-" : target_, remote_, stage, what);
    // An answer already on its way, or the 500 itself failing: all we can do is close.
    if (response_ || answering_exception_) return close();
    answering_exception_ = true;
    close_after_response_ = true;
    route_ = nullptr;  // its decorate() may be what threw
    guarded("answering 500", [&] {
      std::string message = fmt::format("internal server error (request {}), see the server log", request_id_);
      send(json_response(500, {{"error", {{"code", "internal"}, {"message", message}}}}));
    });
  }

  void send(Response response) {
    if (route_ && route_->decorate) route_->decorate(response);
    response_.emplace(std::move(response));
    keep_alive_ = !close_after_response_ && !shared_->draining.load();
    std::visit(
        [&](auto& message) {
          message.version(11);
          message.set(beast_http::field::server, "cinevault");
          // No browser may read a JSON error or a segment as HTML or script.
          message.set("X-Content-Type-Options", "nosniff");
          if (!keep_alive_) message.keep_alive(false);  // HTTP/1.1 keeps the connection unless told
        },
        *response_);
    std::visit([&](auto& message) { message.set("X-Request-Id", std::to_string(request_id_)); }, *response_);
    if (method_ == "HEAD") {
      // Same header, Content-Length included, no body.
      auto header_only = [](auto& message) { return Response(EmptyResponse(std::move(message.base()))); };
      Response head = std::visit(header_only, *response_);
      response_.emplace(std::move(head));
    }
    set_deadline(shared_->config.write_timeout_s);  // for the whole response, header and body
    if (auto* file = std::get_if<FileResponse>(&*response_); file != nullptr && file->body().length > 0)
      return send_file(*file);
    std::visit(
        [&](auto& message) {
          beast_http::async_write(socket_, message,
                                  [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                                    self->on_write(ec, bytes);
                                  });
        },
        *response_);
  }

  // A file body goes from the page cache to the socket with sendfile(2): no copy through
  // user space. The whole response is bounded by the write timeout, so a client that reads
  // slowly is dropped rather than kept forever.
  void send_file(FileResponse& message) {
    render_header(message, header_text_);
    header_sent_ = 0;
    file_position_ = message.body().offset;
    file_remaining_ = message.body().length;
    sent_ = 0;
    write_file_response();
  }

  // The status line and the fields, as they go on the wire (the response's own fields
  // include Content-Length and, when closing, Connection).
  static void render_header(const FileResponse& message, std::string& out) {
    out.clear();
    fmt::format_to(std::back_inserter(out), "HTTP/1.1 {} ", message.result_int());
    out.append(view(message.reason()));
    out.append("\r\n");
    for (const auto& field : message) {
      out.append(view(field.name_string()));
      out.append(": ");
      out.append(view(field.value()));
      out.append("\r\n");
    }
    out.append("\r\n");
  }

  // Writes what the socket takes now, the header and then the body, and waits for room to go
  // on. The header goes with MSG_MORE, so that the kernel puts it in one packet with the start
  // of the body rather than sending a packet of its own.
  void write_file_response() {
    int socket = socket_.native_handle();
    while (header_sent_ < header_text_.size()) {
      ssize_t n = ::send(socket, header_text_.data() + header_sent_, header_text_.size() - header_sent_,
                         MSG_MORE | MSG_NOSIGNAL);
      if (n >= 0) {
        header_sent_ += static_cast<std::size_t>(n);
        sent_ += static_cast<std::size_t>(n);
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return wait_to_write();
      return finish_file(beast::error_code(errno, boost::system::system_category()));
    }
    int file = std::get<FileResponse>(*response_).body().file->fd();
    while (file_remaining_ > 0) {
      auto offset = static_cast<off_t>(file_position_);
      std::size_t want = file_remaining_ < kSendfileChunk ? static_cast<std::size_t>(file_remaining_) : kSendfileChunk;
      ssize_t n = ::sendfile(socket, file, &offset, want);
      if (n > 0) {
        file_position_ += static_cast<std::uint64_t>(n);
        file_remaining_ -= static_cast<std::uint64_t>(n);
        sent_ += static_cast<std::size_t>(n);
        continue;
      }
      if (n == 0) return finish_file(beast_http::error::short_read);  // the file shrank under us
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return wait_to_write();
      return finish_file(beast::error_code(errno, boost::system::system_category()));
    }
    finish_file({});
  }

  // The socket is full (a slow reader, or pipelined answers not read yet).
  void wait_to_write() {
    socket_.async_wait(Socket::wait_write, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->finish_file(ec);
      self->write_file_response();
    });
  }

  void finish_file(beast::error_code ec) {
    if (timed_out_) {
      // Reset rather than close: a plain close would still trickle out what the kernel
      // holds for the slow reader (megabytes), keeping the connection alive for minutes.
      beast::error_code ignored;
      socket_.set_option(asio::socket_base::linger(true, 0), ignored);
    }
    on_write(ec, sent_);
  }

  void on_write(beast::error_code ec, std::size_t bytes) {
    unsigned status = std::visit([](auto& m) { return m.result_int(); }, *response_);
    auto ms = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
    if (shared_->config.access_log)
      spdlog::info("{} {} {} {} {}B {:.1f}ms", remote_, method_.empty() ? "-" : method_, target_.empty() ? "-" : target_,
                   status, bytes, ms);
    response_.reset();
    header_parser_.reset();
    text_parser_.reset();
    sink_parser_.reset();
    continue_.reset();
    answering_exception_ = false;
    ctx_ = RequestContext{};
    sink_ = SinkBody::value_type{};
    route_ = nullptr;
    method_.clear();
    target_.clear();
    busy_ = false;
    ++answered_;
    if (ec || !keep_alive_) return close();
    read_idle();
  }

  void close() {
    busy_ = false;
    beast::error_code ec;
    socket_.shutdown(Socket::shutdown_send, ec);
    socket_.close(ec);
  }

  // The read or write about to start must end within `seconds` (see end_if_late).
  void set_deadline(int seconds) {
    deadline_ = Clock::now() + std::chrono::seconds(seconds);
    timed_out_ = false;
  }

  Socket socket_;
  std::shared_ptr<Shared> shared_;
  LoopSessions& home_;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timed_out_ = false;
  beast::flat_buffer buffer_;
  std::string address_;       // the client's IP address
  std::string remote_ = "-";  // and port, for the log
  bool counted_ = false;
  bool admitted_ = false;  // holds one of its address's connections
  std::uint64_t answered_ = 0;
  bool busy_ = false;
  bool has_body_ = false;
  bool close_after_response_ = false;
  bool keep_alive_ = true;  // of the answer being written
  bool answering_exception_ = false;
  std::uint64_t request_id_ = 0;
  Clock::time_point started_ = Clock::now();
  std::string method_, target_;
  const Route* route_ = nullptr;
  RequestContext ctx_;
  Credentials credentials_;
  SinkBody::value_type sink_;
  std::optional<beast_http::request_parser<beast_http::empty_body>> header_parser_;
  std::optional<beast_http::request_parser<beast_http::string_body>> text_parser_;
  std::optional<beast_http::request_parser<SinkBody>> sink_parser_;
  std::optional<beast_http::response<beast_http::empty_body>> continue_;
  std::optional<Response> response_;  // the answer being written
  // A file response in flight (send_file): its header as text, how much of it and of the
  // file's range was sent.
  std::string header_text_;
  std::size_t header_sent_ = 0;
  std::uint64_t file_position_ = 0;
  std::uint64_t file_remaining_ = 0;
  std::size_t sent_ = 0;
};

// The connections of one event loop. Only that loop's thread touches it: connections join it
// on their loop, and its sweep runs there too, so no lock is needed. One check every
// kSweepInterval replaces a timer armed and cancelled for every read and write.
class LoopSessions {
 public:
  explicit LoopSessions(asio::io_context& loop) : sweep_(loop.get_executor()) {}

  void add(std::weak_ptr<Session> session) { sessions_.push_back(std::move(session)); }

  void start_sweeping() {
    sweep_.expires_after(kSweepInterval);
    sweep_.async_wait([this](beast::error_code ec) {
      if (ec) return;
      auto now = Clock::now();
      std::erase_if(sessions_, [now](const std::weak_ptr<Session>& weak) {
        auto session = weak.lock();
        if (session) session->end_if_late(now);
        return !session;
      });
      start_sweeping();
    });
  }

  void drain() {
    for (auto& weak : sessions_)
      if (auto session = weak.lock()) session->drain();
  }

 private:
  Timer sweep_;
  std::vector<std::weak_ptr<Session>> sessions_;
};

void Session::start() {
  counted_ = true;
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    self->home_.add(self);
    self->read_idle();
  });
}

void Session::refuse_over_capacity(const char* message) {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this(), message] {
    self->home_.add(self);
    self->close_after_response_ = true;
    self->send(error_response({ErrorCode::unavailable, message}));
  });
}

class ServerImpl final : public Server {
 public:
  ServerImpl(const HttpConfig& config, Gate gate, std::vector<Route> routes)
      : ioc_(1),
        blocking_pool_(static_cast<std::size_t>(config.blocking_threads)),
        acceptor_(asio::make_strand(ioc_)),
        signals_(ioc_, SIGINT, SIGTERM),
        drain_deadline_(ioc_) {
    shared_ = std::make_shared<Shared>(config, std::move(gate), Router(std::move(routes)),
                                       &blocking_pool_);
    shared_->on_session_closed = [this] {
      if (shared_->draining.load() && shared_->active_sessions.load() == 0) asio::post(ioc_, [this] { finish(); });
    };
    // One event loop per I/O thread, as nginx has one per worker: a connection stays on its
    // loop, so no lock or cross-thread wake-up is shared between connections.
    // http.io_threads 0: one per core.
    int io_threads = config.io_threads > 0 ? config.io_threads
                                           : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int i = 1; i < io_threads; ++i) {
      extra_loops_.push_back(std::make_unique<asio::io_context>(1));
      keep_running_.push_back(asio::make_work_guard(*extra_loops_.back()));
    }
    for (int i = 0; i < io_threads; ++i) loop_sessions_.push_back(std::make_unique<LoopSessions>(loop(i)));
  }

  ~ServerImpl() override {
    shared_->on_session_closed = nullptr;
    stop_loops();
    blocking_pool_.join();
  }

  Result<void> listen() override {
    TRY(ListenAddress listen, split_listen(shared_->config.listen));
    beast::error_code ec;
    auto address = asio::ip::make_address(listen.host, ec);
    if (ec) return fail(ErrorCode::invalid_argument, "http.listen: '" + listen.host + "' is not an IP address");
    tcp::endpoint endpoint(address, listen.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail(ErrorCode::io, "cannot listen on " + shared_->config.listen + ": " + ec.message());
    return {};
  }

  std::uint16_t port() const override { return acceptor_.local_endpoint().port(); }

  void run() override {
    signals_.async_wait([this](beast::error_code ec, int signal) { on_signal(ec, signal); });
    for (std::size_t i = 0; i < loop_sessions_.size(); ++i)
      asio::post(loop(i), [sessions = loop_sessions_[i].get()] { sessions->start_sweeping(); });
    accept();
    std::vector<std::thread> threads;
    for (auto& loop : extra_loops_) threads.emplace_back([&loop] { run_loop(*loop); });
    run_loop(ioc_);
    stop_loops();
    for (auto& t : threads) t.join();
    // Requests still on the blocking pool finish their transaction before we return.
    blocking_pool_.join();
  }

  void shutdown() override {
    asio::post(ioc_, [this] { begin_drain(); });
  }

  bool draining() const override { return shared_->draining.load(); }

  bool loops_answer(std::chrono::milliseconds within) override {
    std::vector<std::future<void>> answers;
    auto ask = [&](asio::io_context& loop) {
      auto answered = std::make_shared<std::promise<void>>();
      answers.push_back(answered->get_future());
      asio::post(loop, [answered] { answered->set_value(); });
    };
    ask(ioc_);
    for (auto& loop : extra_loops_) ask(*loop);
    auto deadline = std::chrono::steady_clock::now() + within;
    for (auto& answer : answers)
      if (answer.wait_until(deadline) != std::future_status::ready) return false;
    return true;
  }

 private:
  // Asio lets a handler's exception out of run(): the last line of defence logs it and goes on
  // serving (the connection whose handler threw is dropped with it). Requests' own steps are
  // caught closer, in Session::guarded(), where they can still be answered.
  static void run_loop(asio::io_context& loop) {
    for (;;) {
      try {
        loop.run();
        return;
      } catch (const std::exception& exception) {
        spdlog::error("an I/O handler threw: {}", exception.what());
      } catch (...) {
        spdlog::error("an I/O handler threw an exception that is not a std::exception");
      }
    }
  }

  asio::io_context& loop(std::size_t index) { return index == 0 ? ioc_ : *extra_loops_[index - 1]; }

  void stop_loops() {
    ioc_.stop();
    for (auto& loop : extra_loops_) loop->stop();
  }

  void accept() {
    // The next connection lives on the next loop, in turn.
    accepting_loop_ = next_loop_++ % loop_sessions_.size();
    accepting_.emplace(loop(accepting_loop_));
    acceptor_.async_accept(*accepting_, [this](beast::error_code ec) {
      if (ec) {
        if (!acceptor_.is_open()) return;
        spdlog::warn("accept failed: {}", ec.message());
      } else {
        // Each response is written whole (header and body at once, or header then
        // sendfile): Nagle would only hold a response's last small packet back until the
        // client's delayed ACK, about 40 ms later.
        beast::error_code ignored;
        accepting_->set_option(tcp::no_delay(true), ignored);
        auto session = std::make_shared<Session>(std::move(*accepting_), shared_, *loop_sessions_[accepting_loop_]);
        if (shared_->active_sessions.load() >= shared_->config.max_connections) {
          session->refuse_over_capacity("the server has too many open connections, try again");
        } else if (!session->admit()) {
          session->refuse_over_capacity("too many open connections from your address, try again");
        } else {
          shared_->active_sessions.fetch_add(1);
          session->start();
        }
      }
      accept();
    });
  }

  void on_signal(beast::error_code ec, int signal) {
    if (ec) return;
    if (shared_->draining.load()) {
      spdlog::warn("second signal {}: stopping now", signal);
      blocking_pool_.stop();
      stop_loops();
      return;
    }
    spdlog::info("signal {}: finishing requests in flight (up to {} s), send it again to stop now", signal,
                 shared_->config.shutdown_grace_s);
    begin_drain();
    signals_.async_wait([this](beast::error_code e, int s) { on_signal(e, s); });
  }

  void begin_drain() {
    if (shared_->draining.exchange(true)) return;
    beast::error_code ec;
    acceptor_.close(ec);
    for (std::size_t i = 0; i < loop_sessions_.size(); ++i)
      asio::dispatch(loop(i), [sessions = loop_sessions_[i].get()] { sessions->drain(); });
    drain_deadline_.expires_after(std::chrono::seconds(shared_->config.shutdown_grace_s));
    drain_deadline_.async_wait([this](beast::error_code e) {
      if (e) return;
      spdlog::warn("shutdown grace period over with {} connection(s) open: closing them", shared_->active_sessions.load());
      stop_loops();
    });
    if (shared_->active_sessions.load() == 0) finish();
  }

  void finish() {
    signals_.cancel();
    drain_deadline_.cancel();
    stop_loops();
  }

  // Declared first so they are destroyed last: every socket and timer belongs to one of them.
  // ioc_ also runs the acceptor, the signals and the drain; it goes before the other loops,
  // because its pending accept holds a socket of the loop that connection was meant for.
  std::vector<std::unique_ptr<asio::io_context>> extra_loops_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running_;
  asio::io_context ioc_;
  // One per loop (index 0: ioc_), destroyed before the loops their timers belong to.
  std::vector<std::unique_ptr<LoopSessions>> loop_sessions_;
  std::size_t next_loop_ = 0;
  std::optional<Socket> accepting_;  // the socket the pending accept fills
  std::size_t accepting_loop_ = 0;
  asio::thread_pool blocking_pool_;
  std::shared_ptr<Shared> shared_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer drain_deadline_;
};

}  // namespace

std::unique_ptr<Server> make_server(const HttpConfig& config, Gate gate, std::vector<Route> routes) {
  return std::make_unique<ServerImpl>(config, std::move(gate), std::move(routes));
}

}  // namespace cinevault::http
