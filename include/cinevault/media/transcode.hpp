// Transcoding a source file into an adaptive ladder of CMAF renditions.
//
// Decode once, scale per rung, encode per rung (libx264, or h264_nvenc / h264_vaapi when a
// real encoder opens), audio to AAC-LC stereo 48 kHz; every rung cut at the same times
// with an IDR frame there. Packaging (package/) turns each encoded track into an init
// segment and media segments, which are reported to a SegmentListener as they complete.
// No daemon state: a job description in, segments out through the listener.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "cinevault/core/result.hpp"
#include "cinevault/media/encoder.hpp"
#include "cinevault/media/probe.hpp"
#include "cinevault/media/thumbnails.hpp"
#include "cinevault/package/segment_listener.hpp"

namespace cinevault::media {

// One rung of the configured ladder, named by its height. The output fits in a 16:9 box of
// that height (9:16, by width, for a portrait source), keeping the source's display aspect
// ratio. Bitrates in kbit/s, for up to 30 fps (plan_ladder scales them by 1.5 above 30).
struct RungSpec {
  std::string name;  // "720p"
  int height = 0;
  int bitrate_kbps = 0;    // target (average) bitrate
  int maxrate_kbps = 0;    // VBV cap
  int bufsize_kbits = 0;   // VBV buffer
};

struct LadderConfig {
  std::vector<RungSpec> rungs;  // tallest first; default_ladder() is the shipped one
  double segment_s = 4.0;
  std::vector<double> first_segments_s = {1.0, 2.0};  // the ramp before segment_s (fast start)
  int audio_bitrate_kbps = 128;
  std::string x264_preset = "veryfast";  // tests use "ultrafast"
  // A source whose video browsers play as it is becomes the top rung without re-encoding
  // (pipeline.passthrough = auto); false: every rung is encoded.
  bool passthrough = true;
};
LadderConfig default_ladder();

// A rung planned for one source: output size (even, aspect kept, never upscaled; square
// pixels) and the bitrates for its frame rate.
struct PlannedRung {
  RungSpec spec;
  int width = 0;
  int height = 0;
};

// What becomes of the source's colours, decided once per source (plan_colour).
enum class ToneMapping { none, pq, hlg };
struct ColourPlan {
  // HDR (PQ or HLG) pictures become SDR BT.709 once, before the scale cascade: to linear
  // light, BT.2020 primaries to BT.709, FFmpeg's mobius curve from `peak_nits` down to SDR
  // white, back to BT.709 8-bit limited range. `none`: the pictures keep their colours.
  ToneMapping tone_mapping = ToneMapping::none;
  double peak_nits = 0;  // the brightest the source is taken to be (tone mapping only)
  // The source, as the tone mapping reads it (unset tags: BT.2020 non-constant luminance).
  AVColorPrimaries source_primaries = AVCOL_PRI_UNSPECIFIED;
  AVColorSpace source_matrix = AVCOL_SPC_UNSPECIFIED;
  bool source_full_range = false;
  // What every rung is tagged as: BT.709 after tone mapping; else the source's tags, the
  // unset ones guessed by picture size as players do (HD: BT.709, SD: SMPTE 170M).
  AVColorPrimaries primaries = AVCOL_PRI_UNSPECIFIED;
  AVColorTransferCharacteristic transfer = AVCOL_TRC_UNSPECIFIED;
  AVColorSpace matrix = AVCOL_SPC_UNSPECIFIED;
};
ColourPlan plan_colour(const StreamInfo& video);

// What plan_ladder decided for one source: the output of every rung is this.
struct LadderPlan {
  int video_stream = -1;           // source stream index (MediaInfo::video_stream)
  std::vector<PlannedRung> video;  // at least one; tallest first, lowest last
  // The rung a player starts on, an index into `video`: the smallest, the quickest to encode
  // and to fetch. Its first segment is made before the other rungs', and a version is
  // published as soon as that segment is stored.
  std::size_t start_rung = 0;
  std::vector<int> audio_streams;  // source stream indexes, one rendition each
  bool deinterlace = false;
  int rotation_deg = 0;            // clockwise, applied before scaling (0/90/180/270)
  // Output frame rate, constant: the source's (exact, e.g. 30000/1001), halved until at
  // most 60; a variable or odd average rate is snapped to the nearest common rate.
  int frame_rate_num = 0;
  int frame_rate_den = 1;
  double frame_rate = 0;           // the same as a number
  // The top rung is the source's own video packets (see passthrough_refusal); the worker
  // still encodes it when the source's keyframes turn out unfit (then it says so in its log).
  bool passthrough = false;
  ColourPlan colour;
};
// Errors: unprocessable when the source has no usable video stream; invalid_argument for an
// empty ladder.
Result<LadderPlan> plan_ladder(const MediaInfo& source, const LadderConfig& ladder);

// Why the source's video cannot be the plan's top rung as it is, "" when it can: H.264 in
// a profile and level browsers decode (Baseline, Main, High; 8-bit 4:2:0), progressive,
// upright, square pixels, the top rung's exact size and frame rate, and a bitrate at most
// four times the top rung's maximum. Where the keyframes are (at most a segment apart, IDR)
// only the file says: the worker checks that before it starts.
std::string passthrough_refusal(const MediaInfo& source, const LadderPlan& plan);

// x264 threads for each rung of `plan` (same order) when the job may use `job_threads`: the
// job's threads shared out by each rung's part of all the pixels, rounded up, at least one.
// The rungs encode in parallel and wait for each other, so the top rung (about half the
// pixels) needs its share of the cores; the small rungs keep up with one thread each, and
// fewer frame threads mean less overhead and fewer pictures held in memory.
std::vector<int> encoder_threads(const LadderPlan& plan, int job_threads);

struct TranscodeRequest {
  std::filesystem::path source;
  int source_fd = -1;  // when set, the source is read from (a duplicate of) this descriptor, not opened

