// Result<T> and Error: how every module reports failure across its boundary.
#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace cinevault {

// What kind of failure this is; http/ maps each code to one status in one table.
enum class ErrorCode {
  invalid_argument,     // the request or input is malformed
  unauthorized,         // no or wrong credentials
  forbidden,            // credentials valid but not allowed
  not_found,
  conflict,             // state does not allow this (e.g. wrong upload offset)
  gone,                 // existed once, expired or removed
  precondition_failed,  // a required protocol header is wrong (tus version)
  too_large,            // over a configured size limit
  too_many,             // over a configured count limit (open uploads of a key)
  insufficient_storage, // the disk (less its reserve) or a storage quota cannot take the bytes
  unsupported_media,    // not a media file we accept at all
  unprocessable,        // media, but not acceptable (too long, no video, truncated)
  checksum_mismatch,    // tus checksum extension: the chunk did not match
  locked,               // someone else is writing this resource
  unavailable,          // shutting down, over capacity
  codec,                // an encoder or decoder failed
  hardware,             // a hardware encoder failed (retry in software)
  crashed,              // a media worker died of a signal (a decoder bug, a sandbox violation)
  resource,             // a job went over its memory, CPU or time budget, or stopped reporting
  io,                   // filesystem failure
  database,             // SQLite failure
  internal,             // a bug
};

const char* to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
};

template <typename T>
using Result = tl::expected<T, Error>;

// An error as a value to return from a function that yields Result<T>.
inline tl::unexpected<Error> fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace cinevault

#define CINEVAULT_CONCAT_INNER(a, b) a##b
#define CINEVAULT_CONCAT(a, b) CINEVAULT_CONCAT_INNER(a, b)

// Returns the error of a Result-valued expression from the enclosing function.
#define RETURN_IF_ERROR(expr)                                         \
  do {                                                                \
    auto&& cinevault_result_ = (expr);                                \
    if (!cinevault_result_) return tl::unexpected(cinevault_result_.error()); \
  } while (0)

// TRY(auto x, expr): binds the value of a Result-valued expression or returns its error.
#define TRY(decl, expr) TRY_IMPL(CINEVAULT_CONCAT(cinevault_try_, __LINE__), decl, expr)
#define TRY_IMPL(tmp, decl, expr)                          \
  auto tmp = (expr);                                       \
  if (!tmp) return tl::unexpected(std::move(tmp).error()); \
  decl = std::move(tmp).value()
