#include "cinevault/db/users.hpp"

#include <algorithm>

#include "cinevault/db/database.hpp"

namespace cinevault::db {
namespace {

constexpr const char* kColumns = "id, name, role, password_hash != '', created_at, updated_at";

User read_user(const Statement& s) {
  User user;
  user.id = s.int64(0);
  user.name = s.text(1);
  // The table's CHECK admits only the three roles.
  user.role = parse_role(s.text(2)).value_or(Role::viewer);
  user.has_password = s.int64(3) != 0;
  user.created_at_ms = s.int64(4);
  user.updated_at_ms = s.int64(5);
  return user;
}

template <typename Value>
Result<std::optional<User>> find_one(Connection& c, const std::string& where, const Value& value) {
  TRY(auto stmt, c.prepare("SELECT " + std::string(kColumns) + " FROM users WHERE " + where));
  stmt.bind(1, value);
  TRY(bool row, stmt.step());
  if (!row) return std::optional<User>();
  return std::optional<User>(read_user(stmt));
}

}  // namespace

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

Result<std::optional<User>> find_user(Connection& c, const std::string& name) { return find_one(c, "name = ?", name); }

Result<std::optional<User>> find_user(Connection& c, std::int64_t id) { return find_one(c, "id = ?", id); }

Result<std::optional<User>> first_admin(Connection& c, std::int64_t except_id) {
  return find_one(c, "role = 'admin' AND id != ? ORDER BY id LIMIT 1", except_id);
}

Result<std::optional<SignInRecord>> find_sign_in(Connection& c, const std::string& name) {
  TRY(auto stmt, c.prepare("SELECT " + std::string(kColumns) + ", password_hash FROM users WHERE name = ?"));
  stmt.bind(1, name);
  TRY(bool row, stmt.step());
  if (!row) return std::optional<SignInRecord>();
  return std::optional<SignInRecord>(SignInRecord{read_user(stmt), stmt.text(6)});
}

namespace {

// Whether `id` is an admin and no other user is.
Result<bool> is_last_admin(Connection& c, std::int64_t id) {
  TRY(auto stmt, c.prepare("SELECT role = 'admin' AND NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin' AND id != ?1) "
                           "FROM users WHERE id = ?1"));
  TRY(bool row, stmt.bind(1, id).step());
  return row && stmt.int64(0) != 0;
}

}  // namespace

Result<bool> set_user_password(Connection& c, std::int64_t id, const std::string& password_hash) {
  TRY(auto stmt, c.prepare("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?"));
  RETURN_IF_ERROR(stmt.bind(1, password_hash).bind(2, now_ms()).bind(3, id).run());
  if (c.changes() != 1) return false;
  TRY(auto sessions, c.prepare("DELETE FROM sessions WHERE user_id = ?"));
  RETURN_IF_ERROR(sessions.bind(1, id).run());
  return true;
}

Result<bool> set_user_role(Connection& c, std::int64_t id, Role role) {
  TRY(bool last, is_last_admin(c, id));
  if (last && role != Role::admin) return fail(ErrorCode::conflict, "the last admin cannot become anything else");
  TRY(auto stmt, c.prepare("UPDATE users SET role = ?, updated_at = ? WHERE id = ?"));
  RETURN_IF_ERROR(stmt.bind(1, to_string(role)).bind(2, now_ms()).bind(3, id).run());
  return c.changes() == 1;
}

Result<std::optional<User>> remove_user(Connection& c, std::int64_t id, std::int64_t preferred_heir_id) {
  TRY(auto user, find_user(c, id));
  if (!user) return std::optional<User>();
  TRY(bool last, is_last_admin(c, id));
  if (last) return fail(ErrorCode::conflict, "the last admin cannot be removed");
  std::optional<User> heir;
  if (preferred_heir_id != id) {
    TRY(heir, find_user(c, preferred_heir_id));
  }
  if (!heir) {
    TRY(heir, first_admin(c, id));
  }
  if (!heir) return fail(ErrorCode::conflict, "no admin to take the videos");
  TRY(auto videos, c.prepare("UPDATE videos SET owner_id = ? WHERE owner_id = ?"));
  RETURN_IF_ERROR(videos.bind(1, heir->id).bind(2, id).run());
  // Their unfinished uploads end with them: nobody may resume one (SQLite gives a removed
  // highest id to the next new user), and the expiry sweep frees the files and the space.
  TRY(auto uploads, c.prepare("UPDATE uploads SET expires_at = 0 WHERE owner = ?"));
  RETURN_IF_ERROR(uploads.bind(1, std::to_string(id)).run());
  TRY(auto stmt, c.prepare("DELETE FROM users WHERE id = ?"));
  RETURN_IF_ERROR(stmt.bind(1, id).run());
  return heir;
}

}  // namespace cinevault::db
