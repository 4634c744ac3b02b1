// Rows of the users table: people who sign in, each with a role. Passwords are stored as
// Argon2id hashes only (core/password.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"

namespace cinevault::db {

// admin: everything; uploader: upload and manage their own videos; viewer: watch.
enum class Role { admin, uploader, viewer };
// As stored and as the command line and the API spell it.
const char* to_string(Role role);
std::optional<Role> parse_role(std::string_view text);

struct User {
  std::int64_t id = 0;
  std::string name;
  Role role = Role::viewer;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
};

// 1 to 64 of letters, digits, '.', '_' and '-', starting with a letter or digit. Errors:
// invalid_argument with a message that does not echo the name.
Result<void> check_user_name(std::string_view name);

// Errors: invalid_argument (the name), conflict (the name is taken, whatever its case).
Result<User> create_user(Connection& c, const std::string& name, Role role, const std::string& password_hash);
Result<std::vector<User>> list_users(Connection& c);
Result<std::optional<User>> find_user(Connection& c, const std::string& name);
// False when there is no such user.
Result<bool> set_user_password(Connection& c, const std::string& name, const std::string& password_hash);
Result<bool> remove_user(Connection& c, const std::string& name);
Result<std::int64_t> count_admins(Connection& c);

}  // namespace cinevault::db
