#include "picture_pipeline.hpp"

#include <string_view>
#include <vector>

#include <sys/mman.h>

#include <fmt/format.h>

#include "colour.hpp"
#include "safe_input.hpp"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace cinevault::media {

Result<FilterChain> FilterChain::build(const std::string& description, const AVFrame& first, AVRational time_base,
                                       int threads) {
  FilterChain chain;
  chain.graph_.reset(avfilter_graph_alloc());
  chain.filtered_ = make_frame();
  if (!chain.graph_ || !chain.filtered_) return fail(ErrorCode::internal, "out of memory");
  AVFilterGraph* graph = chain.graph_.get();
  graph->nb_threads = std::max(1, threads);
  AVRational sar = first.sample_aspect_ratio.num > 0 ? first.sample_aspect_ratio : AVRational{1, 1};
  std::string source_args =
      fmt::format("video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}", first.width, first.height,
                  first.format, time_base.num, time_base.den, sar.num, sar.den);
  int error = avfilter_graph_create_filter(&chain.source_, avfilter_get_by_name("buffer"), "in", source_args.c_str(),
                                           nullptr, graph);
  if (error >= 0)
    error = avfilter_graph_create_filter(&chain.sink_, avfilter_get_by_name("buffersink"), "out", nullptr, nullptr,
                                         graph);
  if (error < 0) return fail(ErrorCode::internal, "creating the filter graph failed: " + av_error_text(error));

  FilterInOutPtr outputs(avfilter_inout_alloc());
  FilterInOutPtr inputs(avfilter_inout_alloc());
  if (!outputs || !inputs) return fail(ErrorCode::internal, "out of memory");
  outputs->name = av_strdup("in");
  outputs->filter_ctx = chain.source_;
  inputs->name = av_strdup("out");
  inputs->filter_ctx = chain.sink_;
  AVFilterInOut* raw_inputs = inputs.release();
  AVFilterInOut* raw_outputs = outputs.release();
  error = avfilter_graph_parse_ptr(graph, description.c_str(), &raw_inputs, &raw_outputs, nullptr);
  inputs.reset(raw_inputs);  // what parsing left unlinked
  outputs.reset(raw_outputs);
  if (error >= 0) error = avfilter_graph_config(graph, nullptr);
  if (error < 0)
    return fail(ErrorCode::internal,
                fmt::format("the filter graph \"{}\" failed: {}", description, av_error_text(error)));
  return chain;
}

Result<void> FilterChain::push(AVFrame& frame) {
  int error = av_buffersrc_add_frame(source_, &frame);  // takes the frame's references
  if (error < 0)
    return fail(ErrorCode::unprocessable,
                "the video frames cannot be filtered (does the picture size change?): " + av_error_text(error));
  return {};
}

Result<void> FilterChain::close(std::int64_t end) {
  int error = av_buffersrc_close(source_, end, AV_BUFFERSRC_FLAG_PUSH);
  if (error < 0) return fail(ErrorCode::internal, "flushing the filter graph failed: " + av_error_text(error));
  return {};
}

Result<void> FilterChain::pull(const std::function<Result<void>(AVFrame&)>& sink) {
  for (;;) {
    int error = av_buffersink_get_frame(sink_, filtered_.get());
    if (error == AVERROR(EAGAIN) || error == AVERROR_EOF) return {};
    if (error < 0) return fail(ErrorCode::internal, "the filter graph failed: " + av_error_text(error));
    auto handled = sink(*filtered_);
    av_frame_unref(filtered_.get());
    RETURN_IF_ERROR(handled);
  }
}

AVRational FilterChain::output_time_base() const { return av_buffersink_get_time_base(sink_); }

