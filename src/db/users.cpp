#include "cinevault/db/users.hpp"

#include <algorithm>

#include "cinevault/db/database.hpp"

namespace cinevault::db {
namespace {

constexpr const char* kColumns = "id, name, role, created_at, updated_at";

User read_user(const Statement& s) {
  User user;
  user.id = s.int64(0);
  user.name = s.text(1);
  // The table's CHECK admits only the three roles.
  user.role = parse_role(s.text(2)).value_or(Role::viewer);
  user.created_at_ms = s.int64(3);
  user.updated_at_ms = s.int64(4);
  return user;
}

}  // namespace

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

Result<void> check_user_name(std::string_view name) {
  auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  };
  bool starts_well = !name.empty() && allowed(name.front()) && name.front() != '.' && name.front() != '_' &&
                     name.front() != '-';
  if (name.size() > 64 || !starts_well || !std::all_of(name.begin(), name.end(), allowed))
    return fail(ErrorCode::invalid_argument,
                "a user name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
  return {};
}

Result<User> create_user(Connection& c, const std::string& name, Role role, const std::string& password_hash) {
  RETURN_IF_ERROR(check_user_name(name));
  TRY(auto existing, find_user(c, name));
  if (existing) return fail(ErrorCode::conflict, "a user named " + existing->name + " exists");
  auto now = now_ms();
  TRY(auto stmt, c.prepare("INSERT INTO users (name, role, password_hash, created_at, updated_at) "
                           "VALUES (?, ?, ?, ?, ?) RETURNING " + std::string(kColumns)));
  stmt.bind(1, name).bind(2, to_string(role)).bind(3, password_hash).bind(4, now).bind(5, now);
  TRY(bool row, stmt.step());
  if (!row) return fail(ErrorCode::database, "insert user returned nothing");
  return read_user(stmt);
}

Result<std::vector<User>> list_users(Connection& c) {
  TRY(auto stmt, c.prepare("SELECT " + std::string(kColumns) + " FROM users ORDER BY name"));
  std::vector<User> users;
  for (;;) {
    TRY(bool row, stmt.step());
    if (!row) return users;
    users.push_back(read_user(stmt));
  }
}

Result<std::optional<User>> find_user(Connection& c, const std::string& name) {
  TRY(auto stmt, c.prepare("SELECT " + std::string(kColumns) + " FROM users WHERE name = ?"));
  stmt.bind(1, name);
  TRY(bool row, stmt.step());
  if (!row) return std::optional<User>();
  return std::optional<User>(read_user(stmt));
}

Result<bool> set_user_password(Connection& c, const std::string& name, const std::string& password_hash) {
  TRY(auto stmt, c.prepare("UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?"));
  RETURN_IF_ERROR(stmt.bind(1, password_hash).bind(2, now_ms()).bind(3, name).run());
  return c.changes() == 1;
}

Result<bool> remove_user(Connection& c, const std::string& name) {
  TRY(auto stmt, c.prepare("DELETE FROM users WHERE name = ?"));
  RETURN_IF_ERROR(stmt.bind(1, name).run());
  return c.changes() == 1;
}

Result<std::int64_t> count_admins(Connection& c) {
  TRY(auto stmt, c.prepare("SELECT count(*) FROM users WHERE role = 'admin'"));
  TRY(bool row, stmt.step());
  return row ? stmt.int64(0) : 0;
}

}  // namespace cinevault::db
