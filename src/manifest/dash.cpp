// DASH MPD (ISO/IEC 23009-1) in the CMAF profile: SegmentTemplate + SegmentTimeline with
// $Time$ per Representation. Dynamic while growing, static when complete: the form
// docs/design.md fixes; docs/manifests.md has the details.
#include "cinevault/manifest/manifest.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "common.hpp"
#include "format.hpp"

namespace cinevault::manifest {
namespace {

using detail::xml_escape;

// availabilityStartTime is this far before the version's creation (whole seconds), so that
// every segment of any video shorter than a day is already "available" by the wall clock:
// dash.js otherwise waits for the segment's availability time before the first frame.
constexpr std::int64_t kAvailabilityLeadMs = 24LL * 3600 * 1000;
// A segment stays available until AST + its end + timeShiftBufferDepth, and segment 0 ends
// just after AST: the depth must exceed the lead plus the time the transcode runs, or the
// start of the video falls out of the window while later segments are still coming.
// Seven days leaves six for the transcode.
constexpr const char* kTimeShiftBufferDepth = "PT168H";
// The listed segments are already stored: a short delay behind the newest is enough.
constexpr const char* kSuggestedPresentationDelay = "PT1S";
// Shaka buffers max(its rebuffering goal, minBufferTime) before it starts: one second (the
// first segment of the ramp) keeps the time to first frame short.
constexpr const char* kMinBufferTime = "PT1S";

void write_segment_template(std::string& out, const Rendition& rendition, const std::string& version_url,
                            const std::string& query, const char* indent) {
  out += fmt::format(
      "{0}<SegmentTemplate timescale=\"{1}\" initialization=\"{2}/$RepresentationID$/init.mp4{3}\" "
      "media=\"{2}/$RepresentationID$/$Time$.m4s{3}\">\n"
      "{0}  <SegmentTimeline>\n",
      indent, rendition.timescale, xml_escape(version_url), xml_escape(query));
  // Segments are contiguous (checked), so only the first S needs its t; a run of equal
  // durations is one S with r = (run length - 1).
  const std::vector<Segment>& segments = rendition.segments;
  for (std::size_t i = 0; i < segments.size();) {
    std::size_t end = i + 1;
    while (end < segments.size() && segments[end].duration == segments[i].duration) ++end;
    out += fmt::format("{}    <S", indent);
    if (i == 0) out += fmt::format(" t=\"{}\"", segments[i].start);
    out += fmt::format(" d=\"{}\"", segments[i].duration);
    if (end - i > 1) out += fmt::format(" r=\"{}\"", end - i - 1);
    out += "/>\n";
    i = end;
  }
  out += fmt::format("{0}  </SegmentTimeline>\n{0}</SegmentTemplate>\n", indent);
}

// The end of the presentation: the latest end of any rendition, in ms rounded up so that no
// player stops before the last sample.
std::int64_t presentation_duration_ms(const Version& version) {
  std::int64_t end_ms = 0;
  for (const Rendition& rendition : version.renditions) {
    const Segment& last = rendition.segments.back();
    end_ms = std::max(end_ms, detail::ceil_ms(last.start + last.duration, rendition.timescale));
  }
  return end_ms;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - (a % b < 0 ? 1 : 0); }

}  // namespace

Result<std::string> dash_mpd(const Version& version, const Options& options) {
  RETURN_IF_ERROR(detail::check_version(version));
  RETURN_IF_ERROR(detail::check_playable(version));
  TRY(const std::string base, detail::checked_base_url(options));
  TRY(const std::string query, detail::checked_query(options));
  const detail::Sorted sorted = detail::sort_renditions(version);
  const bool complete = detail::is_complete(version);
  const std::string version_url = detail::version_url(base, version);

  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
      "profiles=\"urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019\"";
  if (complete) {
    out += fmt::format(" type=\"static\" mediaPresentationDuration=\"{}\"",
                       detail::xs_duration(presentation_duration_ms(version)));
  } else {
    const std::int64_t availability_start_ms = floor_div(version.created_at_ms, 1000) * 1000 - kAvailabilityLeadMs;
    out += fmt::format(
        " type=\"dynamic\" availabilityStartTime=\"{}\" publishTime=\"{}\" minimumUpdatePeriod=\"PT1S\""
        " timeShiftBufferDepth=\"{}\" suggestedPresentationDelay=\"{}\"",
        detail::xs_date_time(availability_start_ms), detail::xs_date_time(version.updated_at_ms),
        kTimeShiftBufferDepth, kSuggestedPresentationDelay);
  }
  out += fmt::format(" minBufferTime=\"{}\">\n", kMinBufferTime);
  out += "  <Period id=\"0\" start=\"PT0S\">\n";

  int max_width = 0;
  int max_height = 0;
  double max_frame_rate = 0;
  for (const Rendition* video : sorted.video) {
    max_width = std::max(max_width, video->width);
    max_height = std::max(max_height, video->height);
    max_frame_rate = std::max(max_frame_rate, video->frame_rate);
  }
  out += fmt::format(
      "    <AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"true\" "
      "startWithSAP=\"1\" maxWidth=\"{}\" maxHeight=\"{}\"",
      max_width, max_height);
  if (max_frame_rate > 0) out += fmt::format(" maxFrameRate=\"{}\"", detail::dash_frame_rate(max_frame_rate));
  out += ">\n";
  // Each Representation has its own timeline: rungs grow at their own pace while transcoding
  // and may differ in timescale.
  for (const Rendition* video : sorted.video) {
    out += fmt::format("      <Representation id=\"{}\" bandwidth=\"{}\" width=\"{}\" height=\"{}\"",
                       xml_escape(video->name), video->bandwidth_bps, video->width, video->height);
    if (video->frame_rate > 0) out += fmt::format(" frameRate=\"{}\"", detail::dash_frame_rate(video->frame_rate));
    out += fmt::format(" codecs=\"{}\">\n", xml_escape(video->codecs));
    write_segment_template(out, *video, version_url, query, "        ");
    out += "      </Representation>\n";
  }
  out += "    </AdaptationSet>\n";

  for (std::size_t i = 0; i < sorted.audio.size(); ++i) {
    const Rendition& audio = *sorted.audio[i];
    out += fmt::format("    <AdaptationSet id=\"{}\" contentType=\"audio\" mimeType=\"audio/mp4\"", i + 1);
    if (const std::string language = detail::normalize_language(audio.language); !language.empty()) {
      out += fmt::format(" lang=\"{}\"", xml_escape(language));
    }
    out += " segmentAlignment=\"true\" startWithSAP=\"1\">\n";
    // The first audio is the default, as DEFAULT=YES in HLS.
    if (i == 0) out += "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"main\"/>\n";
    out += fmt::format("      <Representation id=\"{}\" bandwidth=\"{}\" codecs=\"{}\"", xml_escape(audio.name),
                       audio.bandwidth_bps, xml_escape(audio.codecs));
    if (audio.sample_rate > 0) out += fmt::format(" audioSamplingRate=\"{}\"", audio.sample_rate);
    out += ">\n";
    if (audio.channels > 0) {
      out += fmt::format(
          "        <AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" "
          "value=\"{}\"/>\n",
          audio.channels);
    }
    write_segment_template(out, audio, version_url, query, "        ");
    out += "      </Representation>\n";
    out += "    </AdaptationSet>\n";
  }
  out += "  </Period>\n";
  if (!complete) {
    // After the Period, as the schema orders MPD's children; the daemon serves the time.
    out += fmt::format("  <UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-iso:2014\" value=\"{}/api/v1/time\"/>\n",
                       xml_escape(base));
  }
  out += "</MPD>\n";
  return out;
}

}  // namespace cinevault::manifest
