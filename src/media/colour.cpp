#include "colour.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

extern "C" {
#include <libavutil/dovi_meta.h>
#include <libavutil/mastering_display_metadata.h>
#include <libavutil/pixdesc.h>
}

namespace cinevault::media {
namespace {

// Above any display's: metadata beyond it is a damaged or hostile file's.
constexpr double kMaxNits = 10000;
// What a tone mapping assumes without metadata: the peak most HDR10 titles are mastered
// for, and the display peak of BT.2100's HLG reference (its 100% signal).
constexpr double kDefaultPeakNits = 1000;

void add_mastering(const AVMasteringDisplayMetadata& metadata, StreamInfo& info) {
  if (!metadata.has_luminance || info.mastering_max_nits > 0) return;
  double max = av_q2d(metadata.max_luminance);
  double min = av_q2d(metadata.min_luminance);
  if (!std::isfinite(max) || max <= 0 || max > kMaxNits) return;
  info.mastering_max_nits = max;
  info.mastering_min_nits = std::isfinite(min) && min >= 0 && min < max ? min : 0;
}

void add_light_level(const AVContentLightMetadata& metadata, StreamInfo& info) {
  if (info.max_cll > 0 || info.max_fall > 0) return;
  info.max_cll = static_cast<int>(std::min<unsigned>(metadata.MaxCLL, kMaxNits));
  info.max_fall = static_cast<int>(std::min<unsigned>(metadata.MaxFALL, kMaxNits));
}

// The Dolby Vision base layer's compatibility id (ETSI GS CCM 001 / Dolby's ISOBMFF spec).
std::string dolby_vision_base(int compatibility) {
  switch (compatibility) {
    case 1: case 6: return "hdr10";
    case 2: return "sdr";
    case 4: return "hlg";
    default: return "none";
  }
}

// zscale's names for the tone mapping's input; an unusual one is read as BT.2020's.
const char* zscale_primaries(AVColorPrimaries primaries) {
  switch (primaries) {
    case AVCOL_PRI_BT709: return "bt709";
    case AVCOL_PRI_SMPTE432: return "smpte432";  // Display P3
    default: return "bt2020";
  }
}
const char* zscale_matrix(AVColorSpace matrix) {
  switch (matrix) {
    case AVCOL_SPC_BT709: return "bt709";
    default: return "bt2020nc";  // zimg refuses constant luminance from linear light; rare

  }
}

// The name of a colour field's value; empty when unspecified, unknown or out of range.
template <typename Enum>
std::string name_of(const Enum& field, Enum unspecified, Enum count, const char* (*name)(Enum)) {
  int value = enum_value(field);
  if (value == unspecified || value < 0 || value >= count) return {};
  return or_empty(name(static_cast<Enum>(value)));
}

template <typename Enum>
Enum from_name(const std::string& name, int (*parse)(const char*), Enum unset) {
  if (name.empty()) return unset;
  int value = parse(name.c_str());
  return value < 0 ? unset : static_cast<Enum>(value);
}

}  // namespace

void describe_colour(const AVStream& stream, StreamInfo& info) {
  const AVCodecParameters& codec = *stream.codecpar;
  info.color_primaries = name_of(codec.color_primaries, AVCOL_PRI_UNSPECIFIED, AVCOL_PRI_NB, av_color_primaries_name);
  info.color_transfer = name_of(codec.color_trc, AVCOL_TRC_UNSPECIFIED, AVCOL_TRC_NB, av_color_transfer_name);
  info.color_space = name_of(codec.color_space, AVCOL_SPC_UNSPECIFIED, AVCOL_SPC_NB, av_color_space_name);
  info.color_range = name_of(codec.color_range, AVCOL_RANGE_UNSPECIFIED, AVCOL_RANGE_NB, av_color_range_name);
  if (const AVPixFmtDescriptor* format = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(codec.format));
      format != nullptr && format->nb_components > 0)
    info.bit_depth = format->comp[0].depth;

  std::size_t size = 0;
  if (const std::uint8_t* data = av_stream_get_side_data(&stream, AV_PKT_DATA_MASTERING_DISPLAY_METADATA, &size);
      data != nullptr && size >= sizeof(AVMasteringDisplayMetadata))
    add_mastering(*reinterpret_cast<const AVMasteringDisplayMetadata*>(data), info);
  if (const std::uint8_t* data = av_stream_get_side_data(&stream, AV_PKT_DATA_CONTENT_LIGHT_LEVEL, &size);
      data != nullptr && size >= sizeof(AVContentLightMetadata))
    add_light_level(*reinterpret_cast<const AVContentLightMetadata*>(data), info);
  if (const std::uint8_t* data = av_stream_get_side_data(&stream, AV_PKT_DATA_DOVI_CONF, &size);
      data != nullptr && size >= sizeof(AVDOVIDecoderConfigurationRecord)) {
    const auto& record = *reinterpret_cast<const AVDOVIDecoderConfigurationRecord*>(data);
    info.dolby_vision_profile = std::clamp<int>(record.dv_profile, 0, 127);
    info.dolby_vision_base = dolby_vision_base(record.dv_bl_signal_compatibility_id);
  }
}

void add_frame_colour(const AVFrame& frame, StreamInfo& info) {
  if (const AVFrameSideData* side = av_frame_get_side_data(&frame, AV_FRAME_DATA_MASTERING_DISPLAY_METADATA);
      side != nullptr && side->size >= sizeof(AVMasteringDisplayMetadata))
    add_mastering(*reinterpret_cast<const AVMasteringDisplayMetadata*>(side->data), info);
  if (const AVFrameSideData* side = av_frame_get_side_data(&frame, AV_FRAME_DATA_CONTENT_LIGHT_LEVEL);
      side != nullptr && side->size >= sizeof(AVContentLightMetadata))
    add_light_level(*reinterpret_cast<const AVContentLightMetadata*>(side->data), info);
}

