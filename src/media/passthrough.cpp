#include "passthrough.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>

#include <fmt/format.h>

#include "demux.hpp"

extern "C" {
#include <libavutil/mathematics.h>
}

namespace cinevault::media {
namespace {

// What an H.264 access unit says of itself: whether it holds an IDR slice (NAL type 5), and
// the first sequence parameter set (NAL type 7) it carries in band, if any.
struct AccessUnit {
  bool idr = false;
  std::string_view sps;
};

// `length_size`: the bytes of each NAL's length prefix (avcC), 0 for Annex B start codes.
AccessUnit read_access_unit(const AVPacket& packet, int length_size) {
  AccessUnit unit;
  const std::uint8_t* data = packet.data;
  const std::size_t size = packet.size > 0 ? static_cast<std::size_t>(packet.size) : 0;
  auto saw = [&](std::size_t at, std::size_t nal_size) {
    const int type = data[at] & 0x1f;
    if (type == 5) unit.idr = true;
    if (type == 7 && unit.sps.empty()) unit.sps = std::string_view(reinterpret_cast<const char*>(data + at), nal_size);
  };
  if (length_size > 0) {
    for (std::size_t at = 0; at + static_cast<std::size_t>(length_size) < size;) {
      std::size_t nal_size = 0;
      for (int i = 0; i < length_size; ++i) nal_size = nal_size << 8 | data[at + static_cast<std::size_t>(i)];
      at += static_cast<std::size_t>(length_size);
      if (nal_size == 0 || nal_size > size - at) break;
      saw(at, nal_size);
      at += nal_size;
    }
    return unit;
  }
  // Annex B: each NAL runs from after its start code to the next start code.
  std::size_t start = std::string::npos;
  for (std::size_t i = 0; i + 3 <= size; ++i) {
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1) {
      if (start != std::string::npos) {
        std::size_t end = i;
        while (end > start && data[end - 1] == 0) --end;  // a four-byte start code's zero
        if (end > start) saw(start, end - start);
      }
      start = i + 3;
      i += 2;
    }
  }
  if (start != std::string::npos && start < size) saw(start, size - start);
  return unit;
}

// The NAL length prefix size of an avcC, 0 for Annex B extradata.
int nal_length_size(const AVCodecParameters& parameters) {
  if (parameters.extradata_size >= 5 && parameters.extradata[0] == 1) return (parameters.extradata[4] & 3) + 1;
  return 0;
}

// Which planned audio streams may pass through: AAC-LC stereo in a 1/sample-rate clock, the
// first packet within an encoder's priming (2112 samples at most) before the first video
// frame, every packet where the one before ended. (Gaps, overlaps and late starts are what
// the audio chain mends by encoding; copied packets could not be.)
class CopyableAudio {
 public:
  CopyableAudio(const TranscodeRequest& request, const AVFormatContext& format) {
    for (int index : request.plan.audio_streams) {
      if (index < 0 || index >= static_cast<int>(format.nb_streams)) continue;
      const AVStream& stream = *format.streams[index];
      const AVCodecParameters& p = *stream.codecpar;
      if (p.codec_id == AV_CODEC_ID_AAC && p.profile == FF_PROFILE_AAC_LOW && p.ch_layout.nb_channels == 2 &&
          (p.sample_rate == 48000 || p.sample_rate == 44100) && stream.time_base.num == 1 &&
          stream.time_base.den == p.sample_rate && p.extradata_size >= 2)
        streams_[index] = Stream{stream.time_base};
    }
  }

  void see(const AVPacket& packet) {
    auto it = streams_.find(packet.stream_index);
    if (it == streams_.end() || !it->second.ok) return;
    Stream& s = it->second;
    constexpr std::int64_t kFar = std::int64_t{1} << 52;
    if (packet.pts == AV_NOPTS_VALUE || packet.dts != packet.pts || packet.duration <= 0 ||
        std::abs(packet.pts) > kFar || packet.duration > kFar ||
        (s.next != AV_NOPTS_VALUE && packet.pts != s.next)) {
      s.ok = false;
      return;
    }
    if (s.next == AV_NOPTS_VALUE) s.first = packet.pts;
    s.next = packet.pts + packet.duration;
  }

  // Stream index → priming samples, once every packet was seen; `video_start` (in
  // `video_time_base`) is output time 0.
  std::map<int, std::int64_t> copyable(std::int64_t video_start, AVRational video_time_base) const {
    std::map<int, std::int64_t> result;
    for (const auto& [index, s] : streams_) {
      if (!s.ok || s.next == AV_NOPTS_VALUE) continue;
      const std::int64_t priming = av_rescale_q(video_start, video_time_base, s.time_base) - s.first;
      if (priming >= 0 && priming <= 2112) result[index] = priming;
    }
    return result;
  }

