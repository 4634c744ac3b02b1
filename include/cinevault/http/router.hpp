// Matches a method and a decoded path against the route table.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cinevault/core/result.hpp"
#include "cinevault/http/types.hpp"

namespace cinevault::http {

struct RouteMatch {
  const Route* route = nullptr;
  std::vector<std::string> params;
};

class Router {
 public:
  explicit Router(std::vector<Route> routes);
  // not_found when no pattern matches the path; a Result with route == nullptr and
  // `allowed` filled when the path matches but not with this method (405).
  Result<RouteMatch> match(Verb method, std::string_view path, std::string* allowed) const;

 private:
  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> segments_;
};

// Splits a request target into a decoded path and query. Refuses what could escape a
// path: "." or ".." segments, encoded slashes, NUL bytes, bad percent escapes.
struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};
Result<Target> parse_target(std::string_view target);
std::string percent_decode_or_empty(std::string_view text, bool plus_is_space, bool* ok);

}  // namespace cinevault::http
