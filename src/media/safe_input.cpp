#include "safe_input.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cinevault/core/file.hpp"

extern "C" {
#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/opt.h>
}

namespace cinevault::media {

// What people upload: phones, cameras, screen recorders, browsers, old archives.
//   mov,mp4,m4a,3gp,3g2,mj2  phones and cameras (.mp4 .mov .3gp)
//   matroska,webm            .mkv, browser recordings (.webm)
//   avi                      older cameras, DivX/Xvid archives
//   mpegts                   AVCHD camcorders (.mts .m2ts), TV recordings (.ts)
//   mpeg                     DVD (.vob) and .mpg (program stream)
//   asf                      Windows Media (.wmv)
//   flv                      old web video archives
//   ogg                      Theora (.ogv)
// Left out on purpose: playlists and scripts that name other resources (hls, dash,
// concat, image2 sequences, tee-like and *_pipe readers), lavfi, raw elementary streams
// (no timing), image formats and GIF, and rarely uploaded niche demuxers (mxf, rm, nut,
// dv, ...) whose parsers would widen the attack surface for little use. av_match_list
// matches any ','-separated part of a demuxer name, so "mov" alone would admit the whole
// mov demuxer; the full names are listed so that a reader can grep them.
const char* const kFormatWhitelist =
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,mpeg,asf,flv,ogg";

// What cameras, phones, discs, broadcast and the web record; every other decoder in
// libavcodec (hundreds, some rarely exercised) is never run on an upload.
const char* const kDefaultCodecs =
    // video
    "h264,hevc,vp8,vp9,av1,mpeg1video,mpeg2video,mpeg4,h263,h263p,flv1,msmpeg4v1,msmpeg4v2,msmpeg4v3,wmv1,wmv2,"
    "wmv3,vc1,mjpeg,prores,dvvideo,dnxhd,theora,rawvideo,"
    // audio
    "aac,mp3,mp2,mp1,ac3,eac3,dts,truehd,flac,alac,opus,vorbis,wmav1,wmav2,wmapro,amr_nb,amr_wb,pcm_s16le,"
    "pcm_s16be,pcm_s24le,pcm_s24be,pcm_s32le,pcm_f32le,pcm_u8,pcm_mulaw,pcm_alaw,pcm_dvd,pcm_bluray,adpcm_ima_wav,"
    "adpcm_ms";

namespace {

constexpr int kIoBufferBytes = 64 * 1024;

const char* allowed_codecs(const MediaLimits& limits) {
  return limits.allowed_codecs.empty() ? kDefaultCodecs : limits.allowed_codecs.c_str();
}

// The decoders of the allowed codecs, by decoder name (mp3 is decoded by "mp3float", av1 by
// "libdav1d"): libavformat's and libavcodec's codec_whitelist is in those names.
std::string allowed_decoders(const MediaLimits& limits) {
  std::string names;
  void* at = nullptr;
  while (const AVCodec* codec = av_codec_iterate(&at)) {
    if (!av_codec_is_decoder(codec) || !codec_allowed(codec->id, limits)) continue;
    names += (names.empty() ? "" : ",") + std::string(codec->name);
  }
  return names;
}

}  // namespace

std::string av_error_text(int error) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(error, text, sizeof text);
  return text;
}

struct SafeInput::Source {
  File file;
  std::int64_t size = 0;
  std::int64_t position = 0;
  std::optional<Error> read_error;
  // Bytes the demuxer may still read while opening (-1: no limit). Some demuxers read whole
  // elements into memory (an mkv attachment of gigabytes): this bounds what opening costs.
  std::int64_t open_budget = -1;
  bool over_budget = false;
};

