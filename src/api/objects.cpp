// GET/HEAD /objects/<sha256><ext>: immutable, content-addressed bytes for players and pages,
// while a video uses them, to those who may watch that video (ObjectIndex), typed by that use.
#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "cinevault/api/api.hpp"
#include "cinevault/api/request_parsing.hpp"
#include "cinevault/core/hash.hpp"
#include "cinevault/core/parse.hpp"
#include "common.hpp"

namespace cinevault::api {
namespace {

namespace field = http::beast_http;

// The extensions the manifests and the API put on object URLs. They only have to be one of
// these: the type of the answer comes from what the object is.
constexpr std::string_view kExtensions[] = {".mp4", ".m4s", ".m4a", ".jpg", ".webp", ".vtt"};

// The hash of an object URL's last segment ("<sha256>.m4s"), or empty when it is not one:
// only a hash ever reaches the store.
std::string_view object_hash(std::string_view name) {
  auto dot = name.find('.');
  std::string_view sha256 = name.substr(0, dot);
  std::string_view extension = dot == std::string_view::npos ? std::string_view() : name.substr(dot);
  bool known = std::find(std::begin(kExtensions), std::end(kExtensions), extension) != std::end(kExtensions);
  return known && is_sha256_hex(sha256) ? sha256 : std::string_view();
}

// The first use of the object through which the request may have it, if any.
const ObjectUser* granting_use(const ApiContext& context, const http::RequestContext& request, const ServedObject& served) {
  for (const ObjectUser& user : *served.users) {
    bool granted = user.source ? may_manage(request, user.access.owner_id)
                               : may_watch(context, request, user.video_id, user.access);
    if (granted) return &user;
  }
  return nullptr;
}

http::Response serve(ApiContext& context, const http::RequestContext& request, std::string_view sha256,
                     const ServedObject& served) {
  const ObjectUser* use = granting_use(context, request, served);
  if (!use) return http::error_response({ErrorCode::not_found, "no such object"});
  auto response = object_response(context, request, sha256, use->content_type);
  // Only a public video's bytes may sit in shared caches.
  if (use->access.visibility != db::Visibility::anyone) keep_out_of_shared_caches(response);
  if (use->source)  // a download, never shown in the browser
    std::visit([](auto& m) { m.set(field::field::content_disposition, "attachment"); }, response);
  return response;
}

// The I/O thread's answer, when the object was looked up before.
std::optional<http::Response> serve_known_object(ApiContext& context, http::RequestContext& request) {
  std::string_view sha256 = object_hash(request.params[0]);
  if (sha256.empty()) return http::error_response({ErrorCode::not_found, "no such object"});
  std::optional<ServedObject> served = context.objects.find(sha256);
  if (!served) return std::nullopt;
  return serve(context, request, sha256, *served);
}

// On the blocking pool: asks the database which videos use the object.
http::Response serve_object(ApiContext& context, http::RequestContext& request) {
  std::string sha256(object_hash(request.params[0]));
  if (sha256.empty()) return http::error_response({ErrorCode::not_found, "no such object"});
  auto served = context.objects.lookup(context.database, sha256);
  if (!served) return http::error_response(served.error());
  if (!*served) return http::error_response({ErrorCode::not_found, "no such object"});
  return serve(context, request, sha256, **served);
}

}  // namespace

void set_cors(http::Response& response) {
  std::visit(
      [](auto& m) {
        m.set(field::field::access_control_allow_origin, "*");
        m.set(field::field::access_control_expose_headers, "Content-Length, Content-Range, ETag");
      },
      response);
}

void keep_out_of_shared_caches(http::Response& response) {
  std::visit([](auto& m) { m.set(field::field::cache_control, "private, max-age=31536000, immutable"); }, response);
}

http::Response object_response(ApiContext& context, const http::RequestContext& request, std::string_view sha256,
                               const char* content_type) {
  auto object = context.store.open(sha256);
  if (!object) return http::error_response(object.error());
  const std::uint64_t size = (*object)->size;

  const std::string etag = fmt::format("\"{}\"", sha256);
  auto set_common = [&](auto& message) {
    message.set(field::field::content_type, content_type);
    message.set(field::field::etag, etag);
    message.set(field::field::cache_control, "public, max-age=31536000, immutable");
    message.set(field::field::accept_ranges, "bytes");
  };
  // The hash is the content: any match of the ETag means the client has these bytes.
  std::string_view if_none_match = request.header_value(field::field::if_none_match);
  if (client_has(if_none_match, etag)) {
    http::EmptyResponse not_modified;
    not_modified.result(304);
    set_common(not_modified);
    return not_modified;
  }
  RangeRequest range;
  std::string_view if_range = request.header_value(field::field::if_range);
  if (if_range.empty() || if_range == etag) range = parse_range(request.header_value(field::field::range), size);
  if (range.unsatisfiable) {
    auto response = http::error_response({ErrorCode::invalid_argument, "the range is outside the object"});
    response.result(416);
    response.set(field::field::content_range, "bytes */" + std::to_string(size));
    return response;
  }
  http::FileResponse response;
  set_common(response);
  response.body().file = std::shared_ptr<const File>(*object, &(*object)->file);
  if (range.range) {
    response.result(206);
    response.body().offset = range.range->first;
    response.body().length = range.range->last - range.range->first + 1;
    response.set(field::field::content_range,
                 fmt::format("bytes {}-{}/{}", range.range->first, range.range->last, size));
  } else {
    response.result(200);
    response.body().length = size;
  }
  response.content_length(response.body().length);
  return response;
}

void add_object_routes(ApiContext& context, std::vector<http::Route>& routes) {
  http::Route get{http::Verb::get, "/objects/{}",
                  [&context](http::RequestContext& request) { return serve_object(context, request); }};
  // Once an object was looked up, an open file from the store's cache (or open + fstat) on
  // the I/O thread: no database, no hop to the blocking pool.
  get.fast = [&context](http::RequestContext& request) { return serve_known_object(context, request); };
  get.decorate = set_cors;
  routes.push_back(std::move(get));
  // CORS preflight for players on other origins (Range is not always a simple header).
  http::Route preflight{http::Verb::options, "/objects/{}", [](http::RequestContext&) -> http::Response {
                          auto response = http::empty_response(204);
                          response.set(field::field::access_control_allow_methods, "GET, HEAD, OPTIONS");
                          response.set(field::field::access_control_allow_headers, "Range, If-None-Match, If-Range");
                          response.set(field::field::access_control_max_age, "86400");
                          return response;
                        }};
  preflight.access = http::Access::open;
  preflight.blocking = false;
  preflight.decorate = set_cors;
  routes.push_back(std::move(preflight));
}

}  // namespace cinevault::api
