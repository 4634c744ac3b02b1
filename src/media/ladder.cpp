#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

#include <fmt/format.h>

#include "cinevault/core/parse.hpp"
#include "cinevault/media/transcode.hpp"

namespace cinevault::media {
namespace {

constexpr int kMaxFrameRate = 60;
constexpr double kSourceSizeSlack = 1.05;

struct Rational {
  long long num = 0;
  long long den = 1;
  double value() const { return static_cast<double>(num) / static_cast<double>(den); }
};

// "a/b" or "a:b" -> {a, b}; {0, 1} when unreadable.
Rational parse_ratio(std::string_view text) {
  std::size_t split = text.find_first_of("/:");
  if (split == std::string_view::npos) return {};
  auto num = parse_integer<long long>(text.substr(0, split));
  auto den = parse_integer<long long>(text.substr(split + 1));
  if (!num || !den || *num <= 0 || *den <= 0) return {};
  return {*num, *den};
}

// The source's rate when it is a plain one (n/1, n/2, n/1001), halved while above 60;
// otherwise (a variable frame rate's average such as 1800000/60251) the nearest common rate.
Rational choose_frame_rate(const StreamInfo& video) {
  Rational rate = parse_ratio(video.frame_rate_exact);
  if (rate.num == 0 && video.frame_rate > 0) rate = {std::llround(video.frame_rate * 1000), 1000};
  if (rate.num == 0) return {30, 1};
  static constexpr std::array<Rational, 9> kCommon = {
      {{24000, 1001}, {24, 1}, {25, 1}, {30000, 1001}, {30, 1}, {48, 1}, {50, 1}, {60000, 1001}, {60, 1}}};
  bool plain = rate.den == 1 || rate.den == 2 || rate.den == 1001;
  if (!plain) {
    const Rational* nearest = &kCommon[0];
    for (const Rational& common : kCommon)
      if (std::abs(common.value() - rate.value()) < std::abs(nearest->value() - rate.value())) nearest = &common;
    if (std::abs(nearest->value() - rate.value()) <= 0.03 * nearest->value()) {
      rate = *nearest;
    } else {
      rate = {std::max(1LL, std::llround(rate.value())), 1};
    }
  }
  while (rate.value() > kMaxFrameRate + 0.01) {
    if (rate.num % 2 == 0)
      rate.num /= 2;
    else
      rate.den *= 2;
  }
  if (rate.value() < 1) rate = {1, 1};
  return rate;
}

int even_round(double value) { return std::max(2, static_cast<int>(std::lround(value / 2)) * 2); }
int even_floor(int value) { return std::max(2, value / 2 * 2); }

}  // namespace

LadderConfig default_ladder() {
  LadderConfig ladder;
  // Average bitrate for ~30 fps H.264 High (x264 veryfast), VBV max rate 1.07x and buffer
  // 1.5x of it: docs/transcoding.md.
  ladder.rungs = {
      {"2160p", 2160, 16000, 17120, 24000}, {"1440p", 1440, 9000, 9630, 13500}, {"1080p", 1080, 5000, 5350, 7500},
      {"720p", 720, 2800, 2996, 4200},      {"480p", 480, 1400, 1498, 2100},    {"360p", 360, 800, 856, 1200},
      {"240p", 240, 300, 321, 450},
  };
  return ladder;
}

Result<LadderPlan> plan_ladder(const MediaInfo& source, const LadderConfig& ladder) {
  if (ladder.rungs.empty()) return fail(ErrorCode::invalid_argument, "the ladder has no rungs");
  const StreamInfo* video_stream = find_stream(source, source.video_stream);
  if (source.video_stream < 0 || video_stream == nullptr || video_stream->type != "video")
    return fail(ErrorCode::unprocessable, "no video stream");
  const StreamInfo& video = *video_stream;
  if (video.width <= 0 || video.height <= 0) return fail(ErrorCode::unprocessable, "the video has no picture size");

  LadderPlan plan;
  plan.video_stream = video.index;
  plan.rotation_deg = ((video.rotation_deg % 360) + 360) % 360 / 90 * 90;
  plan.colour = plan_colour(video);
  plan.deinterlace =
      video.field_order == "tt" || video.field_order == "bb" || video.field_order == "tb" || video.field_order == "bt";
  Rational rate = choose_frame_rate(video);
  plan.frame_rate_num = static_cast<int>(rate.num);
  plan.frame_rate_den = static_cast<int>(rate.den);
  plan.frame_rate = rate.value();

  // The display size: coded size stretched by the sample aspect ratio, then turned.
  Rational sar = parse_ratio(video.sample_aspect_ratio);
  if (sar.num == 0) sar = {1, 1};
  double display_w = video.width * sar.value();
  double display_h = video.height;
  if (plan.rotation_deg == 90 || plan.rotation_deg == 270) std::swap(display_w, display_h);
  bool portrait = display_h > display_w;
  double aspect = display_w / display_h;
  int max_w = even_floor(static_cast<int>(std::lround(display_w)));
  int max_h = even_floor(static_cast<int>(std::lround(display_h)));

  double rate_factor = plan.frame_rate > 30.5 ? 1.5 : 1.0;
  auto scaled = [&](RungSpec spec) {
    spec.bitrate_kbps = static_cast<int>(std::lround(spec.bitrate_kbps * rate_factor));
    spec.maxrate_kbps = static_cast<int>(std::lround(spec.maxrate_kbps * rate_factor));
    spec.bufsize_kbits = static_cast<int>(std::lround(spec.bufsize_kbits * rate_factor));
    return spec;
  };

  std::vector<RungSpec> rungs = ladder.rungs;
  std::sort(rungs.begin(), rungs.end(), [](const RungSpec& a, const RungSpec& b) { return a.height > b.height; });
  for (const RungSpec& spec : rungs) {
    if (spec.height <= 0) return fail(ErrorCode::invalid_argument, fmt::format("rung {} has no height", spec.name));
    // The rung's box: 16:9 of its height, turned for a portrait source.
    double box_long = spec.height * 16.0 / 9.0;
    double box_w = portrait ? spec.height : box_long;
    double box_h = portrait ? box_long : spec.height;
    double fit_w = box_w, fit_h = box_w / aspect;
    if (fit_h > box_h) fit_h = box_h, fit_w = box_h * aspect;
    // Never upscale; a source up to 5% short of the box takes the rung at its own size
    // (1916x800 is the 1080p rung of a 2.39:1 film, not a 720p one).
    if (fit_w > display_w * kSourceSizeSlack + 1 || fit_h > display_h * kSourceSizeSlack + 1) continue;
    PlannedRung rung{scaled(spec), std::min(even_round(fit_w), max_w), std::min(even_round(fit_h), max_h)};
    if (!plan.video.empty() && plan.video.back().width == rung.width && plan.video.back().height == rung.height)
      continue;
    plan.video.push_back(rung);
  }
  if (plan.video.empty()) {
    // Smaller than the smallest rung: one rung at the source's own size.
    RungSpec spec = scaled(rungs.back());
    spec.name = fmt::format("{}p", portrait ? max_w : max_h);
    spec.height = portrait ? max_w : max_h;
    plan.video.push_back({spec, max_w, max_h});
  }
  plan.start_rung = plan.video.size() - 1;

  for (const StreamInfo& stream : source.streams)
    if (stream.type == "audio" && stream.channels > 0) plan.audio_streams.push_back(stream.index);
  plan.passthrough = ladder.passthrough && passthrough_refusal(source, plan).empty();
  return plan;
}

std::string passthrough_refusal(const MediaInfo& source, const LadderPlan& plan) {
  const StreamInfo* video_stream = find_stream(source, plan.video_stream);
  if (video_stream == nullptr) return "no video stream";
  const StreamInfo& video = *video_stream;
  if (plan.video.size() < 2) return "a single rung: it is encoded at the start rung's settings";
  if (video.codec != "h264") return "the video is " + video.codec + ", not H.264";
  static constexpr std::array<std::string_view, 4> kProfiles = {"Constrained Baseline", "Baseline", "Main", "High"};
  if (std::find(kProfiles.begin(), kProfiles.end(), video.profile) == kProfiles.end())
    return "the H.264 profile " + video.profile + " is not one every browser decodes";
  if (video.level <= 0 || video.level > 52) return fmt::format("the H.264 level {} is above 5.2 or unknown", video.level);
  if (video.pixel_format != "yuv420p" && video.pixel_format != "yuvj420p")
    return "the pictures are " + video.pixel_format + ", not 8-bit 4:2:0";
  if (plan.colour.tone_mapping != ToneMapping::none) return "the video is HDR: the rungs are tone-mapped to SDR";
  if (plan.deinterlace || (video.field_order != "progressive" && !video.field_order.empty()))
    return "the video is not known to be progressive";
  if (plan.rotation_deg != 0) return "the video is turned by its display matrix";
  Rational sar = parse_ratio(video.sample_aspect_ratio);
  if (sar.num != 0 && sar.num != sar.den) return "the pixels are not square";
  const PlannedRung& top = plan.video.front();
  if (top.width != video.width || top.height != video.height)
    return fmt::format("the top rung is {}x{}, the source {}x{}", top.width, top.height, video.width, video.height);
  Rational source_rate = parse_ratio(video.frame_rate_exact);
  if (source_rate.num == 0 || source_rate.num * plan.frame_rate_den != source_rate.den * plan.frame_rate_num)
    return "the rungs' frame rate is not the source's";
  std::int64_t bit_rate = video.bit_rate > 0 ? video.bit_rate : source.bit_rate;
  if (bit_rate <= 0 || bit_rate > 4LL * top.spec.maxrate_kbps * 1000)
    return fmt::format("the bitrate {} kbit/s is unknown or above four times the {} rung's {} kbit/s", bit_rate / 1000,
                       top.spec.name, top.spec.maxrate_kbps);
  return "";
}

std::vector<int> encoder_threads(const LadderPlan& plan, int job_threads) {
  double all_pixels = 0;
  for (const PlannedRung& rung : plan.video) all_pixels += static_cast<double>(rung.width) * rung.height;
  std::vector<int> threads;
  for (const PlannedRung& rung : plan.video) {
    double share = all_pixels > 0 ? static_cast<double>(rung.width) * rung.height / all_pixels : 1.0;
    // The small epsilon: a share of exactly 1/n of n threads is one thread, not two.
    threads.push_back(std::max(1, static_cast<int>(std::ceil(std::max(1, job_threads) * share - 1e-9))));
  }
  return threads;
}

int keyframe_interval(const LadderConfig& ladder, double frame_rate) {
  double longest_s = ladder.segment_s;
  for (double s : ladder.first_segments_s) longest_s = std::max(longest_s, s);
  return std::max(2, static_cast<int>(std::ceil(longest_s * frame_rate)) * 2);
}

VideoEncoderSettings rung_encoder_settings(const TranscodeRequest& request, std::size_t index) {
  const PlannedRung& rung = request.plan.video.at(index);
  VideoEncoderSettings settings;
  settings.width = rung.width;
  settings.height = rung.height;
  settings.frame_rate = {request.plan.frame_rate_num, request.plan.frame_rate_den};
  settings.bitrate_kbps = rung.spec.bitrate_kbps;
  settings.maxrate_kbps = rung.spec.maxrate_kbps;
  settings.bufsize_kbits = rung.spec.bufsize_kbits;
  settings.keyint_frames = keyframe_interval(request.ladder, request.plan.frame_rate);
  settings.threads = encoder_threads(request.plan, request.threads).at(index);
  settings.x264_preset = request.ladder.x264_preset;
  settings.color_primaries = request.plan.colour.primaries;
  settings.color_trc = request.plan.colour.transfer;
  settings.colorspace = request.plan.colour.matrix;
  return settings;
}

Rendition rung_rendition(const LadderPlan& plan, std::size_t index) {
  const PlannedRung& rung = plan.video.at(index);
  Rendition info;
  info.name = rung.spec.name;
  info.kind = TrackKind::video;
  info.width = rung.width;
  info.height = rung.height;
  info.frame_rate = plan.frame_rate;
  info.bandwidth_bps = rung.spec.maxrate_kbps * 1000;
  info.start = index == plan.start_rung;
  return info;
}

Result<EncoderSelection> choose_encoder(const TranscodeRequest& request) {
  if (request.plan.start_rung >= request.plan.video.size())
    return fail(ErrorCode::invalid_argument, "the ladder plan has no video rung to start with");
  return select_video_encoder(request.encoder, rung_encoder_settings(request, request.plan.start_rung));
}

}  // namespace cinevault::media