Result<void> PicturePipeline::add(AVFrame& frame) {
  if (!main_) {
    std::vector<std::string> chain;
    if (plan_.deinterlace) chain.push_back("yadif=mode=send_frame:parity=auto:deint=interlaced");
    switch (plan_.rotation_deg) {
      case 90: chain.push_back("transpose=clock"); break;
      case 180: chain.push_back("hflip,vflip"); break;
      case 270: chain.push_back("transpose=cclock"); break;
      default: break;
    }
    // start_time=0: output frame 0 is source time 0 (the first frame is repeated if the
    // video starts late, frames before 0 are dropped); VFR becomes CFR here.
    chain.push_back(fmt::format("fps=fps={}/{}:start_time=0", plan_.frame_rate_num, plan_.frame_rate_den));
    // HDR to linear light after fps, so that frames fps drops are not converted.
    if (std::string to_linear = tone_mapping_input_filters(plan_.colour); !to_linear.empty())
      chain.push_back(std::move(to_linear));
    // Scaling is not in the graph: each rung scales on its own thread (libswscale), so the
    // scaling runs in parallel too.
    std::string description;
    for (const std::string& filter : chain) description += (description.empty() ? "" : ",") + filter;
    TRY(FilterChain built, FilterChain::build(description, frame, time_base_, threads_));
    main_.emplace(std::move(built));
  }
  RETURN_IF_ERROR(main_->push(frame));
  return main_->pull([this](AVFrame& picture) { return from_main(picture); });
}

Result<void> PicturePipeline::close(std::int64_t end) {
  if (!main_) return fail(ErrorCode::unprocessable, "no video frame could be decoded");
  // Closed at the end of the last frame, not its start, or fps drops that frame.
  RETURN_IF_ERROR(main_->close(end));
  RETURN_IF_ERROR(main_->pull([this](AVFrame& picture) { return from_main(picture); }));
  if (!back_) return {};
  RETURN_IF_ERROR(back_->close(last_pts_ + 1));
  return back_->pull([this](AVFrame& picture) { return deliver(picture); });
}

// A picture out of the main chain: to the sink, or for HDR through the tone curve and back
// to video.
Result<void> PicturePipeline::from_main(AVFrame& picture) {
  if (plan_.colour.tone_mapping == ToneMapping::none) return deliver(picture);
  last_pts_ = picture.pts;
  if (av_frame_make_writable(&picture) < 0) return fail(ErrorCode::internal, "out of memory");
  tone_map_linear(picture, plan_.colour.peak_nits);
  if (!back_) {
    TRY(FilterChain built,
        FilterChain::build(tone_mapping_output_filters(), picture, main_->output_time_base(), threads_));
    back_.emplace(std::move(built));
  }
  RETURN_IF_ERROR(back_->push(picture));
  return back_->pull([this](AVFrame& out) { return deliver(out); });
}

Result<void> PicturePipeline::deliver(AVFrame& picture) {
  AVRational sink_time_base = (back_ ? *back_ : *main_).output_time_base();
  picture.pts = av_rescale_q(picture.pts, sink_time_base, AVRational{plan_.frame_rate_den, plan_.frame_rate_num});
  return sink_(picture);  // pts: the frame index
}

Result<void> RungScaler::scale(const AVFrame& in, AVFrame& out) {
  auto in_format = static_cast<AVPixelFormat>(in.format);
  if (in.width == width_ && in.height == height_ && in_format == format_ && !is_full_range(in)) {
    int error = av_frame_ref(&out, &in);
    if (error < 0) return fail(ErrorCode::internal, "out of memory");
    out.sample_aspect_ratio = AVRational{1, 1};
    out.color_range = AVCOL_RANGE_MPEG;
    return {};
  }
  SwsContext* context = scaler_.get(in, width_, height_, format_, false, SWS_BICUBIC);
  if (context == nullptr) return fail(ErrorCode::internal, "libswscale cannot convert this picture");
  constexpr int kAlign = 64;  // the line alignment av_frame_get_buffer would choose, at most
  int size = av_image_get_buffer_size(format_, width_, height_, kAlign);
  if (size <= 0) return fail(ErrorCode::internal, "no picture buffer can be made for this rung's size");
  if (!pool_) pool_.reset(av_buffer_pool_init(static_cast<std::size_t>(size), nullptr));
  out.buf[0] = pool_ ? av_buffer_pool_get(pool_.get()) : nullptr;
  if (out.buf[0] == nullptr) return fail(ErrorCode::internal, "out of memory");
  out.format = format_;
  out.width = width_;
  out.height = height_;
  int error = av_image_fill_arrays(out.data, out.linesize, out.buf[0]->data, format_, width_, height_, kAlign);
  if (error >= 0) error = sws_scale_frame(context, &out, &in);
  if (error < 0) return fail(ErrorCode::internal, "scaling failed: " + av_error_text(error));
  out.pts = in.pts;
  out.sample_aspect_ratio = AVRational{1, 1};
  out.color_range = AVCOL_RANGE_MPEG;
  return {};
}

