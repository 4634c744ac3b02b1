// A Beast Body that sends a byte range of an open file, reading it in large blocks.
#pragma once

#include <array>
#include <cstdint>
#include <utility>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/optional.hpp>

#include "cinevault/core/file.hpp"

namespace cinevault::http {

struct FileRangeBody {
  struct value_type {
    File file;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
  };

  static std::uint64_t size(const value_type& body) { return body.length; }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& body)
        : body_(body), position_(body.offset), remaining_(body.length) {}

    void init(boost::beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      if (remaining_ == 0) return boost::none;
      std::size_t want = remaining_ < buffer_.size() ? static_cast<std::size_t>(remaining_) : buffer_.size();
      // pread: the file offset is not shared state, so one open file could serve many requests.
      auto got = const_cast<File&>(body_.file).pread_some(buffer_.data(), want, position_);
      if (!got || *got == 0) {
        ec = boost::beast::http::error::short_read;  // the file shrank or failed under us
        return boost::none;
      }
      position_ += *got;
      remaining_ -= *got;
      return {{const_buffers_type(buffer_.data(), *got), remaining_ > 0}};
    }

   private:
    const value_type& body_;
    std::uint64_t position_;
    std::uint64_t remaining_;
    std::array<char, 256 * 1024> buffer_;
  };
};

}  // namespace cinevault::http
