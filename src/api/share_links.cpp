#include "cinevault/api/share_links.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cinevault/core/hash.hpp"
#include "cinevault/core/parse.hpp"
#include "cinevault/db/progress.hpp"

namespace cinevault::api {
namespace {

// The stored key's hex (the table admits 64 characters; anything but hex digits counts as 0).
std::string from_hex(std::string_view hex) {
  auto nibble = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return 0;
  };
  std::string bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) bytes += static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1]));
  return bytes;
}

std::string mac_hex(const std::string& key, std::string_view video_id, std::int64_t expires_at_s) {
  std::string message = "cinevault-share-v1\n" + std::string(video_id) + "\n" + std::to_string(expires_at_s);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &size);
  return to_hex(std::string_view(reinterpret_cast<const char*>(mac), size));
}

Result<std::string> new_key(db::Database& database) {
  std::string secret = random_hex(32);
  RETURN_IF_ERROR(database.write([&](db::Connection& c) { return db::replace_signing_key(c, secret); }));
  return secret;
}

}  // namespace

Result<std::unique_ptr<ShareLinks>> ShareLinks::open(db::Database& database) {
  TRY(auto stored, database.read([](db::Connection& c) { return db::current_signing_key(c); }));
  std::string secret;
  if (stored) {
    secret = *stored;
  } else {
    TRY(secret, new_key(database));
  }
  return std::unique_ptr<ShareLinks>(new ShareLinks(from_hex(secret)));
}

std::string ShareLinks::sign(const std::string& video_id, std::int64_t expires_at_s) const {
  auto key = key_.load();
  return video_id + "." + std::to_string(expires_at_s) + "." + mac_hex(*key, video_id, expires_at_s);
}

Result<ShareGrant> ShareLinks::verify(std::string_view token, std::int64_t now_s) const {
  auto invalid = [] {
    return fail(ErrorCode::forbidden, "this share link is not valid: it was altered, or its signing key was rotated");
  };
  auto first = token.find('.');
  auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos) return invalid();
  std::string_view video_id = token.substr(0, first);
  auto expires = parse_integer<std::int64_t>(token.substr(first + 1, second - first - 1));
  std::string_view mac = token.substr(second + 1);
  if (video_id.empty() || video_id.size() > 64 || !expires || mac.size() != 64) return invalid();
  std::string expected = mac_hex(*key_.load(), video_id, *expires);
  if (CRYPTO_memcmp(expected.data(), mac.data(), expected.size()) != 0) return invalid();
  if (*expires <= now_s) return fail(ErrorCode::forbidden, "this share link has expired");
  return ShareGrant{std::string(video_id), *expires, std::string(token)};
}

Result<void> ShareLinks::rotate(db::Database& database) {
  TRY(auto secret, new_key(database));
  key_.store(std::make_shared<const std::string>(from_hex(secret)));
  return {};
}

}  // namespace cinevault::api