 private:
  struct Stream {
    AVRational time_base{0, 1};
    bool ok = true;
    std::int64_t first = AV_NOPTS_VALUE;
    std::int64_t next = AV_NOPTS_VALUE;
  };
  std::map<int, Stream> streams_;
};

struct Keyframe {
  std::int64_t pts = 0;           // from the start
  std::int64_t bytes_before = 0;  // of the stream's packets before it, in decode order
};

}  // namespace

Result<SourceVideoScan> scan_source_video(const TranscodeRequest& request, const std::function<Result<void>()>& poll) {
  TRY(Demuxer demuxer, Demuxer::open(request));
  const int index = request.plan.video_stream;
  if (index < 0 || index >= static_cast<int>(demuxer.format().nb_streams))
    return fail(ErrorCode::unprocessable, "the planned video stream is not in the file");
  const AVStream& stream = *demuxer.format().streams[index];
  SourceVideoScan scan;
  scan.time_base = stream.time_base;
  const int length_size = nal_length_size(*stream.codecpar);
  const AVRational frame_base{request.plan.frame_rate_den, request.plan.frame_rate_num};
  const std::int64_t half_frame = std::max<std::int64_t>(1, av_rescale_q(1, frame_base, stream.time_base) / 2);
  auto in_ticks = [&](double seconds) { return av_rescale_q(std::llround(seconds * 1e6), {1, 1000000}, stream.time_base); };
  auto refuse = [&](std::string why) {
    scan.refusal = std::move(why);
    return scan;
  };

  CopyableAudio audio(request, demuxer.format());
  std::vector<Keyframe> keyframes;
  std::int64_t bytes = 0, end = 0;
  bool first = true;
  std::string first_sps;  // in band: a later one that differs is a new picture size or format
  PacketPtr packet = make_packet();
  if (!packet) return fail(ErrorCode::internal, "out of memory");
  for (std::int64_t read = 0;; ++read) {
    if (read % 256 == 0) RETURN_IF_ERROR(poll());
    TRY(bool got, demuxer.read(*packet));
    if (!got) break;
    struct Unref {
      AVPacket* p;
      ~Unref() { av_packet_unref(p); }
    } unref{packet.get()};
    if (packet->stream_index != index) {
      audio.see(*packet);
      continue;
    }
    if (packet->pts == AV_NOPTS_VALUE) return refuse("packets without a presentation time");
    // Far from any real clock: arithmetic on such values could overflow.
    constexpr std::int64_t kFar = std::int64_t{1} << 52;
    if (std::abs(packet->pts) > kFar || (packet->dts != AV_NOPTS_VALUE && std::abs(packet->dts) > kFar) ||
        packet->duration < 0 || packet->duration > kFar)
      return refuse("timestamps out of any real clock's range");
    // Matroska stores no decode times: with B-frames, libavformat leaves them unset.
    if (packet->dts == AV_NOPTS_VALUE) return refuse("packets without a decode time (as Matroska has B-frames)");
    if (packet->flags & AV_PKT_FLAG_DISCARD) return refuse("the file's edit list hides frames");
    if (av_packet_get_side_data(packet.get(), AV_PKT_DATA_NEW_EXTRADATA, nullptr) != nullptr)
      return refuse("the video's parameters change mid-stream");
    const AccessUnit unit = read_access_unit(*packet, length_size);
    if (!unit.sps.empty()) {
      if (first_sps.empty()) first_sps = unit.sps;
      else if (unit.sps != first_sps) return refuse("the video's parameters (its SPS) change mid-stream");
    }
    const bool idr = (packet->flags & AV_PKT_FLAG_KEY) && unit.idr;
    if (first) {
      if (!idr) return refuse("the first frame is not an IDR frame");
      const std::int64_t start_time = stream.start_time == AV_NOPTS_VALUE ? packet->pts : stream.start_time;
      if (packet->pts != start_time) return refuse("the first frame decoded is not the first shown");
      scan.start = packet->pts;
      scan.reorder_delay = packet->pts - packet->dts;
      if (scan.reorder_delay < 0) return refuse("the first frame is shown before it is decoded");
      first = false;
    }
    const std::int64_t pts = packet->pts - scan.start;
    if (idr) keyframes.push_back({pts, bytes});
    bytes += packet->size;
    end = std::max(end, pts + std::max<std::int64_t>(packet->duration, 1));
  }
  if (keyframes.empty()) return refuse("no video packets");
  scan.audio_priming = audio.copyable(scan.start, stream.time_base);

  // Keyframes at most a segment apart (and the last one a segment from the end): then no
  // segment is longer than the playlists' target duration.
  const std::int64_t segment = in_ticks(request.ladder.segment_s);
  for (std::size_t i = 0; i < keyframes.size(); ++i) {
    std::int64_t next = i + 1 < keyframes.size() ? keyframes[i + 1].pts : end;
    if (next - keyframes[i].pts > segment + half_frame)
      return refuse(fmt::format("IDR frames {:.2f} s apart, more than a segment ({} s)",
                                av_q2d(stream.time_base) * static_cast<double>(next - keyframes[i].pts),
                                request.ladder.segment_s));
  }

  // Segment k ends at the last IDR frame within its nominal length, or, when there is none,
  // at the first one after it; the last one at the end when that is within its length.
  std::vector<std::size_t> cuts;  // indexes into keyframes
  std::size_t from = 0;
  for (int k = 0; from + 1 < keyframes.size(); ++k) {
    const auto ramp = request.ladder.first_segments_s;
    const double nominal = static_cast<std::size_t>(k) < ramp.size() ? ramp[static_cast<std::size_t>(k)]
                                                                      : request.ladder.segment_s;
    const std::int64_t limit = keyframes[from].pts + in_ticks(nominal) + half_frame;
    if (end <= limit) break;  // the rest fits in this segment
    std::size_t cut = from + 1;
    while (cut + 1 < keyframes.size() && keyframes[cut + 1].pts <= limit) ++cut;
    cuts.push_back(cut);
    from = cut;
  }

  double peak_bps = 0;
  std::size_t previous = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::int64_t segment_end = i < cuts.size() ? keyframes[cuts[i]].pts : end;
    const std::int64_t segment_bytes =
        (i < cuts.size() ? keyframes[cuts[i]].bytes_before : bytes) - keyframes[previous].bytes_before;
    const double seconds = av_q2d(stream.time_base) * static_cast<double>(segment_end - keyframes[previous].pts);
    if (seconds > 0) peak_bps = std::max(peak_bps, 8.0 * static_cast<double>(segment_bytes) / seconds);
    if (i < cuts.size()) {
      scan.boundaries.push_back(keyframes[cuts[i]].pts);
      previous = cuts[i];
    }
  }
  scan.peak_bandwidth_bps = static_cast<int>(std::min<double>(std::ceil(peak_bps), std::numeric_limits<int>::max()));
  return scan;
}