  MediaInfo source_info;
  LadderPlan plan;
  LadderConfig ladder;
  EncoderPreference encoder = EncoderPreference::automatic;
  // When set, the video encoder chosen beforehand by choose_encoder() (taken, not copied):
  // a sandboxed worker opens a hardware encoder's device before its filter.
  EncoderSelection* chosen_encoder = nullptr;
  int threads = 2;  // decoder and encoder threads for the whole job
  MediaLimits limits;  // how the source is opened; max_duration_s is enforced while decoding
  ThumbnailOptions thumbnails;  // taken from the decoded frames on the way
};

struct TranscodeProgress {
  double percent = 0;      // of the source duration decoded and encoded
  double fps = 0;          // source frames per second of wall time
  double eta_s = 0;
  std::string stage;       // "opening", "encoding", "finishing", "done"
};

struct TranscodeReport {
  std::string encoder_name;  // "libx264", "h264_nvenc", …
  std::string fallback_reason;  // why a hardware encoder was not used, if one was wanted
  bool passthrough = false;     // the top rung is the source's packets
  std::string passthrough_refusal;  // why not, when the plan wanted it (the keyframes did not allow)
  int audio_passthrough = 0;        // audio renditions that are the source's AAC packets
  double wall_s = 0;
  // Of the media worker that ran it (worker::WorkerPool::transcode), once it has exited.
  std::uint64_t worker_peak_rss_bytes = 0;
  double worker_cpu_s = 0;
  // Thumbnails are worth having but not worth failing a transcode for: when they could not
  // be made, `thumbnails` is empty and `thumbnails_error` says why.
  std::optional<Thumbnails> thumbnails;
  std::string thumbnails_error;
};

// The encoders' GOP length in frames: twice the longest segment, so that only the forced IDR
// frames at segment boundaries start a GOP.
int keyframe_interval(const LadderConfig& ladder, double frame_rate);

// The encoder settings of rung `index` of request.plan: its size and bitrates, the plan's
// frame rate, the GOP length, the rung's share of the job's threads (encoder_threads).
// The colour tags of request.plan.colour.
VideoEncoderSettings rung_encoder_settings(const TranscodeRequest& request, std::size_t index);

// How rung `index` of `plan` is reported to the listener: its name and size, the plan's
// frame rate, its VBV maximum as its bandwidth, and whether players start on it.
Rendition rung_rendition(const LadderPlan& plan, std::size_t index);

// The video encoder `request` would use, found by opening it at the start rung (loading a
// hardware encoder's libraries and opening its device on the way). Never fails for lack of
// hardware; errors: codec when not even libx264 opens.
Result<EncoderSelection> choose_encoder(const TranscodeRequest& request);

// Errors are classified by their code for the job queue: unprocessable (the input cannot be
// decoded), codec (an encoder failed to open or encode), hardware (a hardware encoder failed:
// the job is retried in software), io (storage), internal; errors returned by the listener
// pass through unchanged.
// Runs the whole job; blocks the calling (worker) thread. Returns when every rendition is
// finished (listener told) or on the first error, or soon after `stop` is requested
// (ErrorCode::unavailable). The listener is called from this thread only.
Result<TranscodeReport> transcode(const TranscodeRequest& request, package::SegmentListener& listener,
                                  const std::function<void(const TranscodeProgress&)>& progress, std::stop_token stop);

}  // namespace cinevault::media
