// Rows of the sessions table: people signed in from a browser. The cookie's token is
// returned once; only its SHA-256 is stored, with the CSRF token its changes must carry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"
#include "cinevault/db/users.hpp"

namespace cinevault::db {

struct NewSession {
  std::string token;       // the cookie's value
  std::string csrf_token;
  std::int64_t expires_at_ms = 0;
};

struct SessionUser {
  User user;
  std::string csrf_token;
};

// Also deletes the expired sessions of every user, so the table holds live ones only.
Result<NewSession> create_session(Connection& c, std::int64_t user_id, std::int64_t lifetime_ms);
// The user of a live session, if the token names one.
Result<std::optional<SessionUser>> find_session(Connection& c, const std::string& token);
// The session of `user_id` with this CSRF token (each session has its own).
Result<void> delete_session(Connection& c, std::int64_t user_id, const std::string& csrf_token);
Result<void> delete_sessions_of(Connection& c, std::int64_t user_id);

}  // namespace cinevault::db
