#include "cinevault/media/thumbnails.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
}

#include "cinevault/media/av_ptr.hpp"
#include "picture_pipeline.hpp"
#include "safe_input.hpp"

namespace cinevault::media {
namespace {

constexpr AVPixelFormat kStillFormat = AV_PIX_FMT_YUV420P;

int even(double value) { return std::max(2, static_cast<int>(std::lround(value / 2)) * 2); }

// Converts (and scales) `in` into the planes at `out`: JPEG wants full range, WebP (VP8) the
// limited range of video.
Result<void> convert(Scaler& scaler, const AVFrame& in, std::uint8_t* const out[4], const int out_linesize[4],
                     int width, int height, bool full_range_out) {
  SwsContext* context = scaler.get(in, width, height, kStillFormat, full_range_out, SWS_BICUBIC | SWS_ACCURATE_RND);
  if (context == nullptr) return fail(ErrorCode::internal, "libswscale cannot convert this picture for a thumbnail");
  sws_scale(context, in.data, in.linesize, 0, in.height, out, out_linesize);
  return {};
}

FramePtr blank_picture(int width, int height) {
  FramePtr frame = make_frame();
  if (!frame) return frame;
  frame->format = kStillFormat;
  frame->width = width;
  frame->height = height;
  if (av_frame_get_buffer(frame.get(), 0) < 0) return nullptr;
  // Full-range black.
  for (int y = 0; y < height; ++y) std::fill_n(frame->data[0] + y * frame->linesize[0], width, 0);
  for (int plane = 1; plane < 3; ++plane)
    for (int y = 0; y < height / 2; ++y) std::fill_n(frame->data[plane] + y * frame->linesize[plane], width / 2, 128);
  return frame;
}

// One still image: mjpeg (full range) or libwebp (limited range).
Result<std::string> encode_still(const AVFrame& picture, const char* encoder_name, bool full_range) {
  const AVCodec* codec = avcodec_find_encoder_by_name(encoder_name);
  if (codec == nullptr) return fail(ErrorCode::codec, fmt::format("no {} encoder in this libavcodec", encoder_name));
  CodecContextPtr context(avcodec_alloc_context3(codec));
  if (!context) return fail(ErrorCode::internal, "out of memory");
  context->width = picture.width;
  context->height = picture.height;
  context->pix_fmt = kStillFormat;
  context->time_base = AVRational{1, 25};
  context->color_range = full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
  if (std::string_view(encoder_name) == "mjpeg") {
    context->flags |= AV_CODEC_FLAG_QSCALE;
    context->global_quality = FF_QP2LAMBDA * 4;  // about JPEG quality 85
  } else {
    av_opt_set_double(context->priv_data, "quality", 80, 0);
  }
  int error = avcodec_open2(context.get(), codec, nullptr);
  if (error < 0) return fail(ErrorCode::codec, fmt::format("{} does not open: {}", encoder_name, av_error_text(error)));
  FramePtr frame(av_frame_clone(&picture));
  PacketPtr packet = make_packet();
  if (!frame || !packet) return fail(ErrorCode::internal, "out of memory");
  frame->pts = 0;
  frame->color_range = context->color_range;
  error = avcodec_send_frame(context.get(), frame.get());
  if (error >= 0) error = avcodec_send_frame(context.get(), nullptr);
  std::string bytes;
  while (error >= 0) {
    error = avcodec_receive_packet(context.get(), packet.get());
    if (error >= 0) {
      bytes.append(reinterpret_cast<const char*>(packet->data), static_cast<std::size_t>(packet->size));
      av_packet_unref(packet.get());
    }
  }
  if (error != AVERROR_EOF) return fail(ErrorCode::codec, fmt::format("{} failed: {}", encoder_name, av_error_text(error)));
  if (bytes.empty()) return fail(ErrorCode::codec, fmt::format("{} produced nothing", encoder_name));
  return bytes;
}

// How much a tile looks like a picture worth showing: contrast, and not too dark or bright.
// A black, white or flat frame scores about zero.
double interest(const std::uint8_t* luma, int linesize, int width, int height) {
  double sum = 0, sum_squares = 0, gradient = 0;
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* row = luma + y * linesize;
    for (int x = 0; x < width; ++x) {
      sum += row[x];
      sum_squares += static_cast<double>(row[x]) * row[x];
      if (x > 0) gradient += std::abs(row[x] - row[x - 1]);
    }
  }
  double n = static_cast<double>(width) * height;
  double mean = sum / n;
  double deviation = std::sqrt(std::max(0.0, sum_squares / n - mean * mean));
  double score = deviation + gradient / n;
  if (mean < 35 || mean > 225) score *= 0.25;
  return score;
}

}  // namespace

struct ThumbnailSampler::State {
  ThumbnailOptions options;
  double duration_s = 0;
  double aspect = 16.0 / 9.0;
  double interval_s = 2;
  int tile_width = 160;
  int tile_height = 90;
  int tiles_per_sheet = 100;

  int next_tile = 0;
  FramePtr sheet;
  Scaler tile_scaler;
  Thumbnails result;

  FramePtr poster_frame;  // a reference to the best frame so far
  double poster_score = -1;
  double poster_time_s = 0;

  double tile_start(int index) const { return index * interval_s; }

