// Colour (internal to media/): what a source says about its colours (probe), and the
// filters that turn HDR pictures into SDR ones (the picture pipeline). plan_colour, in
// between, is public (transcode.hpp).
#pragma once

#include <string>

#include "cinevault/media/probe.hpp"
#include "cinevault/media/transcode.hpp"

extern "C" {
#include <libavformat/avformat.h>
}

namespace cinevault::media {

// The stream's colour tags, bit depth, and the HDR metadata its container carries.
void describe_colour(const AVStream& stream, StreamInfo& info);
// HDR metadata the container did not carry, from a decoded frame (HEVC has it in SEI).
void add_frame_colour(const AVFrame& frame, StreamInfo& info);

// The libavfilter chain that converts the source's pictures as `plan` says, "" for none.
// Only fixed names reach the text: nothing of the source is copied into it.
std::string colour_filters(const ColourPlan& plan);

}  // namespace cinevault::media
