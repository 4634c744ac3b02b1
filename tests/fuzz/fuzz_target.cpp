// libFuzzer target: a request target through parse_target(), then, when it parses, the
// decoded path through Router::match() against a route table shaped like the real one
// (src/api/*.cpp). Handlers do nothing: only the matching is under test.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cinevault/http/router.hpp"

namespace {

using cinevault::http::Response;
using cinevault::http::RequestContext;
using cinevault::http::Route;
using cinevault::http::Router;
using cinevault::http::Verb;

Response nothing(RequestContext&) { return cinevault::http::empty_response(204); }

const Router& router() {
  static const Router instance([] {
    std::vector<Route> routes;
    auto add = [&](Verb method, const char* pattern) { routes.push_back({method, pattern, &nothing}); };
    add(Verb::get, "/healthz");
    add(Verb::get, "/readyz");
    add(Verb::post, "/api/v1/admin/gc");
    add(Verb::get, "/api/v1/videos");
    add(Verb::post, "/api/v1/videos");
    add(Verb::put, "/api/v1/videos");
    add(Verb::get, "/api/v1/videos/{}");
    add(Verb::patch, "/api/v1/videos/{}");
    add(Verb::delete_, "/api/v1/videos/{}");
    add(Verb::post, "/api/v1/videos/{}/transcode");
    add(Verb::options, "/api/v1/uploads");
    add(Verb::post, "/api/v1/uploads");
    add(Verb::head, "/api/v1/uploads/{}");
    add(Verb::get, "/api/v1/uploads/{}");
    add(Verb::patch, "/api/v1/uploads/{}");
    add(Verb::delete_, "/api/v1/uploads/{}");
    add(Verb::options, "/api/v1/uploads/{}");
    add(Verb::get, "/api/v1/jobs");
    add(Verb::get, "/api/v1/jobs/{}");
    add(Verb::post, "/api/v1/jobs/{}/retry");
    add(Verb::get, "/api/v1/time");
    add(Verb::get, "/objects/{}");
    add(Verb::options, "/objects/{}");
    add(Verb::get, "/videos/{}/master.m3u8");
    add(Verb::get, "/videos/{}/{}");
    add(Verb::get, "/videos/{}/{}/{}");
    add(Verb::get, "/videos/{}/{}/{}/{}");
    add(Verb::get, "/");
    add(Verb::get, "/watch/{}");
    add(Verb::get, "/assets/{}");
    add(Verb::get, "/assets/{}/{}");
    return routes;
  }());
  return instance;
}

constexpr Verb kMethods[] = {Verb::get, Verb::head, Verb::post, Verb::put, Verb::patch, Verb::delete_, Verb::options};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view target(reinterpret_cast<const char*>(data), size);
  auto parsed = cinevault::http::parse_target(target);
  if (!parsed) return 0;
  // The decoded path starts with '/', has no "." or ".." segment and no NUL, '/' or '\'
  // inside a segment: what the router and every handler rely on.
  const std::string& path = parsed->path;
  if (path.empty() || path.front() != '/') __builtin_trap();
  if (path.find('\0') != std::string::npos || path.find('\\') != std::string::npos) __builtin_trap();
  if (path.find("/../") != std::string::npos || path.find("/./") != std::string::npos) __builtin_trap();
  if (path.ends_with("/..") || path.ends_with("/.")) __builtin_trap();
  for (Verb method : kMethods) {
    std::string allowed;
    auto match = router().match(method, path, &allowed);
    if (match && match->route) {
      for (const auto& param : match->params) {
        if (param.empty() || param.find('/') != std::string::npos) __builtin_trap();
      }
    }
  }
  return 0;
}
