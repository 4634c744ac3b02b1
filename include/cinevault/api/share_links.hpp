// Share links: a video's id and an expiry, signed with HMAC-SHA256 under the server's signing
// key, so that any player can watch without credentials until the link expires. The key is
// kept in the database; rotating it ends every link made before.
//
// A token is "<video id>.<expiry, Unix seconds>.<HMAC, 64 hex digits>". Thread-safe: verify()
// runs on the I/O threads while rotate() may run on another.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cinevault/core/identity.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/db/database.hpp"

namespace cinevault::api {

class ShareLinks {
 public:
  // Loads the signing key, making one on first use.
  static Result<std::unique_ptr<ShareLinks>> open(db::Database& database);

  std::string sign(const std::string& video_id, std::int64_t expires_at_s) const;
  // The grant of a valid, unexpired token; forbidden otherwise (the message never echoes it).
  Result<ShareGrant> verify(std::string_view token, std::int64_t now_s) const;
  // A new signing key, stored and used at once.
  Result<void> rotate(db::Database& database);

 private:
  explicit ShareLinks(std::string key) : key_(std::make_shared<const std::string>(std::move(key))) {}
  std::atomic<std::shared_ptr<const std::string>> key_;  // 32 bytes
};

}  // namespace cinevault::api
