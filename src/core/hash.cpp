#include "cinevault/core/hash.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cinevault/core/file.hpp"

namespace cinevault {

void Hasher::CtxDeleter::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

static const EVP_MD* digest_for(HashAlgorithm algorithm) {
  return algorithm == HashAlgorithm::sha1 ? EVP_sha1() : EVP_sha256();
}

Hasher::Hasher(HashAlgorithm algorithm) : algorithm_(algorithm), ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), digest_for(algorithm_), nullptr) != 1)
    throw std::runtime_error("EVP_DigestInit_ex failed");
}
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

void Hasher::update(const void* data, std::size_t size) {
  if (size > 0) EVP_DigestUpdate(ctx_.get(), data, size);
}

std::string Hasher::finish() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx_.get(), digest, &length);
  EVP_DigestInit_ex(ctx_.get(), digest_for(algorithm_), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string Hasher::finish_hex() { return to_hex(finish()); }

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

bool is_sha256_hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string sha256_hex(std::string_view bytes) {
  Hasher hasher(HashAlgorithm::sha256);
  hasher.update(bytes.data(), bytes.size());
  return hasher.finish_hex();
}

std::string strong_etag(std::string_view bytes) {
  std::string etag = "\"";
  etag.append(sha256_hex(bytes), 0, 32);
  etag += '"';
  return etag;
}

Result<void> hash_file_prefix(const std::filesystem::path& path, std::uint64_t length, Hasher& hasher) {
  TRY(File file, File::open_read(path));
  std::vector<char> buffer(1 << 20);
  std::uint64_t done = 0;
  Result<void> hashed = hash_file_range(file.fd(), 0, length, std::span(&hasher, 1), buffer, done);
  if (!hashed) return fail(ErrorCode::io, "hashing " + path.string() + ": " + hashed.error().message);
  return {};
}

Result<void> hash_file_range(int fd, std::uint64_t from, std::uint64_t end, std::span<Hasher> hashers,
                             std::vector<char>& buffer, std::uint64_t& done) {
  done = from;
  while (done < end) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(end - done, buffer.size()));
    ssize_t got = ::pread(fd, buffer.data(), want, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fail(ErrorCode::io, std::string("pread: ") + std::strerror(errno));
    if (got == 0) return fail(ErrorCode::io, "the file is shorter than expected");
    for (Hasher& hasher : hashers) hasher.update(buffer.data(), static_cast<std::size_t>(got));
    done += static_cast<std::uint64_t>(got);
  }
  return {};
}

Result<std::string> sha256_file_hex(const std::filesystem::path& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return fail(ErrorCode::io, "stat " + path.string() + ": " + ec.message());
  Hasher hasher(HashAlgorithm::sha256);
  RETURN_IF_ERROR(hash_file_prefix(path, size, hasher));
  return hasher.finish_hex();
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return to_hex(raw);
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return fail(ErrorCode::invalid_argument, "base64 length is not a multiple of 4");
  for (char c : text)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '='))
      return fail(ErrorCode::invalid_argument, "invalid base64 character");
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return fail(ErrorCode::invalid_argument, "invalid base64");
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

}  // namespace cinevault