namespace {

int read_source(void* opaque, std::uint8_t* buffer, int buffer_size) {
  auto& source = *static_cast<SafeInput::Source*>(opaque);
  if (source.open_budget >= 0) {
    if (source.open_budget == 0) {
      source.over_budget = true;
      return AVERROR(EFBIG);
    }
    buffer_size = static_cast<int>(std::min<std::int64_t>(buffer_size, source.open_budget));
  }
  auto read = source.file.pread_some(buffer, static_cast<std::size_t>(buffer_size),
                                     static_cast<std::uint64_t>(source.position));
  if (!read) {
    source.read_error = read.error();
    return AVERROR(EIO);
  }
  // Returning 0 for the end is deprecated (5.1 warns): say EOF.
  if (*read == 0) return AVERROR_EOF;
  source.position += static_cast<std::int64_t>(*read);
  if (source.open_budget >= 0) source.open_budget -= static_cast<std::int64_t>(*read);
  return static_cast<int>(*read);
}

std::int64_t seek_source(void* opaque, std::int64_t offset, int whence) {
  auto& source = *static_cast<SafeInput::Source*>(opaque);
  whence &= ~AVSEEK_FORCE;  // a hint that seeking is cheap; it is
  if (whence == AVSEEK_SIZE) return source.size;
  std::int64_t base = 0;
  switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = source.position; break;
    case SEEK_END: base = source.size; break;
    default: return AVERROR(EINVAL);
  }
  std::int64_t target = 0;
  if (__builtin_add_overflow(base, offset, &target) || target < 0) return AVERROR(EINVAL);
  source.position = target;
  return target;
}

// Every nested open is refused: the demuxers we accept never need one, and this is how
// hls/dash/concat/mov drefs would reach a URL or another local file.
int refuse_nested_open(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) {
  return AVERROR(EPERM);
}

IoContextPtr make_io(SafeInput::Source& source) {
  auto* buffer = static_cast<unsigned char*>(av_malloc(kIoBufferBytes));
  if (buffer == nullptr) return nullptr;
  IoContextPtr io(avio_alloc_context(buffer, kIoBufferBytes, 0, &source, &read_source, nullptr, &seek_source));
  if (!io) av_free(buffer);  // not yet owned by a context
  return io;
}

bool accepted(const AVInputFormat* format) {
  return av_match_list(format->name, kFormatWhitelist, ',') > 0;
}

// avformat_open_input frees the context on failure, so what it recognised is gone: probe
// again, without the whitelist, to tell "not media" from "damaged media" in plain words.
Error over_budget_error(std::int64_t budget) {
  return {ErrorCode::unprocessable, fmt::format("the file's headers are larger than {} MiB (a huge attachment or "
                                                "index?); such files are not accepted", budget >> 20)};
}

Error classify_open_failure(SafeInput::Source& source, int open_error, std::int64_t budget) {
  if (source.read_error) return *source.read_error;
  if (source.over_budget) return over_budget_error(budget);
  source.open_budget = -1;
  source.position = 0;
  IoContextPtr io = make_io(source);
  if (!io) return {ErrorCode::internal, "out of memory"};
  const AVInputFormat* format = nullptr;
  // Same data and the same default probe size as avformat_open_input's own probe.
  int score = av_probe_input_buffer2(io.get(), &format, "", nullptr, 0, 0);
  if (source.read_error) return *source.read_error;
  // A guess at the last resort (score <= RETRY) that then fails to open is noise, not media.
  bool recognised = score > AVPROBE_SCORE_RETRY && format != nullptr;
  std::string_view name = recognised ? format->name : "";
  // The hls probe wants a tag such as #EXT-X-TARGETDURATION; any #EXTM3U file is a playlist.
  char head[7] = {};
  auto head_read = source.file.pread_some(head, sizeof head, 0);
  if (name == "hls" || (head_read && *head_read == sizeof head && std::string_view(head, sizeof head) == "#EXTM3U"))
    return {ErrorCode::unsupported_media, "HLS playlists are not accepted, upload the video file itself"};
  if (!recognised) return {ErrorCode::unsupported_media, "not a video file: no supported container recognised"};
  if (name == "dash")
    return {ErrorCode::unsupported_media, "DASH manifests are not accepted, upload the video file itself"};
  if (name == "concat")
    return {ErrorCode::unsupported_media, "concat scripts are not accepted, upload the video file itself"};
  if (!accepted(format))
    return {ErrorCode::unsupported_media,
            fmt::format("not a video file: recognised as {} ({}), which is not an accepted container",
                        format->long_name ? format->long_name : name, name)};
  return {ErrorCode::unprocessable,
          fmt::format("the file is truncated or damaged ({} could not be opened: {})",
                      format->long_name ? format->long_name : name, av_error_text(open_error))};
}

}  // namespace

