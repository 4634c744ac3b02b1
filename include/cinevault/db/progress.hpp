// Rows of the watch_progress table (where each user stopped in each video) and of
// signing_keys (the secret that signs share links).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"

namespace cinevault::db {

struct WatchProgress {
  std::string video_id;
  double position_s = 0;
  std::int64_t updated_at_ms = 0;
};

Result<void> save_progress(Connection& c, std::int64_t user_id, const std::string& video_id, double position_s);
Result<std::optional<WatchProgress>> find_progress(Connection& c, std::int64_t user_id, const std::string& video_id);
// The user's most recently saved positions, newest first.
Result<std::vector<WatchProgress>> recent_progress(Connection& c, std::int64_t user_id, int limit);

// The current share-link secret (64 hex digits), if one was made.
Result<std::optional<std::string>> current_signing_key(Connection& c);
// Makes `secret` the only signing key: links signed with any other stop working.
Result<void> replace_signing_key(Connection& c, const std::string& secret);

}  // namespace cinevault::db
