// GET/HEAD /objects/<sha256><ext>: immutable, content-addressed bytes for players and pages.
#include "cinevault/api/api.hpp"
#include "cinevault/core/hash.hpp"
#include "cinevault/core/parse.hpp"
#include "common.hpp"

namespace cinevault::api {
namespace {

namespace field = http::beast_http;

struct ObjectType {
  std::string_view extension;
  const char* content_type;
};
constexpr ObjectType kTypes[] = {
    {".mp4", "video/mp4"}, {".m4s", "video/iso.segment"}, {".m4a", "audio/mp4"},
    {".jpg", "image/jpeg"}, {".webp", "image/webp"},     {".vtt", "text/vtt"},
};

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};

// One range of "bytes=a-b", "bytes=a-" or "bytes=-n" (RFC 9110 §14.1.2). nullopt: serve it
// all (several ranges, or a unit we do not know, may be ignored); a range past the end is
// unsatisfiable (416).
struct RangeRequest {
  std::optional<ByteRange> range;
  bool unsatisfiable = false;
};
RangeRequest parse_range(std::string_view header, std::uint64_t size) {
  constexpr std::string_view kUnit = "bytes=";
  if (header.substr(0, kUnit.size()) != kUnit || header.find(',') != std::string_view::npos) return {};
  std::string_view spec = header.substr(kUnit.size());
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return {};
  auto first = spec.substr(0, dash), last = spec.substr(dash + 1);
  if (first.empty()) {  // suffix: the last n bytes
    auto n = parse_integer<std::uint64_t>(last);
    if (!n) return {};
    if (*n == 0 || size == 0) return {std::nullopt, true};
    return {ByteRange{size - std::min(*n, size), size - 1}, false};
  }
  auto a = parse_integer<std::uint64_t>(first);
  auto b = last.empty() ? std::optional<std::uint64_t>(UINT64_MAX) : parse_integer<std::uint64_t>(last);
  if (!a || !b || *b < *a) return {};
  if (*a >= size) return {std::nullopt, true};
  return {ByteRange{*a, std::min(*b, size - 1)}, false};
}

http::Response serve_object(ApiContext& context, http::RequestContext& request) {
  const std::string& name = request.params[0];
  auto dot = name.find('.');
  std::string sha256 = name.substr(0, dot);
  std::string_view extension = dot == std::string::npos ? std::string_view() : std::string_view(name).substr(dot);
  const ObjectType* type = nullptr;
  for (auto& t : kTypes)
    if (t.extension == extension) type = &t;
  // Only a hash and a known extension ever reach the filesystem.
  if (!type || !is_sha256_hex(sha256)) return http::error_response({ErrorCode::not_found, "no such object"});
  return object_response(context, request, sha256, type->content_type);
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

http::Response object_response(ApiContext& context, const http::RequestContext& request, const std::string& sha256,
                               const char* content_type) {
  auto object = context.store.open(sha256);
  if (!object) return http::error_response(object.error());
  const std::uint64_t size = (*object)->size;

  const std::string etag = "\"" + sha256 + "\"";
  auto set_common = [&](auto& message) {
    message.set(field::field::content_type, content_type);
    message.set(field::field::etag, etag);
    message.set(field::field::cache_control, "public, max-age=31536000, immutable");
    message.set(field::field::accept_ranges, "bytes");
  };
  // The hash is the content: any match of the ETag means the client has these bytes.
  std::string_view if_none_match = request.header_value(field::field::if_none_match);
  if (!if_none_match.empty() && (if_none_match == "*" || if_none_match.find(etag) != std::string_view::npos)) {
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
    response.set(field::field::content_range, "bytes " + std::to_string(range.range->first) + "-" +
                                                  std::to_string(range.range->last) + "/" + std::to_string(size));
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
  get.blocking = false;  // an open file from the store's cache, or open + fstat: no database
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
