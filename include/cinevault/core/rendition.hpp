// One description of a rendition and its segments, from the packager to the manifests: the
// transcoder fills it, the worker protocol carries it, db/ stores it and manifest/ reads it.
// Text forms of TrackKind live where text is read and written (db/, the worker protocol).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cinevault {

enum class TrackKind { video, audio };

struct Segment {
  int number = 0;             // 0-based; the same number covers the same time in every rendition
  std::int64_t start = 0;     // presentation time of the first sample, in the rendition's timescale
  std::int64_t duration = 0;  // > 0, same unit; the next segment starts at start + duration
  std::int64_t size = 0;      // bytes, once stored
  std::string sha256;         // lowercase hex, once stored; served at /objects/<sha256>.m4s
};

struct Rendition {
  std::string name;          // "720p", "audio_0": unique in the version, [A-Za-z0-9._~-]
  TrackKind kind = TrackKind::video;
  std::string codecs;        // RFC 6381 from the encoder's extradata: "avc1.64001f", "mp4a.40.2"
  int width = 0;             // video
  int height = 0;
  double frame_rate = 0;     // video; 0 = unknown
  int bandwidth_bps = 0;          // peak, > 0 (VBV max rate for video; nominal for audio)
  int average_bandwidth_bps = 0;  // measured over all segments when finished; 0 = unknown
  std::string language;           // audio: ISO 639-1/2 or BCP 47 ("eng", "en-US"); "" or "und" = unknown
  int channels = 0;               // audio; 0 = unknown
  int sample_rate = 0;            // audio; 0 = unknown
  std::uint32_t timescale = 0;    // > 0: ticks per second of segment start and duration (tfdt)
  std::string init_sha256;        // lowercase hex, once stored; served at /objects/<sha256>.mp4
  bool finished = false;          // every segment is listed (then at least one)
  // The video rendition a player starts on (the transcoder marks its ladder plan's start
  // rung): the version is published once its first segment is stored. Exactly one in a
  // version with video.
  bool start = false;
  std::vector<Segment> segments;  // in presentation order, contiguous
};

}  // namespace cinevault