Result<std::unique_ptr<PassthroughVideo>> PassthroughVideo::start(const TranscodeRequest& request,
                                                                  const AVStream& stream, const SourceVideoScan& scan,
                                                                  const package::SegmentSchedule& schedule,
                                                                  package::SegmentListener& listener) {
  const LadderPlan& plan = request.plan;
  std::unique_ptr<PassthroughVideo> video(new PassthroughVideo());
  video->start_ = scan.start;
  video->frame_duration_ =
      std::max<std::int64_t>(1, av_rescale_q(1, {plan.frame_rate_den, plan.frame_rate_num}, stream.time_base));

  Rendition info = rung_rendition(plan, 0);
  info.bandwidth_bps = std::max(scan.peak_bandwidth_bps, 1);  // the source's busiest segment
  // The source's own clock (an mp4 track's timescale): its timestamps are kept exactly.
  if (stream.time_base.num != 1 || stream.time_base.den <= 0)
    return fail(ErrorCode::codec, "passthrough: the source's time base is not 1/N");
  const auto timescale = static_cast<std::uint32_t>(stream.time_base.den);
  TRY(video->segmenter_, package::CmafSegmenter::create(info, *stream.codecpar, stream.time_base, schedule, listener,
                                                        timescale, scan.reorder_delay));
  return video;
}

Result<void> PassthroughVideo::write(const AVPacket& packet) {
  PacketPtr next(av_packet_clone(&packet));
  if (!next) return fail(ErrorCode::internal, "out of memory");
  next->pts -= start_;
  next->dts -= start_;
  if (next->duration <= 0) next->duration = frame_duration_;
  if (pending_) {
    if (next->dts > pending_->dts) pending_->duration = next->dts - pending_->dts;
    RETURN_IF_ERROR(segmenter_->write(*pending_));
  }
  pending_ = std::move(next);
  return {};
}

Result<void> PassthroughVideo::finish() {
  if (pending_) RETURN_IF_ERROR(segmenter_->write(*pending_));
  pending_.reset();
  return segmenter_->finish();
}

}  // namespace cinevault::media
