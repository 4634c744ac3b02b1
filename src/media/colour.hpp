// Colour (internal to media/): what a source says about its colours (probe), and the
// filters that turn HDR pictures into SDR ones (the picture pipeline). plan_colour, in
// between, is public (transcode.hpp).
#pragma once

#include <cstring>
#include <string>
#include <type_traits>

#include "cinevault/media/probe.hpp"
#include "cinevault/media/transcode.hpp"

extern "C" {
#include <libavformat/avformat.h>
}

namespace cinevault::media {

// A libav name, or "" where libav has none (it returns NULL for unknown values).
inline std::string or_empty(const char* text) { return text ? text : ""; }

// The number stored in a libav enum field. Some demuxers copy colour and field values from
// the file without checking them (a fuzzed MPEG-TS stream gave primaries 69), and reading a
// value outside the enum's range as that enum is undefined behaviour: read it as a number.
template <typename Enum>
int enum_value(const Enum& field) {
  static_assert(std::is_enum_v<Enum> && sizeof(Enum) == sizeof(int));
  int value;
  std::memcpy(&value, &field, sizeof value);
  return value;
}

// The stream's colour tags, bit depth, and the HDR metadata its container carries.
void describe_colour(const AVStream& stream, StreamInfo& info);
// HDR metadata the container did not carry, from a decoded frame (HEVC has it in SEI).
void add_frame_colour(const AVFrame& frame, StreamInfo& info);

// HDR to SDR (plan.tone_mapping other than none) in three steps: libavfilter to linear light
// in BT.709 primaries, the tone curve on those pictures, libavfilter back to 8-bit video.
// Only fixed names and numbers reach the filters' text: nothing of the source is copied in.
//
// The first step's filters, "" when there is nothing to convert.
std::string tone_mapping_input_filters(const ColourPlan& plan);
// The tone curve, in place on a picture the first step gave (gbrpf32le, 1.0 = 100 nits):
// FFmpeg's tonemap filter's mobius curve (knee 0.3) from `peak_nits` down to 1.0, with its
// default desaturation (2.0), as one loop the compiler vectorizes (the filter is scalar C
// and cost most of an HDR job's extra time).
void tone_map_linear(AVFrame& picture, double peak_nits);
// The last step's filters.
std::string tone_mapping_output_filters();

}  // namespace cinevault::media
