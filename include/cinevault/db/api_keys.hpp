// Rows of the api_keys table. Only the SHA-256 of a key is stored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"
#include "cinevault/db/users.hpp"

namespace cinevault::db {

struct ApiKeyRow {
  std::string id;
  std::string name;
  std::string user_name;  // whose key it is: it acts with that user's role
  std::int64_t created_at_ms = 0;
  std::optional<std::int64_t> last_used_at_ms;
  std::optional<std::int64_t> revoked_at_ms;
};

// A new key: the row to show and the secret, which is returned once and never stored.
struct NewApiKey {
  ApiKeyRow row;
  std::string secret;
};

Result<NewApiKey> create_api_key(Connection& c, const std::string& name, std::int64_t user_id);
Result<std::vector<ApiKeyRow>> list_api_keys(Connection& c);
Result<std::int64_t> count_api_keys(Connection& c);
// Returns false if there is no such key or it was already revoked.
Result<bool> revoke_api_key(Connection& c, const std::string& id);
// The live key whose hash matches, and its user, if any.
struct KeyHolder {
  std::string key_id;
  User user;
};
Result<std::optional<KeyHolder>> find_live_key(Connection& c, const std::string& secret);
Result<void> touch_api_key(Connection& c, const std::string& id);

}  // namespace cinevault::db
