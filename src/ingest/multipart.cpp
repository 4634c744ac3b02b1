#include "cinevault/ingest/multipart.hpp"

#include "cinevault/core/text.hpp"

namespace cinevault::ingest {
namespace {

constexpr std::size_t kMaxHeaderBlock = 16 * 1024;

// The value of `param` in a header like: form-data; name="file"; filename="a.mp4"
std::string parameter(std::string_view header, std::string_view param) {
  std::string lowered = ascii_lower(header);
  std::size_t pos = 0;
  while ((pos = lowered.find(std::string(param) + "=", pos)) != std::string::npos) {
    bool at_start = pos == 0 || lowered[pos - 1] == ';' || lowered[pos - 1] == ' ' || lowered[pos - 1] == '\t';
    pos += param.size() + 1;
    if (!at_start) continue;
    if (pos < header.size() && header[pos] == '"') {
      std::string value;
      for (std::size_t i = pos + 1; i < header.size(); ++i) {
        if (header[i] == '\\' && i + 1 < header.size()) value.push_back(header[++i]);
        else if (header[i] == '"') return value;
        else value.push_back(header[i]);
      }
      return value;
    }
    auto end = header.find(';', pos);
    return std::string(trim_blanks(header.substr(pos, end == std::string_view::npos ? end : end - pos)));
  }
  return {};
}

}  // namespace

Result<std::string> MultipartParser::boundary_of(std::string_view content_type) {
  if (ascii_lower(content_type).rfind("multipart/form-data", 0) != 0)
    return fail(ErrorCode::unsupported_media, "expected Content-Type multipart/form-data");
  std::string boundary = parameter(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 70)
    return fail(ErrorCode::invalid_argument, "multipart/form-data needs a boundary of 1 to 70 characters");
  return boundary;
}

// The body starts with "--boundary", which is the delimiter without its leading CRLF:
// start the buffer with that CRLF so that every delimiter looks the same.
MultipartParser::MultipartParser(std::string boundary, Handler handler)
    : delimiter_("\r\n--" + boundary), handler_(std::move(handler)), buffer_("\r\n") {}

Result<void> MultipartParser::feed(const char* data, std::size_t size) {
  if (state_ == State::epilogue) return {};
  buffer_.append(data, size);
  bool progressed = true;
  while (progressed) RETURN_IF_ERROR(step(&progressed));
  return {};
}

Result<void> MultipartParser::step(bool* progressed) {
  *progressed = false;
  switch (state_) {
    case State::preamble: {
      auto at = buffer_.find(delimiter_);
      if (at == std::string::npos) {
        if (buffer_.size() > kMaxHeaderBlock) return fail(ErrorCode::invalid_argument, "multipart body has no boundary");
        return {};
      }
      buffer_.erase(0, at + delimiter_.size());
      state_ = State::after_delimiter;
      *progressed = true;
      return {};
    }
    case State::after_delimiter: {
      if (buffer_.size() < 2) return {};
      if (buffer_.compare(0, 2, "--") == 0) {
        state_ = State::epilogue;
        buffer_.clear();
        return {};
      }
      // Transport padding (spaces, tabs) may precede the CRLF.
      auto crlf = buffer_.find("\r\n");
      if (crlf == std::string::npos) {
        if (buffer_.size() > 256) return fail(ErrorCode::invalid_argument, "malformed multipart delimiter line");
        return {};
      }
      if (!trim_blanks(std::string_view(buffer_).substr(0, crlf)).empty())
        return fail(ErrorCode::invalid_argument, "malformed multipart delimiter line");
      buffer_.erase(0, crlf + 2);
      state_ = State::headers;
      *progressed = true;
      return {};
    }
    case State::headers: {
      // A part with no header lines at all starts with the empty line directly.
      std::size_t end = buffer_.rfind("\r\n", 0) == 0 ? 0 : buffer_.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (buffer_.size() > kMaxHeaderBlock) return fail(ErrorCode::invalid_argument, "multipart part headers too large");
        return {};
      }
      RETURN_IF_ERROR(parse_headers(std::string_view(buffer_).substr(0, end)));
      buffer_.erase(0, end == 0 ? 2 : end + 4);
      state_ = State::body;
      *progressed = true;
      return {};
    }
    case State::body: {
      auto at = buffer_.find(delimiter_);
      if (at == std::string::npos) {
        // Everything but a possible delimiter prefix at the end is part data.
        if (buffer_.size() >= delimiter_.size()) {
          std::size_t safe = buffer_.size() - (delimiter_.size() - 1);
          RETURN_IF_ERROR(handler_.part_data(buffer_.data(), safe));
          buffer_.erase(0, safe);
        }
        return {};
      }
      if (at > 0) RETURN_IF_ERROR(handler_.part_data(buffer_.data(), at));
      RETURN_IF_ERROR(handler_.end_part());
      buffer_.erase(0, at + delimiter_.size());
      state_ = State::after_delimiter;
      *progressed = true;
      return {};
    }
    case State::epilogue:
      buffer_.clear();
      return {};
  }
  return {};
}

Result<void> MultipartParser::parse_headers(std::string_view block) {
  PartHeader part;
  bool has_disposition = false;
  while (!block.empty()) {
    auto eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return fail(ErrorCode::invalid_argument, "malformed multipart part header");
    std::string name = ascii_lower(trim_blanks(line.substr(0, colon)));
    std::string_view value = trim_blanks(line.substr(colon + 1));
    if (name == "content-disposition") {
      if (ascii_lower(value).rfind("form-data", 0) != 0)
        return fail(ErrorCode::invalid_argument, "multipart part is not form-data");
      has_disposition = true;
      part.name = parameter(value, "name");
      part.filename = parameter(value, "filename");
    } else if (name == "content-type") {
      part.content_type = std::string(value);
    }
  }
  if (!has_disposition) return fail(ErrorCode::invalid_argument, "multipart part without Content-Disposition");
  if (!is_utf8(part.name) || !is_utf8(part.filename) || !is_utf8(part.content_type))
    return fail(ErrorCode::invalid_argument, "a multipart part's name, filename or type is not UTF-8");
  return handler_.begin_part(part);
}

Result<void> MultipartParser::finish() {
  if (state_ != State::epilogue) return fail(ErrorCode::invalid_argument, "the multipart body ended before its closing boundary");
  return {};
}

}  // namespace cinevault::ingest
