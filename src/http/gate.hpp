// The server's checks of who sends a request, between matching its route and running it:
// credentials (a Bearer key, the session cookie), the route's Access, and cross-site
// protection of changes made with the cookie.
#pragma once

#include <optional>
#include <string>

#include "cinevault/http/server.hpp"
#include "cinevault/http/types.hpp"

namespace cinevault::http {

// The Bearer key and the session cookie the request carries (empty when absent). Errors:
// unauthorized for an Authorization header that is not "Bearer <key>".
Result<Credentials> credentials_of(const RequestHeader& header, const std::string& cookie_name);

// Why the request may not run its route, once its principal and share grant are known.
std::optional<Error> refusal(const Route& route, const RequestContext& request, const Gate& gate);

}  // namespace cinevault::http
