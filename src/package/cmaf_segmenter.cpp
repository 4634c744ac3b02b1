#include "cinevault/package/cmaf_segmenter.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "cinevault/media/av_ptr.hpp"

extern "C" {
#include <libavutil/error.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>
}

namespace cinevault::package {
namespace {

using media::DictionaryPtr;
using media::IoContextPtr;
using media::make_packet;
using media::OutputFormatPtr;
using media::PacketPtr;

constexpr int kIoBufferBytes = 64 * 1024;

// empty_moov: the init segment is complete after the header (ftyp + moov, no samples);
// frag_custom: a fragment is cut only when we flush; default_base_moof + cmaf: CMAF
// brands and tfhd; skip_trailer: no mfra, segments end at the last moof. With use_editlist
// (below) the muxer drops the negative_cts_offsets that cmaf implies: trun version 0 with
// composition offsets that are never negative, and the edit list we add moves them back.
constexpr const char* kMovFlags = "+empty_moov+default_base_moof+frag_custom+cmaf+skip_trailer";

// The edts box of a one-track init segment: one edit from `media_time` on, for the whole
// track (duration 0: as long as the fragments go, as libavformat and Bento4 write it for CMAF).
std::string edit_list_box(std::uint32_t media_time) {
  std::string box(36, '\0');
  auto* at = reinterpret_cast<std::uint8_t*>(box.data());
  AV_WB32(at, 36);
  std::memcpy(at + 4, "edts", 4);
  AV_WB32(at + 8, 28);
  std::memcpy(at + 12, "elst", 4);
  AV_WB32(at + 16, 0);            // version 0, no flags
  AV_WB32(at + 20, 1);            // one entry
  AV_WB32(at + 24, 0);            // segment_duration
  AV_WB32(at + 28, media_time);   // media_time
  AV_WB32(at + 32, 0x00010000);   // media_rate 1.0
  return box;
}

std::uint32_t read32(const std::string& bytes, std::size_t at) { return AV_RB32(bytes.data() + at); }

// Where the box `type` starts among the boxes in [from, to) of `bytes`, or npos. Only plain
// 32-bit box sizes: what the muxer writes into an init segment.
std::size_t find_box(const std::string& bytes, std::size_t from, std::size_t to, std::string_view type) {
  while (from + 8 <= to) {
    std::uint32_t size = read32(bytes, from);
    if (size < 8 || from + size > to) return std::string::npos;
    if (std::string_view(bytes).substr(from + 4, 4) == type) return from;
    from += size;
  }
  return std::string::npos;
}

// Puts an edit list into the muxer's init segment (ftyp, moov > trak > tkhd …): libavformat
// writes one only when it has seen a packet before the moov (delay_moov), and the init
// segment must be out before the first packet is encoded.
Result<void> insert_edit_list(std::string& init, std::uint32_t media_time) {
  std::size_t moov = find_box(init, 0, init.size(), "moov");
  std::size_t trak = moov == std::string::npos ? moov : find_box(init, moov + 8, moov + read32(init, moov), "trak");
  std::size_t tkhd = trak == std::string::npos ? trak : find_box(init, trak + 8, trak + read32(init, trak), "tkhd");
  if (tkhd == std::string::npos) return fail(ErrorCode::internal, "the init segment has no moov/trak/tkhd");
  std::string edts = edit_list_box(media_time);
  auto grow = static_cast<std::uint32_t>(edts.size());
  AV_WB32(init.data() + moov, read32(init, moov) + grow);
  AV_WB32(init.data() + trak, read32(init, trak) + grow);
  init.insert(tkhd + read32(init, tkhd), edts);  // after tkhd, where ISO/IEC 14496-12 orders it
  return {};
}

std::string error_text(int error) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(error, text, sizeof text);
  return text;
}

// A 0-based index of the first byte after an Annex B start code, or npos.
std::size_t after_start_code(const std::uint8_t* data, std::size_t size, std::size_t from) {
  for (std::size_t i = from; i + 3 <= size; ++i)
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1) return i + 3;
  return std::string::npos;
}

}  // namespace

