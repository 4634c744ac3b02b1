// Opening an untrusted file for demuxing (internal to media/: the prober and the
// transcoder both read uploads through this and nothing else).
//
// The bytes come through our own AVIOContext over a POSIX fd; libavformat never sees the
// path, may not open anything else (io_open refuses, no protocol is whitelisted), and only
// accepts the containers in kFormatWhitelist. Not thread-safe; one per job.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "cinevault/core/config.hpp"
#include "cinevault/core/file.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/media/av_ptr.hpp"

extern "C" {
#include <libavcodec/codec_id.h>
}

namespace cinevault::media {

// format_whitelist: demuxer names as libavformat spells them.
extern const char* const kFormatWhitelist;
// The codecs (libavcodec codec names) whose decoders run on uploads unless media.allowed_codecs
// says otherwise.
extern const char* const kDefaultCodecs;

// Whether `limits` lets a decoder of `codec` run.
bool codec_allowed(AVCodecID codec, const MediaLimits& limits);

// av_err2str() is a compound literal, which C++ does not have.
std::string av_error_text(int error);

class SafeInput {
 public:
  // Opens the file and reads the stream parameters (avformat_find_stream_info).
  // Errors: io (cannot read the file), unsupported_media (not an accepted container),
  // unprocessable (an accepted container that cannot be read: truncated or damaged).
  static Result<SafeInput> open(const std::filesystem::path& path, const MediaLimits& limits);
  // The same for a file already open for reading (a sandboxed worker may open nothing).
  static Result<SafeInput> open(File file, const MediaLimits& limits);

  SafeInput(SafeInput&&) noexcept;
  SafeInput& operator=(SafeInput&&) = delete;  // would free the pb before its context
  ~SafeInput();

  AVFormatContext* format() const { return format_.get(); }
  std::int64_t size_bytes() const;
  // The io error if a read of the file failed since open (libav only sees EIO).
  Result<void> read_status() const;
  // Up to `size` bytes of the file from `offset` (fewer at its end), read beside the demuxer
  // (its position is unchanged): for checks of the container's own structure.
  Result<std::string> read_at(std::int64_t offset, std::size_t size) const;

  struct Source;  // the AVIOContext's opaque (fd, size, position); defined in the .cpp

 private:
  SafeInput();

  // Declared in acquisition order: the context goes first, then its pb, then the fd.
  std::unique_ptr<Source> source_;
  IoContextPtr io_;
  InputFormatPtr format_;
};

}  // namespace cinevault::media