bool is_full_range(const AVFrame& picture) {
  const AVPixFmtDescriptor* descriptor = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(picture.format));
  return enum_value(picture.color_range) == AVCOL_RANGE_JPEG ||
         (descriptor != nullptr && std::string_view(descriptor->name).substr(0, 4) == "yuvj");
}

SwsContext* Scaler::get(const AVFrame& in, int width, int height, AVPixelFormat format, bool full_range_out,
                        int flags) {
  bool full_range_in = is_full_range(in);
  std::array<int, 9> wanted{in.width, in.height, in.format,     full_range_in, width,
                            height,   format,    full_range_out, flags};
  if (context_ && wanted == made_for_) return context_.get();
  context_.reset(sws_alloc_context());
  if (!context_) return nullptr;
  SwsContext* c = context_.get();
  // Both ranges before sws_init_context: it picks a plain copy for pictures of the same size
  // and format when they are equal then, and a range set later would not change that.
  // Matrices stay as they are: YUV to YUV is never converted between them.
  if (av_opt_set_int(c, "srcw", in.width, 0) < 0 || av_opt_set_int(c, "srch", in.height, 0) < 0 ||
      av_opt_set_int(c, "src_format", in.format, 0) < 0 || av_opt_set_int(c, "dstw", width, 0) < 0 ||
      av_opt_set_int(c, "dsth", height, 0) < 0 || av_opt_set_int(c, "dst_format", format, 0) < 0 ||
      av_opt_set_int(c, "sws_flags", flags, 0) < 0 || av_opt_set_int(c, "src_range", full_range_in, 0) < 0 ||
      av_opt_set_int(c, "dst_range", full_range_out, 0) < 0 || sws_init_context(c, nullptr, nullptr) < 0) {
    context_.reset();
    return nullptr;
  }
  made_for_ = wanted;
  return c;
}

FramePtr private_copy(const AVFrame& picture) {
  auto format = static_cast<AVPixelFormat>(picture.format);
  int size = av_image_get_buffer_size(format, picture.width, picture.height, 64);
  if (size <= 0) return nullptr;
  void* memory = mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (memory == MAP_FAILED) return nullptr;
  AVBufferRef* buffer = av_buffer_create(
      static_cast<std::uint8_t*>(memory), static_cast<std::size_t>(size),
      [](void* length, std::uint8_t* data) { munmap(data, reinterpret_cast<std::size_t>(length)); },
      reinterpret_cast<void*>(static_cast<std::size_t>(size)), 0);
  if (buffer == nullptr) {
    munmap(memory, static_cast<std::size_t>(size));
    return nullptr;
  }
  FramePtr copy = make_frame();
  if (!copy) {
    av_buffer_unref(&buffer);
    return nullptr;
  }
  copy->buf[0] = buffer;
  copy->format = picture.format;
  copy->width = picture.width;
  copy->height = picture.height;
  if (av_image_fill_arrays(copy->data, copy->linesize, buffer->data, format, picture.width, picture.height, 64) < 0 ||
      av_frame_copy(copy.get(), &picture) < 0 || av_frame_copy_props(copy.get(), &picture) < 0)
    return nullptr;
  return copy;
}

}  // namespace cinevault::media