  Result<void> encode_sheet(int tiles_on_sheet) {
    // Crop the canvas to the tiles it holds: same planes, smaller picture.
    FramePtr used(av_frame_clone(sheet.get()));
    if (!used) return fail(ErrorCode::internal, "out of memory");
    int rows_used = (tiles_on_sheet + options.columns - 1) / options.columns;
    used->width = std::min(tiles_on_sheet, options.columns) * tile_width;
    used->height = rows_used * tile_height;
    TRY(auto bytes, encode_still(*used, "mjpeg", true));
    result.sprite_sheets.push_back({used->width, used->height, "jpeg", std::move(bytes)});
    sheet.reset();
    return {};
  }

  Result<void> add_tile(const AVFrame& frame, double time_s) {
    int index = next_tile++;
    int on_sheet = index % tiles_per_sheet;
    if (on_sheet == 0) {
      if (sheet) RETURN_IF_ERROR(encode_sheet(tiles_per_sheet));
      sheet = blank_picture(options.columns * tile_width, options.rows * tile_height);
      if (!sheet) return fail(ErrorCode::internal, "out of memory");
    }
    int x = (on_sheet % options.columns) * tile_width;
    int y = (on_sheet / options.columns) * tile_height;
    std::uint8_t* planes[4] = {sheet->data[0] + y * sheet->linesize[0] + x,
                               sheet->data[1] + (y / 2) * sheet->linesize[1] + x / 2,
                               sheet->data[2] + (y / 2) * sheet->linesize[2] + x / 2, nullptr};
    RETURN_IF_ERROR(convert(tile_scaler, frame, planes, sheet->linesize, tile_width, tile_height, true));
    result.tiles.push_back({tile_start(index), tile_start(index + 1), index / tiles_per_sheet, x, y, tile_width,
                            tile_height});

    // The poster: the most interesting tile, preferring the body of the video to its
    // first and last moments (titles, fades, credits).
    double score = interest(planes[0], sheet->linesize[0], tile_width, tile_height);
    bool body = duration_s <= 0 || (time_s >= 0.05 * duration_s && time_s <= 0.85 * duration_s);
    if (!body) score *= 0.5;
    if (score > poster_score) {
      FramePtr reference(av_frame_clone(&frame));
      if (!reference) return fail(ErrorCode::internal, "out of memory");
      poster_frame = std::move(reference);
      poster_score = score;
      poster_time_s = time_s;
    }
    return {};
  }

  Result<void> encode_posters() {
    if (!poster_frame) return fail(ErrorCode::unprocessable, "no frame to take a poster from");
    int source_width = even(poster_frame->height * aspect);
    std::vector<int> widths;
    for (int wanted : options.poster_widths) {
      int width = std::min(even(wanted), source_width);
      if (std::find(widths.begin(), widths.end(), width) == widths.end()) widths.push_back(width);
    }
    Scaler scaler;
    for (int width : widths) {
      int height = even(width / aspect);
      for (bool jpeg : {true, false}) {
        FramePtr picture = blank_picture(width, height);
        if (!picture) return fail(ErrorCode::internal, "out of memory");
        RETURN_IF_ERROR(convert(scaler, *poster_frame, picture->data, picture->linesize, width, height, jpeg));
        TRY(auto bytes, encode_still(*picture, jpeg ? "mjpeg" : "libwebp", jpeg));
        result.posters.push_back({width, height, jpeg ? "jpeg" : "webp", std::move(bytes)});
      }
    }
    result.poster_time_s = poster_time_s;
    return {};
  }
};

ThumbnailSampler::ThumbnailSampler(const ThumbnailOptions& options, double duration_s, double display_aspect)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = options;
  s.options.columns = std::max(1, options.columns);
  s.options.rows = std::max(1, options.rows);
  s.duration_s = std::max(0.0, duration_s);
  s.aspect = display_aspect > 0 && std::isfinite(display_aspect) ? display_aspect : 16.0 / 9.0;
  s.interval_s = std::clamp(s.duration_s / std::max(1, options.target_tiles), options.min_interval_s,
                            std::max(options.min_interval_s, options.max_interval_s));
  s.tile_width = even(options.tile_width);
  s.tile_height = even(s.tile_width / s.aspect);
  s.tiles_per_sheet = s.options.columns * s.options.rows;
}

ThumbnailSampler::~ThumbnailSampler() = default;
ThumbnailSampler::ThumbnailSampler(ThumbnailSampler&&) noexcept = default;
ThumbnailSampler& ThumbnailSampler::operator=(ThumbnailSampler&&) noexcept = default;

Result<void> ThumbnailSampler::add(const AVFrame& frame, double time_s) {
  State& s = *state_;
  // A frame can stand for several tiles when the source has fewer frames than tiles.
  while (time_s + 1e-6 >= s.tile_start(s.next_tile)) RETURN_IF_ERROR(s.add_tile(frame, time_s));
  return {};
}

Result<Thumbnails> ThumbnailSampler::finish() {
  State& s = *state_;
  if (s.next_tile == 0) return fail(ErrorCode::unprocessable, "no frame to take thumbnails from");
  RETURN_IF_ERROR(s.encode_sheet((s.next_tile - 1) % s.tiles_per_sheet + 1));
  // The last tile lasts to the end of the video.
  auto& last = s.result.tiles.back();
  if (s.duration_s > last.start_s) last.end_s = s.duration_s;
  RETURN_IF_ERROR(s.encode_posters());
  s.poster_frame.reset();
  return std::move(s.result);
}

}  // namespace cinevault::media