Result<std::string> rfc6381_codecs(const AVCodecParameters& parameters) {
  const std::uint8_t* data = parameters.extradata;
  auto size = static_cast<std::size_t>(std::max(parameters.extradata_size, 0));
  if (parameters.codec_id == AV_CODEC_ID_H264) {
    if (size >= 4 && data[0] == 1)  // avcC: version, profile, constraint flags, level
      return fmt::format("avc1.{:02x}{:02x}{:02x}", data[1], data[2], data[3]);
    for (std::size_t at = after_start_code(data, size, 0); at != std::string::npos;
         at = after_start_code(data, size, at)) {
      if (at + 4 <= size && (data[at] & 0x1f) == 7)  // SPS: NAL header, then the same three bytes
        return fmt::format("avc1.{:02x}{:02x}{:02x}", data[at + 1], data[at + 2], data[at + 3]);
    }
    return fail(ErrorCode::invalid_argument, "the H.264 track has no SPS in its extradata");
  }
  if (parameters.codec_id == AV_CODEC_ID_AAC) {
    if (size < 2) return fail(ErrorCode::invalid_argument, "the AAC track has no AudioSpecificConfig");
    int object_type = data[0] >> 3;
    if (object_type == 31) object_type = 32 + (((data[0] & 7) << 3) | (data[1] >> 5));
    return fmt::format("mp4a.40.{}", object_type);
  }
  return fail(ErrorCode::invalid_argument,
              fmt::format("no codecs string for {}", avcodec_get_name(parameters.codec_id)));
}

struct CmafSegmenter::State {
  Rendition rendition;
  const SegmentSchedule* schedule = nullptr;
  SegmentListener* listener = nullptr;
  AVRational packet_time_base{0, 1};
  bool video = false;
  // The encoder's reorder delay (B-frames) in the stream time base: the first frame decodes
  // this long before it is presented. Packets go to the muxer this much later, so decode
  // times start at 0 and composition offsets are never negative; the edit list in the init
  // segment moves presentation back by as much.
  std::int64_t reorder_delay = 0;

  std::string written;  // bytes the muxer wrote since the last take
  // Declared in acquisition order; the context only borrows io.
  IoContextPtr io;
  OutputFormatPtr format;
  PacketPtr scratch;

  int segment = -1;                // the number of the open segment, -1 before the first packet
  std::int64_t segment_start = 0;  // in the stream time base (the track timescale)
  std::int64_t segment_end = 0;
  std::size_t segment_bytes = 0;   // media bytes in the open fragment: its size, nearly
  bool segment_open = false;       // packets of `segment` written and not yet reported
  std::int64_t last_dts = std::numeric_limits<std::int64_t>::min();  // in packet_time_base
  std::int64_t total_bytes = 0;
  std::int64_t total_duration = 0;
  bool finished = false;

  static int write_callback(void* opaque, std::uint8_t* buffer, int size) {
    auto* state = static_cast<State*>(opaque);
    try {  // nothing may unwind through libavformat
      state->written.append(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(size));
    } catch (const std::bad_alloc&) {
      return AVERROR(ENOMEM);
    }
    return size;
  }

  std::string take_written() {
    avio_flush(io.get());
    return std::exchange(written, std::string());
  }

  AVRational stream_time_base() const { return format->streams[0]->time_base; }

  // Cuts the open fragment and reports it as segment `segment`.
  Result<void> close_segment() {
    // Room for the whole fragment at once (mdat plus a generous moof): a string grown by
    // doubling while the muxer writes would hold up to twice a 1080p segment at the peak.
    written.reserve(segment_bytes + segment_bytes / 16 + 4096);
    segment_bytes = 0;
    segment_open = false;
    int error = av_write_frame(format.get(), nullptr);  // frag_custom: flush one moof+mdat
    if (error < 0) return fail(ErrorCode::internal, "cutting a CMAF fragment failed: " + error_text(error));
    std::string bytes = take_written();
    if (bytes.empty()) return fail(ErrorCode::internal, "the muxer wrote an empty CMAF fragment");
    Segment info;  // size and sha256 are the listener's, once stored
    info.number = segment;
    info.start = segment_start;
    info.duration = segment_end - segment_start;
    total_bytes += static_cast<std::int64_t>(bytes.size());
    total_duration += info.duration;
    return listener->on_media_segment(rendition, info, std::move(bytes));
  }
};

CmafSegmenter::CmafSegmenter(std::unique_ptr<State> state) : state_(std::move(state)) {}
CmafSegmenter::~CmafSegmenter() = default;

const Rendition& CmafSegmenter::rendition() const { return state_->rendition; }