std::string hdr_format(const StreamInfo& video) {
  if (video.color_transfer == "smpte2084") return "pq";
  if (video.color_transfer == "arib-std-b67") return "hlg";
  // Some Dolby Vision files leave the base layer's transfer unset; their record names it.
  if (video.dolby_vision_base == "hdr10") return "pq";
  if (video.dolby_vision_base == "hlg") return "hlg";
  return "";
}

ColourPlan plan_colour(const StreamInfo& video) {
  ColourPlan plan;
  auto primaries = from_name(video.color_primaries, av_color_primaries_from_name, AVCOL_PRI_UNSPECIFIED);
  auto transfer = from_name(video.color_transfer, av_color_transfer_from_name, AVCOL_TRC_UNSPECIFIED);
  auto matrix = from_name(video.color_space, av_color_space_from_name, AVCOL_SPC_UNSPECIFIED);
  std::string hdr = hdr_format(video);
  if (!hdr.empty()) {
    plan.tone_mapping = hdr == "pq" ? ToneMapping::pq : ToneMapping::hlg;
    // PQ: the content's own peak (MaxCLL), else the mastering display's. HLG is relative to
    // its display: its 100% signal is the reference display's 1000 nits.
    double peak = kDefaultPeakNits;
    if (plan.tone_mapping == ToneMapping::pq) {
      if (video.max_cll > 0) peak = video.max_cll;
      else if (video.mastering_max_nits > 0) peak = video.mastering_max_nits;
    }
    plan.peak_nits = std::clamp(peak, 100.0, kMaxNits);
    plan.source_primaries = primaries;
    plan.source_matrix = matrix;
    plan.source_full_range = video.color_range == "pc";
    plan.primaries = AVCOL_PRI_BT709;
    plan.transfer = AVCOL_TRC_BT709;
    plan.matrix = AVCOL_SPC_BT709;
    return plan;
  }
  // SDR: the pictures keep their values, so the tags say what they are. Unset ones are
  // guessed as players guess them: HD is BT.709, SD is SMPTE 170M (BT.601).
  bool hd = video.width >= 1280 || video.height > 576;
  plan.primaries = primaries != AVCOL_PRI_UNSPECIFIED ? primaries : hd ? AVCOL_PRI_BT709 : AVCOL_PRI_SMPTE170M;
  plan.transfer = transfer != AVCOL_TRC_UNSPECIFIED ? transfer : hd ? AVCOL_TRC_BT709 : AVCOL_TRC_SMPTE170M;
  plan.matrix = matrix != AVCOL_SPC_UNSPECIFIED ? matrix : hd ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M;
  return plan;
}

std::string tone_mapping_input_filters(const ColourPlan& plan) {
  if (plan.tone_mapping == ToneMapping::none) return "";
  // Linear light in units of 100 nits (npl=100: SDR white is 1.0) as 32-bit float RGB; the
  // primaries become BT.709's before the curve, so that it sees the colours it will keep.
  return fmt::format("zscale=tin={}:pin={}:min={}:rin={}:t=linear:npl=100,format=gbrpf32le,zscale=p=bt709",
                     plan.tone_mapping == ToneMapping::pq ? "smpte2084" : "arib-std-b67",
                     zscale_primaries(plan.source_primaries), zscale_matrix(plan.source_matrix),
                     plan.source_full_range ? "pc" : "tv");
}

std::string tone_mapping_output_filters() {
  return "zscale=tin=linear:pin=bt709:t=bt709:m=bt709:r=tv,format=yuv420p";
}

void tone_map_linear(AVFrame& picture, double peak_nits) {
  // vf_tonemap.c's mobius and its desaturation, with the same constants.
  const float peak = static_cast<float>(std::clamp(peak_nits, 100.0, kMaxNits) / 100.0);
  constexpr float j = 0.3f;      // the knee: below it nothing changes
  constexpr float desat = 2.0f;  // above this luma colours turn towards white
  constexpr float kr = 0.2126f, kg = 0.7152f, kb = 0.0722f;  // BT.709 luma
  const float a = -j * j * (peak - 1.0f) / (j * j - 2.0f * j + peak);
  const float b = (j * j - 2.0f * j * peak + peak) / std::max(peak - 1.0f, 1e-6f);
  const float scale = (b * b + 2.0f * b * j + j * j) / (b - a);
  for (int y = 0; y < picture.height; ++y) {
    // gbrp: planes G, B, R
    auto* g = reinterpret_cast<float*>(picture.data[0] + static_cast<std::ptrdiff_t>(y) * picture.linesize[0]);
    auto* bl = reinterpret_cast<float*>(picture.data[1] + static_cast<std::ptrdiff_t>(y) * picture.linesize[1]);
    auto* r = reinterpret_cast<float*>(picture.data[2] + static_cast<std::ptrdiff_t>(y) * picture.linesize[2]);
    for (int x = 0; x < picture.width; ++x) {
      float rv = r[x], gv = g[x], bv = bl[x];
      float luma = kr * rv + kg * gv + kb * bv;
      float overbright = std::max(luma - desat, 1e-6f) / std::max(luma, 1e-6f);
      rv += (luma - rv) * overbright;
      gv += (luma - gv) * overbright;
      bv += (luma - bv) * overbright;
      float signal = std::max(std::max(rv, gv), std::max(bv, 1e-6f));
      float mapped = signal <= j ? signal : scale * (signal + a) / (signal + b);
      float factor = mapped / signal;
      r[x] = rv * factor;
      g[x] = gv * factor;
      bl[x] = bv * factor;
    }
  }
}

}  // namespace cinevault::media
