#include "gate.hpp"

#include <openssl/crypto.h>

#include "cinevault/core/text.hpp"

namespace cinevault::http {
namespace {

// The value of the cookie `name` in a Cookie header ("a=1; name=value").
std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto end = header.find(';');
    std::string_view pair = trim_blanks(header.substr(0, end));
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    auto equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == name) return pair.substr(equals + 1);
  }
  return std::nullopt;
}

bool changes_something(Verb method) { return method != Verb::get && method != Verb::head && method != Verb::options; }

// A cookie goes with every request the browser makes to us, whichever site asks for it: a
// change made with it must come from our own page. That page sends the session's token in
// a header no other site can set, and the browser's Origin names our own host.
std::optional<Error> cross_site_refusal(const RequestContext& request) {
  if (!comes_from_own_origin(request))
    return Error{ErrorCode::forbidden, "a change made with the session cookie must come from this server's own page"};
  std::string_view token = request.header_value("X-CSRF-Token");
  const std::string& expected = request.principal->csrf_token;
  if (token.size() != expected.size() || CRYPTO_memcmp(token.data(), expected.data(), expected.size()) != 0)
    return Error{ErrorCode::forbidden, "a change made with the session cookie needs its X-CSRF-Token header"};
  return std::nullopt;
}

}  // namespace

bool comes_from_own_origin(const RequestContext& request) {
  std::string_view origin = request.header_value(beast_http::field::origin);
  if (origin.empty()) return true;  // not sent by a browser's cross-origin request
  auto scheme = origin.find("://");
  std::string_view host = scheme == std::string_view::npos ? std::string_view() : origin.substr(scheme + 3);
  return !host.empty() && ascii_iequals(host, request.header_value(beast_http::field::host));
}

Result<Credentials> credentials_of(const RequestHeader& header, const std::string& cookie_name) {
  Credentials credentials;
  auto authorization = header.find(beast_http::field::authorization);
  if (authorization != header.end()) {
    std::string_view value(authorization->value().data(), authorization->value().size());
    constexpr std::string_view kBearer = "Bearer ";
    if (value.size() <= kBearer.size() || !ascii_iequals(value.substr(0, kBearer.size()), kBearer))
      return fail(ErrorCode::unauthorized, "send an API key as 'Authorization: Bearer <key>'");
    credentials.bearer = std::string(trim_blanks(value.substr(kBearer.size())));
  }
  auto cookies = header.equal_range(beast_http::field::cookie);
  for (auto it = cookies.first; it != cookies.second; ++it) {
    if (auto value = cookie_value(std::string_view(it->value().data(), it->value().size()), cookie_name)) {
      credentials.session = std::string(*value);
      break;
    }
  }
  return credentials;
}

std::optional<Error> refusal(const Route& route, const RequestContext& request, const Gate& gate) {
  if (route.access == Access::open) return std::nullopt;
  const Principal* user = request.principal ? &*request.principal : nullptr;
  if (user && user->by_session() && changes_something(route.method))
    if (auto refused = cross_site_refusal(request)) return refused;
  switch (route.access) {
    case Access::read:
      if (!user && !request.share && !gate.anonymous_reads)
        return Error{ErrorCode::unauthorized, "this server shows its videos to signed-in users: sign in or send an API key"};
      return std::nullopt;
    case Access::user:
      if (!user) return Error{ErrorCode::unauthorized, "sign in or send an API key"};
      return std::nullopt;
    case Access::upload:
      if (!user) return Error{ErrorCode::unauthorized, "sign in or send an API key"};
      if (!user->may_upload()) return Error{ErrorCode::forbidden, "this needs the uploader or admin role"};
      return std::nullopt;
    case Access::admin:
      if (!user) return Error{ErrorCode::unauthorized, "sign in or send an API key"};
      if (user->role != Role::admin) return Error{ErrorCode::forbidden, "this needs the admin role"};
      return std::nullopt;
    case Access::open: return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace cinevault::http
