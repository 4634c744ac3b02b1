#include "cinevault/core/password.hpp"

#include <algorithm>

#include <sodium.h>

#include "cinevault/core/text.hpp"

namespace cinevault {
namespace {

bool sodium_ready() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

}  // namespace

Result<void> check_password(std::string_view password) {
  if (password.size() < 8) return fail(ErrorCode::invalid_argument, "a password has at least 8 characters");
  if (password.size() > 1024) return fail(ErrorCode::invalid_argument, "a password has at most 1024 bytes");
  if (!is_utf8(password)) return fail(ErrorCode::invalid_argument, "a password must be UTF-8 text");
  if (std::any_of(password.begin(), password.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    return fail(ErrorCode::invalid_argument, "a password may not hold control characters");
  return {};
}

Result<std::string> hash_password(std::string_view password) {
  RETURN_IF_ERROR(check_password(password));
  if (!sodium_ready()) return fail(ErrorCode::internal, "libsodium did not initialise");
  char stored[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(stored, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return fail(ErrorCode::internal, "hashing the password ran out of memory");
  return std::string(stored);
}

bool verify_password(std::string_view stored, std::string_view password) {
  if (!sodium_ready() || stored.empty() || stored.size() >= crypto_pwhash_STRBYTES) return false;
  char terminated[crypto_pwhash_STRBYTES] = {};
  std::copy(stored.begin(), stored.end(), terminated);
  return crypto_pwhash_str_verify(terminated, password.data(), password.size()) == 0;
}

}  // namespace cinevault
