// What a route handler sees and returns. Handlers are socket-free: request in, response out.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/beast/http.hpp>
#include <nlohmann/json_fwd.hpp>

#include "cinevault/core/identity.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/http/file_body.hpp"

namespace cinevault::http {

namespace beast_http = boost::beast::http;
using Verb = beast_http::verb;
using RequestHeader = beast_http::request_header<>;
using StringResponse = beast_http::response<beast_http::string_body>;
using FileResponse = beast_http::response<FileRangeBody>;
using EmptyResponse = beast_http::response<beast_http::empty_body>;
using Response = std::variant<StringResponse, FileResponse, EmptyResponse>;

// Receives a streamed request body chunk by chunk, on the connection's I/O thread.
// The handler that runs after the body is complete finishes the work (fsync, commit).
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual Result<void> write(const char* data, std::size_t size) = 0;
  // True when the written bytes are too far ahead of the disk: the server stops reading the
  // body and calls wait_for_disk() on the blocking pool, so uploads go at the disk's pace
  // (see WritebackPacer).
  virtual bool should_wait_for_disk() const { return false; }
  virtual Result<void> wait_for_disk() { return {}; }
  // The client went away before the body was complete (runs on the blocking pool).
  virtual void interrupted() {}
};

struct RequestContext {
  const RequestHeader* header = nullptr;
  std::string path;                            // percent-decoded path, without the query
  std::map<std::string, std::string> query;    // decoded query parameters
  std::vector<std::string> params;             // values of the {placeholders} of the route
  std::string body;                            // BodyKind::text
  std::unique_ptr<BodySink> sink;              // BodyKind::stream, after the body was read
  std::optional<Principal> principal;          // the signed-in user (a session or an API key)
  std::optional<ShareGrant> share;             // a valid share link (the `share` query value)
  std::string remote;                          // peer address, for logs

  std::string_view header_value(beast_http::field field) const;
  std::string_view header_value(std::string_view name) const;
  std::optional<std::string> query_value(const std::string& name) const;
};

// How a route's request body is read.
enum class BodyKind {
  none,    // a request with a body is refused
  text,    // read into memory, up to max_body_bytes (JSON)
  stream,  // handed chunk by chunk to the BodySink made by open_sink()
};

// Who may call a route (the gate checks; handlers decide per video).
enum class Access {
  read,    // anyone, unless auth.require_key_for_reads: then a user or a share link
  user,    // a signed-in user, any role
  upload,  // a user with the uploader or admin role
  admin,   // an admin
  open,    // always open, credentials ignored (health checks, the page's own files)
};

using Handler = std::function<Response(RequestContext&)>;
// Called after the header is read and the caller authorised, before the body is read:
// the place to refuse a body early (wrong offset, wrong type, too large).
using SinkFactory = std::function<Result<std::unique_ptr<BodySink>>(RequestContext&)>;

struct Route {
  Verb method = Verb::get;
  std::string pattern{};  // "/api/v1/videos/{}" — each {} matches one path segment
  Handler handler{};
  Access access = Access::read;
  BodyKind body = BodyKind::none;
  std::uint64_t max_body_bytes = 0;  // text bodies; 0 means the configured JSON limit
  SinkFactory open_sink{};           // stream bodies
  bool blocking = true;              // run the handler on the blocking pool (disk, database)
  // Tried first, on the I/O thread: an answer from memory when there is one (nullopt: run
  // the handler). Spares the hop to the blocking pool and back.
  std::function<std::optional<Response>(RequestContext&)> fast{};
  // Applied to every response of the route, refusals by the server included (protocol headers).
  std::function<void(Response&)> decorate{};
};

// Whether the request's Origin, when it sends one, is this server as the request addresses
// it (its Host): a browser sends Origin with every cross-origin change.
bool comes_from_own_origin(const RequestContext& request);

// Response helpers. Every response carries a JSON body or a file.
StringResponse json_response(unsigned status, const nlohmann::json& body);
StringResponse empty_response(unsigned status);
StringResponse error_response(const Error& error);
unsigned status_for(ErrorCode code);

}  // namespace cinevault::http
