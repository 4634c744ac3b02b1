// One std::unique_ptr owner for every libav handle (after Chromium's ffmpeg_deleters.h).
//
// Each deleter only releases: nothing here flushes, writes a trailer or reports an error.
// What can fail at the end (av_write_trailer, avio_closep of a written file, draining an
// encoder) is an explicit call before the owner goes away. All deleters accept nullptr.
#pragma once

#include <cstdint>
#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/buffer.h>
#include <libavutil/dict.h>
#include <libavutil/frame.h>
#include <libavutil/mem.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

namespace cinevault::media {

// A demuxer context from avformat_alloc_context() or avformat_open_input().
// A custom pb is not closed (AVFMT_FLAG_CUSTOM_IO): set that flag together with pb, and
// declare the pb's owner before this one so that it outlives the context.
struct InputFormatDeleter {
  void operator()(AVFormatContext* context) const { avformat_close_input(&context); }
};
using InputFormatPtr = std::unique_ptr<AVFormatContext, InputFormatDeleter>;

// A muxer context from avformat_alloc_output_context2(). Frees the context only: its pb
// belongs to an IoContextPtr, FileIoPtr or DynamicIoPtr declared before it.
struct OutputFormatDeleter {
  void operator()(AVFormatContext* context) const { avformat_free_context(context); }
};
using OutputFormatPtr = std::unique_ptr<AVFormatContext, OutputFormatDeleter>;

// A custom AVIOContext from avio_alloc_context(). libavformat may replace the buffer
// (probing, seekback), so the current ctx->buffer is freed, not the one passed in.
struct IoContextDeleter {
  void operator()(AVIOContext* context) const {
    if (context == nullptr) return;
    av_freep(&context->buffer);
    avio_context_free(&context);
  }
};
using IoContextPtr = std::unique_ptr<AVIOContext, IoContextDeleter>;

// An AVIOContext from avio_open()/avio_open2(). Call avio_closep() yourself to see its
// error (it flushes a written file); this is the release path.
struct FileIoDeleter {
  void operator()(AVIOContext* context) const { avio_closep(&context); }
};
using FileIoPtr = std::unique_ptr<AVIOContext, FileIoDeleter>;

// A memory AVIOContext from avio_open_dyn_buf(); take the bytes with avio_close_dyn_buf()
// (after release()) to keep them, this frees them.
struct DynamicIoDeleter {
  void operator()(AVIOContext* context) const {
    if (context == nullptr) return;
    std::uint8_t* bytes = nullptr;
    avio_close_dyn_buf(context, &bytes);
    av_free(bytes);
  }
};
using DynamicIoPtr = std::unique_ptr<AVIOContext, DynamicIoDeleter>;

struct CodecContextDeleter {
  void operator()(AVCodecContext* context) const { avcodec_free_context(&context); }
};
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;

struct FrameDeleter {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;

struct PacketDeleter {
  void operator()(AVPacket* packet) const { av_packet_free(&packet); }
};
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;

struct SwsContextDeleter {
  void operator()(SwsContext* context) const { sws_freeContext(context); }
};
using SwsContextPtr = std::unique_ptr<SwsContext, SwsContextDeleter>;

// The pool goes when the last buffer taken from it is given back.
struct BufferPoolDeleter {
  void operator()(AVBufferPool* pool) const { av_buffer_pool_uninit(&pool); }
};
using BufferPoolPtr = std::unique_ptr<AVBufferPool, BufferPoolDeleter>;

struct SwrContextDeleter {
  void operator()(SwrContext* context) const { swr_free(&context); }
};
using SwrContextPtr = std::unique_ptr<SwrContext, SwrContextDeleter>;

// Owns the graph and every filter in it (AVFilterContext has no owner of its own).
struct FilterGraphDeleter {
  void operator()(AVFilterGraph* graph) const { avfilter_graph_free(&graph); }
};
using FilterGraphPtr = std::unique_ptr<AVFilterGraph, FilterGraphDeleter>;

// One reference; the buffer goes when its last reference does (hw device/frames contexts).
struct BufferRefDeleter {
  void operator()(AVBufferRef* buffer) const { av_buffer_unref(&buffer); }
};
using BufferRefPtr = std::unique_ptr<AVBufferRef, BufferRefDeleter>;

// For AVDictionary** out-parameters: pass a plain pointer, then reset() the owner with it.
struct DictionaryDeleter {
  void operator()(AVDictionary* dictionary) const { av_dict_free(&dictionary); }
};
using DictionaryPtr = std::unique_ptr<AVDictionary, DictionaryDeleter>;

// nullptr on allocation failure, like the functions they wrap.
inline FramePtr make_frame() { return FramePtr(av_frame_alloc()); }
inline PacketPtr make_packet() { return PacketPtr(av_packet_alloc()); }

}  // namespace cinevault::media

// Appended for the transcoder (media/transcode.cpp, package tests).
extern "C" {
#include <libavcodec/codec_par.h>
#include <libavutil/audio_fifo.h>
}

namespace cinevault::media {

struct AudioFifoDeleter {
  void operator()(AVAudioFifo* fifo) const {
    if (fifo != nullptr) av_audio_fifo_free(fifo);
  }
};
using AudioFifoPtr = std::unique_ptr<AVAudioFifo, AudioFifoDeleter>;

struct CodecParametersDeleter {
  void operator()(AVCodecParameters* parameters) const { avcodec_parameters_free(&parameters); }
};
using CodecParametersPtr = std::unique_ptr<AVCodecParameters, CodecParametersDeleter>;

}  // namespace cinevault::media

namespace cinevault::media {

// The in/out lists of avfilter_graph_parse_ptr(), freed whole (the graph keeps no link to them).
struct FilterInOutDeleter {
  void operator()(AVFilterInOut* list) const { avfilter_inout_free(&list); }
};
using FilterInOutPtr = std::unique_ptr<AVFilterInOut, FilterInOutDeleter>;

}  // namespace cinevault::media