Result<std::unique_ptr<CmafSegmenter>> CmafSegmenter::create(Rendition rendition,
                                                             const AVCodecParameters& parameters,
                                                             AVRational packet_time_base,
                                                             const SegmentSchedule& schedule, SegmentListener& listener,
                                                             std::uint32_t timescale, std::int64_t reorder_delay) {
  auto state = std::make_unique<State>();
  state->video = parameters.codec_type == AVMEDIA_TYPE_VIDEO;
  if (!state->video && parameters.codec_type != AVMEDIA_TYPE_AUDIO)
    return fail(ErrorCode::invalid_argument, "a CMAF track is video or audio");
  if (packet_time_base.num <= 0 || packet_time_base.den <= 0)
    return fail(ErrorCode::invalid_argument, "the packet time base is not set");
  TRY(rendition.codecs, rfc6381_codecs(parameters));
  if (timescale == 0) {
    if (!state->video) {
      timescale = static_cast<std::uint32_t>(parameters.sample_rate);
    } else {
      AVRational rate = schedule.frame_rate();
      // 90000 when a frame is a whole number of ticks (25, 30, 29.97, 50, 60 fps), else the
      // rate's numerator doubled until it is fine enough (24000/1001 -> 24000).
      if ((90000LL * rate.den) % rate.num == 0) {
        timescale = 90000;
      } else {
        std::int64_t scale = rate.num;
        while (scale < 10000) scale *= 2;
        timescale = static_cast<std::uint32_t>(scale);
      }
    }
  }
  if (timescale == 0 || timescale > static_cast<std::uint32_t>(std::numeric_limits<int>::max()))
    return fail(ErrorCode::invalid_argument, "the track timescale is not set");
  rendition.timescale = timescale;
  if (reorder_delay >= 0)
    state->reorder_delay = reorder_delay;
  else if (state->video && parameters.video_delay > 0)
    state->reorder_delay = av_rescale_q(parameters.video_delay, schedule.frame_time_base(),
                                        AVRational{1, static_cast<int>(timescale)});
  if (state->reorder_delay > std::numeric_limits<std::int32_t>::max())
    return fail(ErrorCode::invalid_argument, "the reorder delay does not fit an edit list");
  state->rendition = std::move(rendition);
  state->schedule = &schedule;
  state->listener = &listener;
  state->packet_time_base = packet_time_base;
  state->scratch = make_packet();
  if (!state->scratch) return fail(ErrorCode::internal, "out of memory");

  auto* buffer = static_cast<unsigned char*>(av_malloc(kIoBufferBytes));
  if (buffer == nullptr) return fail(ErrorCode::internal, "out of memory");
  state->io.reset(avio_alloc_context(buffer, kIoBufferBytes, 1, state.get(), nullptr, &State::write_callback, nullptr));
  if (!state->io) {
    av_free(buffer);
    return fail(ErrorCode::internal, "out of memory");
  }
  state->io->seekable = 0;

  AVFormatContext* raw = nullptr;
  int error = avformat_alloc_output_context2(&raw, nullptr, "mp4", nullptr);
  state->format.reset(raw);
  if (error < 0) return fail(ErrorCode::internal, "the mp4 muxer is not available: " + error_text(error));
  AVFormatContext* format = state->format.get();
  format->pb = state->io.get();
  // Same input, same bytes (no creation time, no library version): objects dedupe by hash.
  format->flags |= AVFMT_FLAG_BITEXACT;
  // Our timestamps already start at 0; the muxer's own shift would move the first frame.
  format->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;

  AVStream* stream = avformat_new_stream(format, nullptr);
  if (stream == nullptr) return fail(ErrorCode::internal, "out of memory");
  error = avcodec_parameters_copy(stream->codecpar, &parameters);
  if (error < 0) return fail(ErrorCode::internal, "copying codec parameters failed: " + error_text(error));
  stream->codecpar->codec_tag = 0;        // let the mp4 muxer pick avc1 / mp4a
  stream->codecpar->initial_padding = 0;  // the caller's timestamps already account for it
  stream->time_base = AVRational{1, static_cast<int>(timescale)};
  if (!state->rendition.language.empty())
    av_dict_set(&stream->metadata, "language", state->rendition.language.c_str(), 0);

  AVDictionary* raw_options = nullptr;
  av_dict_set(&raw_options, "movflags", kMovFlags, 0);
  av_dict_set(&raw_options, "use_editlist", "1", 0);
  if (state->video) av_dict_set_int(&raw_options, "video_track_timescale", timescale, 0);
  error = avformat_write_header(format, &raw_options);
  DictionaryPtr options(raw_options);  // what the muxer did not take
  if (error < 0) return fail(ErrorCode::internal, "writing the CMAF header failed: " + error_text(error));
  if (const AVDictionaryEntry* unused = av_dict_get(options.get(), "", nullptr, AV_DICT_IGNORE_SUFFIX))
    return fail(ErrorCode::internal, fmt::format("the mp4 muxer does not know the option {}", unused->key));

  std::string init = state->take_written();
  if (init.empty()) return fail(ErrorCode::internal, "the mp4 muxer wrote no init segment");
  if (state->reorder_delay > 0)
    RETURN_IF_ERROR(insert_edit_list(init, static_cast<std::uint32_t>(state->reorder_delay)));
  RETURN_IF_ERROR(state->listener->on_init_segment(state->rendition, std::move(init)));
  return std::unique_ptr<CmafSegmenter>(new CmafSegmenter(std::move(state)));
}

