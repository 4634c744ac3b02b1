// What the daemon and a media worker say to each other, as channel headers (JSON objects).
//
// Daemon to worker, one message that starts the work (the source descriptor attached):
//   {"kind":"transcode","request":{…},"sandbox":{…}}   {"kind":"probe","limits":{…},"sandbox":{…}}
// Worker to daemon, events until the last one ("done", "probed" or "error"):
//   init (a memory file attached), segment (memory file), finished, progress, image (memory
//   file), done, probed, error.
//
// The daemon trusts nothing a worker says: the parse_* functions of worker events check
// every field's type, range and length and never throw.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "cinevault/core/rendition.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/media/thumbnails.hpp"
#include "cinevault/media/transcode.hpp"
#include "cinevault/package/segment_listener.hpp"
#include "cinevault/worker/sandbox.hpp"

namespace cinevault::worker::messages {

// Daemon to worker (the worker's input is the daemon's own output: parse errors are bugs).
nlohmann::json transcode_request(const media::TranscodeRequest& request, const SandboxLimits& sandbox);
nlohmann::json probe_request(const MediaLimits& limits, const SandboxLimits& sandbox);
Result<media::TranscodeRequest> parse_transcode_request(const nlohmann::json& header);
Result<MediaLimits> parse_probe_limits(const nlohmann::json& header);
Result<SandboxLimits> parse_sandbox(const nlohmann::json& header);

// Worker to daemon.
nlohmann::json init_event(const Rendition& rendition);
nlohmann::json segment_event(const Rendition& rendition, const Segment& segment);
nlohmann::json finished_event(const Rendition& rendition, int average_bandwidth_bps);
nlohmann::json progress_event(const media::TranscodeProgress& progress);
nlohmann::json image_event(const char* use, const media::EncodedImage& image);  // use: "poster", "sprite"
nlohmann::json done_event(const media::TranscodeReport& report);  // images were sent before
nlohmann::json probed_event(const media::MediaInfo& info);
nlohmann::json error_event(const Error& error);

// Each returns invalid_argument for a field of the wrong type, out of range or too long.
Result<Rendition> parse_rendition(const nlohmann::json& header);
Result<Segment> parse_segment(const nlohmann::json& header);
Result<int> parse_average_bandwidth(const nlohmann::json& header);
Result<media::TranscodeProgress> parse_progress(const nlohmann::json& header);
struct ImageHeader {
  std::string use;  // "poster" or "sprite"
  int width = 0;
  int height = 0;
  std::string format;  // "jpeg" or "webp"
};
Result<ImageHeader> parse_image(const nlohmann::json& header);
// The report without its images (those came as image events).
Result<media::TranscodeReport> parse_done(const nlohmann::json& header);
// The worker's error, as it said it; only codes a worker may give pass (others are internal).
Error parse_error(const nlohmann::json& header);

}  // namespace cinevault::worker::messages