bool codec_allowed(AVCodecID codec, const MediaLimits& limits) {
  return av_match_list(avcodec_get_name(codec), allowed_codecs(limits), ',') > 0;
}

SafeInput::SafeInput() = default;
SafeInput::SafeInput(SafeInput&&) noexcept = default;
SafeInput::~SafeInput() = default;

std::int64_t SafeInput::size_bytes() const { return source_->size; }

Result<void> SafeInput::read_status() const {
  if (source_->read_error) return tl::unexpected(*source_->read_error);
  return {};
}

Result<std::string> SafeInput::read_at(std::int64_t offset, std::size_t size) const {
  std::string bytes(size, '\0');
  std::size_t filled = 0;
  while (offset >= 0 && filled < size) {
    TRY(std::size_t read, source_->file.pread_some(bytes.data() + filled, size - filled,
                                                   static_cast<std::uint64_t>(offset) + filled));
    if (read == 0) break;
    filled += read;
  }
  bytes.resize(filled);
  return bytes;
}

Result<SafeInput> SafeInput::open(const std::filesystem::path& path, const MediaLimits& limits) {
  TRY(File file, File::open_read(path));
  return open(std::move(file), limits);
}

Result<SafeInput> SafeInput::open(File file, const MediaLimits& limits) {
  SafeInput input;
  input.source_ = std::make_unique<Source>();
  Source& source = *input.source_;
  source.file = std::move(file);
  TRY(std::uint64_t size, source.file.size());
  source.size = static_cast<std::int64_t>(size);

  input.io_ = make_io(source);
  input.format_.reset(avformat_alloc_context());
  if (!input.io_ || !input.format_) return fail(ErrorCode::internal, "out of memory");
  AVFormatContext* context = input.format_.get();
  context->pb = input.io_.get();
  // Set with pb, not later: avformat_close_input would otherwise avio_close() our context.
  context->flags |= AVFMT_FLAG_CUSTOM_IO;
  context->io_open = &refuse_nested_open;
  context->probesize = std::max<std::int64_t>(limits.probe_size_bytes, 32);  // 32 is libav's minimum
  context->max_analyze_duration = std::llround(limits.analyze_duration_s * AV_TIME_BASE);
  // An empty protocol whitelist matches no protocol: a second lock behind io_open.
  // The decoders avformat_find_stream_info may open are only those of allowed codecs.
  if (av_opt_set(context, "format_whitelist", kFormatWhitelist, 0) < 0 ||
      av_opt_set(context, "protocol_whitelist", "", 0) < 0 ||
      av_opt_set(context, "codec_whitelist", allowed_decoders(limits).c_str(), 0) < 0)
    return fail(ErrorCode::internal, "cannot set the demuxer whitelists");

  // The url is only a label here (custom pb): never the path, so no demuxer resolves
  // anything relative to it. On failure avformat_open_input frees the context.
  const std::int64_t budget = context->probesize + (32 << 20);
  source.open_budget = budget;
  AVFormatContext* opened = input.format_.release();
  int error = avformat_open_input(&opened, "", nullptr, nullptr);
  if (error < 0) return tl::unexpected(classify_open_failure(source, error, budget));
  input.format_.reset(opened);

  // Its decoders allocate no picture larger than the limit either.
  std::vector<AVDictionary*> decoder_options(opened->nb_streams, nullptr);
  for (AVDictionary*& options : decoder_options)
    av_dict_set_int(&options, "max_pixels", limits.max_pixels(), 0);
  error = avformat_find_stream_info(opened, decoder_options.data());
  for (AVDictionary*& options : decoder_options) av_dict_free(&options);
  RETURN_IF_ERROR(input.read_status());
  if (source.over_budget) return tl::unexpected(over_budget_error(budget));
  source.open_budget = -1;  // reading the media itself is not limited
  if (error < 0)
    return fail(ErrorCode::unprocessable,
                "the file is truncated or damaged (reading the streams failed: " + av_error_text(error) + ")");
  return input;
}

}  // namespace cinevault::media
