// A Beast Body whose reader hands each decoded chunk of a request body to a BodySink.
#pragma once

#include <memory>
#include <optional>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "cinevault/http/types.hpp"

namespace cinevault::http {

struct SinkBody {
  struct value_type {
    std::unique_ptr<BodySink> sink;
    std::optional<Error> error;  // why the sink refused a chunk
  };

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>&, boost::beast::error_code& ec) {
      ec = body_.sink ? boost::beast::error_code{} : boost::beast::errc::make_error_code(boost::beast::errc::invalid_argument);
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      std::size_t taken = 0;
      for (auto buffer : boost::beast::buffers_range_ref(buffers)) {
        Result<void> written;
        try {  // a sink's exception must not unwind through Beast's parser
          written = body_.sink->write(static_cast<const char*>(buffer.data()), buffer.size());
        } catch (const std::exception& exception) {
          written = fail(ErrorCode::internal, std::string("storing the body failed: ") + exception.what());
        }
        if (!written) {
          body_.error = written.error();
          ec = boost::beast::errc::make_error_code(boost::beast::errc::io_error);
          return taken;
        }
        taken += buffer.size();
      }
      ec = {};
      return taken;
    }

    void finish(boost::beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

}  // namespace cinevault::http
