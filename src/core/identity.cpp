#include "cinevault/core/identity.hpp"

namespace cinevault {

const char* to_string(Role role) {
  switch (role) {
    case Role::admin: return "admin";
    case Role::uploader: return "uploader";
    case Role::viewer: return "viewer";
  }
  return "viewer";
}

std::optional<Role> parse_role(std::string_view text) {
  for (Role role : {Role::admin, Role::uploader, Role::viewer})
    if (text == to_string(role)) return role;
  return std::nullopt;
}

}  // namespace cinevault
