// Rows of the users table: people who sign in, each with a role. Passwords are stored as
// Argon2id hashes only (core/password.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cinevault/core/identity.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"

namespace cinevault::db {

using cinevault::parse_role;
using cinevault::Role;
using cinevault::to_string;

struct User {
  std::int64_t id = 0;
  std::string name;
  Role role = Role::viewer;
  bool has_password = false;  // false: sign-in is refused until one is set
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
Result<std::optional<User>> find_user(Connection& c, std::int64_t id);
// The admin with the smallest id other than `except_id`: who takes the videos of a user removed.
Result<std::optional<User>> first_admin(Connection& c, std::int64_t except_id = 0);

// A user and their stored password hash ("" when none was set), for signing in.
struct SignInRecord {
  User user;
  std::string password_hash;
};
Result<std::optional<SignInRecord>> find_sign_in(Connection& c, const std::string& name);

// Sets the hash and ends the user's sessions. False when there is no such user.
Result<bool> set_user_password(Connection& c, std::int64_t id, const std::string& password_hash);
// False when there is no such user. Errors: conflict when it would leave no admin.
Result<bool> set_user_role(Connection& c, std::int64_t id, Role role);
// Their sessions, keys and watch progress go with them; their videos pass to the user
// `preferred_heir_id` (when that is another user that exists), else to the first other admin.
// Returns who took the videos; nullopt when there is no such user. Errors: conflict for the
// last admin.
Result<std::optional<User>> remove_user(Connection& c, std::int64_t id, std::int64_t preferred_heir_id = 0);

}  // namespace cinevault::db
