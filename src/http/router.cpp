#include "cinevault/http/router.hpp"

#include <optional>

#include "cinevault/core/text.hpp"

namespace cinevault::http {
namespace {

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
  for (auto& raw_segment : split_path(raw_path)) {
    bool ok = false;
    std::string segment = percent_decode_or_empty(raw_segment, false, &ok);
    if (!ok) return fail(ErrorCode::invalid_argument, "bad percent-encoding in the path");
    if (segment == "." || segment == "..")
      return fail(ErrorCode::invalid_argument, "the path must not contain '.' or '..' segments");
    if (segment.find('/') != std::string::npos || segment.find('\0') != std::string::npos ||
        segment.find('\\') != std::string::npos)
      return fail(ErrorCode::invalid_argument, "the path contains an encoded slash or a NUL byte");
    if (!is_utf8(segment)) return fail(ErrorCode::invalid_argument, "the path is not UTF-8");
    parsed.path += '/';
    parsed.path += segment;
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
  auto segments = split_path(path);
  bool path_matched = false;
  std::optional<RouteMatch> head_via_get;
  for (std::size_t r = 0; r < routes_.size(); ++r) {
    const auto& pattern = segments_[r];
    if (pattern.size() != segments.size()) continue;
    RouteMatch match;
    bool ok = true;
    for (std::size_t i = 0; i < pattern.size() && ok; ++i) {
      if (pattern[i] == "{}") {
        if (segments[i].empty()) ok = false;
        else match.params.push_back(segments[i]);
      } else if (pattern[i] != segments[i]) {
        ok = false;
      }
    }
    if (!ok) continue;
    path_matched = true;
    if (routes_[r].method == method) {
      match.route = &routes_[r];
      return match;
    }
    // HEAD is answered by the GET route unless a HEAD route of its own exists.
    if (method == Verb::head && routes_[r].method == Verb::get && !head_via_get) {
      match.route = &routes_[r];
      head_via_get = std::move(match);
      continue;
    }
    if (allowed) {
      if (!allowed->empty()) *allowed += ", ";
      *allowed += std::string(beast_http::to_string(routes_[r].method));
    }
  }
  if (head_via_get) return *head_via_get;
  if (!path_matched) return fail(ErrorCode::not_found, "no such resource");
  return RouteMatch{};
}

}  // namespace cinevault::http
