// The web page: /, /watch/{id} and /assets/…, with a Content-Security-Policy that allows only
// what the page itself loads (no CDN, no inline code).
#include "cinevault/api/api.hpp"
#include "cinevault/api/request_parsing.hpp"
#include "cinevault/web/assets.hpp"

namespace cinevault::api {
namespace {

namespace field = boost::beast::http;

constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

http::Response page_file(ApiContext& context, const http::RequestContext& request, std::string_view path) {
  auto asset = context.assets.find(path);
  if (!asset) return http::error_response(asset.error());
  // The paths are stable and the files change with the binary: revalidate every time; a
  // matching ETag makes that a 304 without a body.
  std::string_view if_none_match = request.header_value(field::field::if_none_match);
  if (client_has(if_none_match, asset->etag)) {
    http::EmptyResponse not_modified;
    not_modified.result(304);
    not_modified.set(field::field::etag, asset->etag);
    not_modified.set(field::field::cache_control, "no-cache");
    return not_modified;
  }
  http::StringResponse response;
  response.result(200);
  response.set(field::field::content_type, asset->content_type);
  response.set(field::field::etag, asset->etag);
  response.set(field::field::cache_control, "no-cache");
  response.body().assign(asset->bytes);
  response.prepare_payload();
  return response;
}

void set_page_headers(http::Response& response) {
  std::visit(
      [](auto& r) {
        r.set("Content-Security-Policy", kContentSecurityPolicy);
        r.set("X-Content-Type-Options", "nosniff");
        r.set("Referrer-Policy", "same-origin");
      },
      response);
}

}  // namespace

void add_web_routes(ApiContext& context, std::vector<http::Route>& routes) {
  auto add = [&](std::string pattern, std::function<std::string(const http::RequestContext&)> file) {
    http::Route route{http::Verb::get, std::move(pattern), [&context, file](http::RequestContext& request) {
                        return page_file(context, request, file(request));
                      }};
    route.blocking = !context.config.web.dir.empty();  // embedded files are in memory
    // The page's own files hold no data, and a browser cannot send a key when it loads a
    // page, a script or a style sheet: they stay open when reads need a key (the page then
    // asks for the key and sends it with its API calls).
    route.access = http::Access::open;
    route.decorate = set_page_headers;
    routes.push_back(std::move(route));
  };
  add("/", [](const http::RequestContext&) { return "index.html"; });
  add("/watch/{}", [](const http::RequestContext&) { return "watch.html"; });
  add("/assets/{}", [](const http::RequestContext& r) { return "assets/" + r.params[0]; });
  add("/assets/{}/{}", [](const http::RequestContext& r) { return "assets/" + r.params[0] + "/" + r.params[1]; });
}

}  // namespace cinevault::api
