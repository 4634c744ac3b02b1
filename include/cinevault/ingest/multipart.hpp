// A streaming multipart/form-data parser (RFC 7578, RFC 2046 §5.1): bytes in, parts out.
// A file part is passed on in pieces as it arrives; only part headers are held in memory.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "cinevault/core/result.hpp"

namespace cinevault::ingest {

struct PartHeader {
  std::string name;      // form field name
  std::string filename;  // empty for plain fields
  std::string content_type;
};

class MultipartParser {
 public:
  struct Handler {
    std::function<Result<void>(const PartHeader&)> begin_part;
    std::function<Result<void>(const char* data, std::size_t size)> part_data;
    std::function<Result<void>()> end_part;
  };

  // The boundary parameter of a multipart/form-data Content-Type.
  static Result<std::string> boundary_of(std::string_view content_type);

  MultipartParser(std::string boundary, Handler handler);
  Result<void> feed(const char* data, std::size_t size);
  // The body ended: fails unless the closing delimiter was seen.
  Result<void> finish();

 private:
  enum class State { preamble, after_delimiter, headers, body, epilogue };
  Result<void> parse_headers(std::string_view block);
  Result<void> step(bool* progressed);

  std::string delimiter_;  // "\r\n--" + boundary
  Handler handler_;
  State state_ = State::preamble;
  std::string buffer_;
};

}  // namespace cinevault::ingest
