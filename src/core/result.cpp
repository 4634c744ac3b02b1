#include "cinevault/core/result.hpp"

namespace cinevault {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::unauthorized: return "unauthorized";
    case ErrorCode::forbidden: return "forbidden";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::conflict: return "conflict";
    case ErrorCode::gone: return "gone";
    case ErrorCode::precondition_failed: return "precondition_failed";
    case ErrorCode::too_large: return "too_large";
    case ErrorCode::too_many: return "too_many";
    case ErrorCode::insufficient_storage: return "insufficient_storage";
    case ErrorCode::unsupported_media: return "unsupported_media";
    case ErrorCode::unprocessable: return "unprocessable";
    case ErrorCode::checksum_mismatch: return "checksum_mismatch";
    case ErrorCode::locked: return "locked";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::codec: return "codec";
    case ErrorCode::hardware: return "hardware";
    case ErrorCode::crashed: return "crashed";
    case ErrorCode::resource: return "resource";
    case ErrorCode::io: return "io";
    case ErrorCode::database: return "database";
    case ErrorCode::internal: return "internal";
  }
  return "internal";
}

}  // namespace cinevault
