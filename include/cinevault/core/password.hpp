// Password hashing for accounts: Argon2id through libsodium's crypto_pwhash_str, which
// writes the algorithm, its cost and a random salt into the stored string, so that a cost
// raised later still verifies the hashes made before.
#pragma once

#include <string>
#include <string_view>

#include "cinevault/core/result.hpp"

namespace cinevault {

// What a password must be: 8 to 1024 bytes of UTF-8 without control characters (a typed
// line). Errors: invalid_argument with a message that does not echo it.
Result<void> check_password(std::string_view password);

// "$argon2id$v=19$m=65536,t=2,p=1$…": Argon2id at libsodium's "interactive" cost (64 MiB,
// 2 passes; about a tenth of a second). Errors: invalid_argument (check_password), internal
// (out of memory).
Result<std::string> hash_password(std::string_view password);

// Whether `password` matches `stored` (a hash_password string); false for anything else.
bool verify_password(std::string_view stored, std::string_view password);

}  // namespace cinevault
