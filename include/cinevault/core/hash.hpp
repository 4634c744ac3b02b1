// Incremental SHA-256 and SHA-1 (OpenSSL EVP), and hex helpers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cinevault/core/result.hpp"

struct evp_md_ctx_st;

namespace cinevault {

enum class HashAlgorithm { sha1, sha256 };

// One running digest. Not thread-safe; movable, not copyable.
class Hasher {
 public:
  explicit Hasher(HashAlgorithm algorithm);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  void update(const void* data, std::size_t size);
  // Returns the raw digest and resets the hasher for reuse.
  std::string finish();
  std::string finish_hex();

 private:
  struct CtxDeleter {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  HashAlgorithm algorithm_;
  std::unique_ptr<evp_md_ctx_st, CtxDeleter> ctx_;
};

std::string to_hex(std::string_view bytes);
bool is_sha256_hex(std::string_view text);
std::string sha256_hex(std::string_view bytes);
// A strong HTTP ETag for bytes served from memory: the quoted first 128 bits of their SHA-256.
std::string strong_etag(std::string_view bytes);

// Hashes a whole file, or its first `length` bytes, streaming.
Result<std::string> sha256_file_hex(const std::filesystem::path& path);
Result<void> hash_file_prefix(const std::filesystem::path& path, std::uint64_t length, Hasher& hasher);
// Hashes bytes [from, end) of an open file into each of `hashers`, reading them once with
// pread, up to buffer.size() (> 0) at a time. `done` is how far it got, `end` on success; a
// file shorter than `end` is an I/O error.
Result<void> hash_file_range(int fd, std::uint64_t from, std::uint64_t end, std::span<Hasher> hashers,
                             std::vector<char>& buffer, std::uint64_t& done);

// Cryptographically random bytes as lowercase hex (2 characters per byte).
std::string random_hex(std::size_t bytes);

// Standard base64 (RFC 4648 with padding), used by tus headers.
std::string base64_encode(std::string_view bytes);
Result<std::string> base64_decode(std::string_view text);

}  // namespace cinevault
