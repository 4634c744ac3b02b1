// Probing an untrusted staged file with libavformat, safely.
//
// The file is read through our own AVIOContext (no URL ever reaches libavformat), nested
// opens are refused (io_open callback), and only real video containers are allowed
// (format_whitelist): an uploaded HLS playlist, DASH manifest, concat script or image
// sequence can never make the server fetch a URL or read another local file.
// Thread-safe: no shared state; each call owns its libav contexts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cinevault/core/config.hpp"
#include "cinevault/core/file.hpp"
#include "cinevault/core/result.hpp"

namespace cinevault::media {

struct StreamInfo {
  int index = 0;
  std::string type;   // video, audio, subtitle, data, attachment
  std::string codec;  // libavcodec's short name: h264, aac, ...
  std::string profile;
  int level = 0;      // the codec's level as libavcodec numbers it (H.264: 40 = 4.0); 0 unknown
  // video
  int width = 0;
  int height = 0;
  double frame_rate = 0;           // average frame rate; 0 if unknown
  std::string frame_rate_exact;    // "30000/1001"
  std::string pixel_format;
  std::string sample_aspect_ratio; // "1:1"
  int rotation_deg = 0;            // display matrix: turn clockwise by this to show, 0/90/180/270
                                   // (the same sense as the old "rotate" tag)
  std::string field_order;         // progressive, tt, bb, tb, bt, unknown
  bool attached_picture = false;   // cover art (a still image), never the video stream
  // colour (video), by libavutil's names as ffprobe prints them, "" when the file leaves
  // them unset: primaries (bt709, bt2020, ...), transfer (bt709; smpte2084 is PQ, as HDR10
  // records; arib-std-b67 is HLG, as phones record), matrix (bt709, bt2020nc, ...) and
  // range (tv: limited, pc: full)
  std::string color_primaries;
  std::string color_transfer;
  std::string color_space;
  std::string color_range;
  int bit_depth = 0;               // bits per sample of the pictures
  // HDR metadata, 0 when absent (from the container, else the first frame's SEI): the
  // mastering display's luminance range and the content light levels, in cd/m² (nits)
  double mastering_max_nits = 0;
  double mastering_min_nits = 0;
  int max_cll = 0;                 // the brightest pixel
  int max_fall = 0;                // the brightest frame's average
  // Dolby Vision: its profile (5, 7, 8, ...; 0 none) and the base layer other players show:
  // "hdr10", "hlg", "sdr", or "none" (profile 5: only a Dolby Vision player shows it right)
  int dolby_vision_profile = 0;
  std::string dolby_vision_base;
  // audio
  int channels = 0;
  int sample_rate = 0;
  std::string channel_layout;
  // common
  std::string language;            // ISO 639 from the stream's metadata, "" if none
  std::int64_t bit_rate = 0;
  double duration_s = 0;

  bool operator==(const StreamInfo&) const = default;
};

struct MediaInfo {
  std::string container;   // the demuxer's name: "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", ...
  double duration_s = 0;   // 0 when the file does not say (e.g. a MediaRecorder webm):
                           // the limit is then enforced while decoding, not here
  std::int64_t bit_rate = 0;
  std::int64_t size_bytes = 0;
  int video_stream = -1;   // index of the video stream probe_file decoded a frame of
  std::vector<StreamInfo> streams;
  // From the container's tags, cleaned: "" when absent or unusable.
  std::string title;        // UTF-8 without control characters, at most 200 bytes
  std::string recorded_at;  // when it was recorded, in UTC: "2024-07-14T08:22:03Z"

  bool operator==(const MediaInfo&) const = default;
};

// Probes the file and checks it against the limits.
// Errors: ErrorCode::unsupported_media when it is not a media file in an accepted container;
// ErrorCode::unprocessable when it is media we will not take (no video stream, too long,
// too large, too many streams, truncated or undecodable). Messages say which, in plain words.
Result<MediaInfo> probe_file(const std::filesystem::path& path, const MediaLimits& limits);
// The same for a file already open for reading (a sandboxed worker may open nothing).
Result<MediaInfo> probe_file(File file, const MediaLimits& limits);
// The limits probe_file checks that can be seen in a MediaInfo alone (sizes, counts, duration,
// a video stream): the daemon checks a worker's answer again.
Result<void> check_media_info(const MediaInfo& info, const MediaLimits& limits);

// The stream whose index is `index`, null when the file has none.
const StreamInfo* find_stream(const MediaInfo& info, int index);

// "pq" or "hlg" when the video is HDR (by its transfer, else by a Dolby Vision base layer),
// "" for SDR.
std::string hdr_format(const StreamInfo& video);

// Whether libavformat's demuxer of this name may read uploads: the same test as the
// format_whitelist probe_file sets (av_match_list: any ','-separated part matches).
bool is_accepted_container(const std::string& demuxer_name);

// A date tag as cameras and muxers write it ("2024-07-14T10:22:03.000000Z",
// "2024-07-14T10:22:03+0200", "2024-07-14 10:22:03", "2024-07-14") in UTC as
// "2024-07-14T08:22:03Z"; "" for anything else, and for the zero dates of unset tags
// (1904-01-01 and 1970-01-01 at midnight).
std::string recording_time_from_tag(std::string_view tag);

nlohmann::json to_json(const MediaInfo& info);
Result<MediaInfo> media_info_from_json(const nlohmann::json& document);

}  // namespace cinevault::media
