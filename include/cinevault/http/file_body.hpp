// A Beast Body that is a byte range of an open file. The server sends it with sendfile(2);
// this writer (pread into a block) is the portable fallback Beast uses otherwise.
#pragma once

#include <memory>
#include <cstdint>
#include <utility>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/optional.hpp>

#include "cinevault/core/file.hpp"

namespace cinevault::http {

struct FileRangeBody {
  struct value_type {
    std::shared_ptr<const File> file;  // shared: one open object file serves many responses
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
      if (!buffer_) buffer_ = std::make_unique<char[]>(kBlock);  // not while the response waits
      std::size_t want = remaining_ < kBlock ? static_cast<std::size_t>(remaining_) : kBlock;
      // pread: the file offset is not shared state, so one open file serves many requests.
      auto got = body_.file->pread_some(buffer_.get(), want, position_);
      if (!got || *got == 0) {
        ec = boost::beast::http::error::short_read;  // the file shrank or failed under us
        return boost::none;
      }
      position_ += *got;
      remaining_ -= *got;
      return {{const_buffers_type(buffer_.get(), *got), remaining_ > 0}};
    }

   private:
    const value_type& body_;
    std::uint64_t position_;
    std::uint64_t remaining_;
    static constexpr std::size_t kBlock = 256 * 1024;
    std::unique_ptr<char[]> buffer_;
  };
};

}  // namespace cinevault::http