Result<void> CmafSegmenter::write(const AVPacket& packet) {
  State& state = *state_;
  if (state.finished) return fail(ErrorCode::internal, "write() after finish()");
  if (packet.pts == AV_NOPTS_VALUE || packet.dts == AV_NOPTS_VALUE)
    return fail(ErrorCode::internal, fmt::format("{}: a packet without timestamps", state.rendition.name));
  if (packet.dts <= state.last_dts && state.last_dts != std::numeric_limits<std::int64_t>::min())
    return fail(ErrorCode::internal, fmt::format("{}: decode timestamps go backwards ({} after {})",
                                                 state.rendition.name, packet.dts, state.last_dts));
  if (packet.pts < packet.dts)
    return fail(ErrorCode::internal, fmt::format("{}: a frame presented before it is decoded (pts {}, dts {})",
                                                 state.rendition.name, packet.pts, packet.dts));

  int number = state.video ? state.schedule->segment_of(packet.pts, state.packet_time_base)
                           : state.schedule->segment_of_audio(packet.pts, packet.duration, state.packet_time_base);
  if (state.segment >= 0 && number < state.segment)
    return fail(ErrorCode::internal, fmt::format("{}: a frame at pts {} belongs before the segment {} it is coded in",
                                                 state.rendition.name, packet.pts, state.segment));
  if (number > state.segment && state.video && !(packet.flags & AV_PKT_FLAG_KEY))
    return fail(ErrorCode::internal, fmt::format("{}: segment {} would not start with a keyframe (pts {})",
                                                 state.rendition.name, number, packet.pts));
  if (number > state.segment && state.segment_open) {
    // A video segment ends where the next begins: with a source's rounded clock (Matroska's
    // milliseconds) the last frame's duration may not reach the next keyframe exactly.
    if (state.video) state.segment_end = av_rescale_q(packet.pts, state.packet_time_base, state.stream_time_base());
    RETURN_IF_ERROR(state.close_segment());
  }
  if (number == state.segment && !state.segment_open && state.segment >= 0)
    return fail(ErrorCode::internal, fmt::format("{}: a frame at pts {} belongs to segment {}, already reported",
                                                 state.rendition.name, packet.pts, state.segment));

  AVPacket* scratch = state.scratch.get();
  int error = av_packet_ref(scratch, &packet);
  if (error < 0) return fail(ErrorCode::internal, "out of memory");
  scratch->stream_index = 0;
  av_packet_rescale_ts(scratch, state.packet_time_base, state.stream_time_base());
  // The muxer counts decode time from its first packet: that must be the first frame,
  // decoding exactly the reorder delay before its presentation at 0, or every tfdt is off.
  if (state.last_dts == std::numeric_limits<std::int64_t>::min() && scratch->dts != -state.reorder_delay) {
    std::string message =
        fmt::format("{}: the first packet decodes at {} (pts {}), not at minus the encoder's reorder delay {}",
                    state.rendition.name, scratch->dts, scratch->pts, state.reorder_delay);
    av_packet_unref(scratch);
    return fail(ErrorCode::internal, std::move(message));
  }
  state.last_dts = packet.dts;
  if (number > state.segment) {
    state.segment = number;
    // What the edit list cuts (an audio encoder's priming before 0) is not presented.
    state.segment_start = std::max<std::int64_t>(scratch->pts, 0);
    state.segment_end = scratch->pts;
  }
  state.segment_start = std::max<std::int64_t>(std::min(state.segment_start, scratch->pts), 0);
  state.segment_end = std::max(state.segment_end, scratch->pts + scratch->duration);
  state.segment_bytes += static_cast<std::size_t>(scratch->size);
  state.segment_open = true;
  scratch->pts += state.reorder_delay;
  scratch->dts += state.reorder_delay;
  error = av_write_frame(state.format.get(), scratch);  // does not take the reference
  av_packet_unref(scratch);
  if (error < 0)
    return fail(ErrorCode::internal,
                fmt::format("{}: muxing a packet failed: {}", state.rendition.name, error_text(error)));
  return {};
}

Result<void> CmafSegmenter::end_segment() {
  State& state = *state_;
  if (state.finished) return fail(ErrorCode::internal, "end_segment() after finish()");
  return state.segment_open ? state.close_segment() : Result<void>{};
}

Result<void> CmafSegmenter::finish() {
  State& state = *state_;
  if (state.finished) return fail(ErrorCode::internal, "finish() twice");
  state.finished = true;
  if (state.segment_open) RETURN_IF_ERROR(state.close_segment());
  int error = av_write_trailer(state.format.get());
  if (error < 0) return fail(ErrorCode::internal, "finishing the CMAF track failed: " + error_text(error));
  if (!state.take_written().empty())
    return fail(ErrorCode::internal, state.rendition.name + ": the muxer wrote bytes after the last segment");
  int average = 0;
  if (state.total_duration > 0)
    average = static_cast<int>(av_rescale(state.total_bytes * 8, state.rendition.timescale, state.total_duration));
  return state.listener->on_rendition_finished(state.rendition, average);
}

}  // namespace cinevault::package
