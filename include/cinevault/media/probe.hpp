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
#include "cinevault/core/result.hpp"

namespace cinevault::media {

struct StreamInfo {
  int index = 0;
  std::string type;   // video, audio, subtitle, data, attachment
  std::string codec;  // libavcodec's short name: h264, aac, ...
  std::string profile;
  // video
  int width = 0;
  int height = 0;
  double frame_rate = 0;           // average frame rate; 0 if unknown
  std::string frame_rate_exact;    // "30000/1001"
  std::string pixel_format;
  std::string sample_aspect_ratio; // "1:1"
  int rotation_deg = 0;            // display matrix rotation, 0/90/180/270
  std::string field_order;         // progressive, tt, bb, tb, bt, unknown
  // audio
  int channels = 0;
  int sample_rate = 0;
  std::string channel_layout;
  // common
  std::string language;            // ISO 639 from the stream's metadata, "" if none
  std::int64_t bit_rate = 0;
  double duration_s = 0;
};

struct MediaInfo {
  std::string container;   // the demuxer's name: "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", ...
  double duration_s = 0;
  std::int64_t bit_rate = 0;
  std::int64_t size_bytes = 0;
  std::vector<StreamInfo> streams;
};

// Probes the file and checks it against the limits.
// Errors: ErrorCode::unsupported_media when it is not a media file in an accepted container;
// ErrorCode::unprocessable when it is media we will not take (no video stream, too long,
// too large, too many streams, truncated or undecodable). Messages say which, in plain words.
Result<MediaInfo> probe_file(const std::filesystem::path& path, const MediaLimits& limits);

nlohmann::json to_json(const MediaInfo& info);
Result<MediaInfo> media_info_from_json(const nlohmann::json& document);

}  // namespace cinevault::media
