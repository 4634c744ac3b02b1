// Who a request acts for: a user with a role (signed in by a session cookie or an API key),
// or a share link's grant to watch one video. Made by the HTTP server's gate from the
// request's credentials; the API decides from it what is visible and what may change.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cinevault {

// admin: everything; uploader: upload and manage their own videos; viewer: watch.
enum class Role { admin, uploader, viewer };
// As stored, and as the command line and the API spell it.
const char* to_string(Role role);
std::optional<Role> parse_role(std::string_view text);

struct Principal {
  std::int64_t user_id = 0;
  std::string name;
  Role role = Role::viewer;
  std::optional<std::string> key_id;  // signed in by this API key
  std::string csrf_token;             // signed in by a session cookie: what its changes must carry
  bool by_session() const { return !csrf_token.empty(); }
  bool may_upload() const { return role == Role::admin || role == Role::uploader; }
};

// A valid share link: lets anyone watch one video until it expires.
struct ShareGrant {
  std::string video_id;
  std::int64_t expires_at_s = 0;
  std::string token;  // as it came: the URLs the grant opens carry it on
};

}  // namespace cinevault
