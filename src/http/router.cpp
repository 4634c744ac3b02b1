#include "cinevault/http/router.hpp"

#include <optional>

#include "cinevault/core/text.hpp"

namespace cinevault::http {
namespace {

// The segments of a path that starts with '/': "/a//b/" has "a", "", "b" and "".
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    segments.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

// The same segments one by one, without copying them: true while `rest` ("/a/b", then "/b")
// had one more.
bool next_segment(std::string_view& rest, std::string_view& segment) {
  if (rest.empty()) return false;
  auto slash = rest.find('/', 1);
  segment = rest.substr(1, slash == std::string_view::npos ? std::string_view::npos : slash - 1);
  rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  return true;
}

// Whether `path` has the pattern's segments ({} matches any non-empty one); the {} values go
// to `params`.
bool matches(const std::vector<std::string>& pattern, std::string_view path, std::vector<std::string_view>& params) {
  params.clear();
  std::string_view segment;
  for (const std::string& expected : pattern) {
    if (!next_segment(path, segment)) return false;
    if (expected == "{}") {
      if (segment.empty()) return false;
      params.push_back(segment);
    } else if (expected != segment) {
      return false;
    }
  }
  return path.empty();
}

// A path segment that could escape a path or hide one: "." or "..", a slash (once decoded),
// a backslash or a NUL byte.
std::optional<Error> check_segment(std::string_view segment) {
  if (segment == "." || segment == "..")
    return Error{ErrorCode::invalid_argument, "the path must not contain '.' or '..' segments"};
  if (segment.find_first_of(std::string_view("/\\\0", 3)) != std::string_view::npos)
    return Error{ErrorCode::invalid_argument, "the path contains an encoded slash or a NUL byte"};
  return std::nullopt;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string percent_decode_or_empty(std::string_view text, bool plus_is_space, bool* ok) {
  std::string out;
  out.reserve(text.size());
  *ok = true;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
      int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        *ok = false;
        return {};
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<Target> parse_target(std::string_view target) {
  if (target.empty() || target.front() != '/')
    return fail(ErrorCode::invalid_argument, "the request target must be an absolute path");
  Target parsed;
  auto question = target.find('?');
  std::string_view raw_path = target.substr(0, question);
  std::string_view rest = raw_path, raw_segment;
  if (raw_path.find('%') == std::string_view::npos) {
    // Nothing to decode (every player's and page's object and manifest URL): check in place.
    while (next_segment(rest, raw_segment))
      if (auto refused = check_segment(raw_segment)) return tl::make_unexpected(*refused);
    if (!is_utf8(raw_path)) return fail(ErrorCode::invalid_argument, "the path is not UTF-8");
    parsed.path.assign(raw_path);
  } else {
    while (next_segment(rest, raw_segment)) {
      bool ok = false;
      std::string segment = percent_decode_or_empty(raw_segment, false, &ok);
      if (!ok) return fail(ErrorCode::invalid_argument, "bad percent-encoding in the path");
      if (auto refused = check_segment(segment)) return tl::make_unexpected(*refused);
      if (!is_utf8(segment)) return fail(ErrorCode::invalid_argument, "the path is not UTF-8");
      parsed.path += '/';
      parsed.path += segment;
    }
  }
  if (question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
      auto amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (pair.empty()) continue;
      auto eq = pair.find('=');
      bool key_ok = false, value_ok = true;
      std::string key = percent_decode_or_empty(pair.substr(0, eq), true, &key_ok);
      std::string value = eq == std::string_view::npos ? "" : percent_decode_or_empty(pair.substr(eq + 1), true, &value_ok);
      if (!key_ok || !value_ok) return fail(ErrorCode::invalid_argument, "bad percent-encoding in the query");
      if (!is_utf8(key) || !is_utf8(value)) return fail(ErrorCode::invalid_argument, "the query is not UTF-8");
      parsed.query.emplace(std::move(key), std::move(value));
    }
  }
  return parsed;
}

Router::Router(std::vector<Route> routes) : routes_(std::move(routes)) {
  for (auto& route : routes_) segments_.push_back(split_path(route.pattern));
}

Result<RouteMatch> Router::match(Verb method, std::string_view path, std::string* allowed) const {
  bool path_matched = false;
  const Route* head_via_get = nullptr;
  std::vector<std::string_view> params, head_params;
  auto found = [](const Route& route, const std::vector<std::string_view>& values) {
    return RouteMatch{&route, std::vector<std::string>(values.begin(), values.end())};
  };
  for (std::size_t r = 0; r < routes_.size(); ++r) {
    if (!matches(segments_[r], path, params)) continue;
    path_matched = true;
    if (routes_[r].method == method) return found(routes_[r], params);
    // HEAD is answered by the GET route unless a HEAD route of its own exists.
    if (method == Verb::head && routes_[r].method == Verb::get && !head_via_get) {
      head_via_get = &routes_[r];
      head_params = params;
      continue;
    }
    if (allowed) {
      if (!allowed->empty()) *allowed += ", ";
      *allowed += std::string(beast_http::to_string(routes_[r].method));
    }
  }
  if (head_via_get) return found(*head_via_get, head_params);
  if (!path_matched) return fail(ErrorCode::not_found, "no such resource");
  return RouteMatch{};
}

}  // namespace cinevault::http
