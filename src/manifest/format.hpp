// Text formatting shared by the HLS and DASH writers. Integer arithmetic wherever a number
// is printed, so that the output does not depend on floating-point rounding modes.
// Internal to manifest/ (tests/manifest includes it directly).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cinevault::manifest::detail {

// ticks / timescale in seconds with exactly `digits` decimals, rounded half up.
// Requires ticks >= 0, timescale > 0, 0 <= digits <= 6. (90090, 90000, 5) -> "1.00100".
std::string decimal_seconds(std::int64_t ticks, std::uint32_t timescale, int digits);

// ticks / timescale rounded to the nearest whole second (half up); ticks >= 0.
std::int64_t round_seconds(std::int64_t ticks, std::uint32_t timescale);

// ticks / timescale in milliseconds, rounded up; ticks >= 0.
std::int64_t ceil_ms(std::int64_t ticks, std::uint32_t timescale);

// xs:duration with millisecond precision: 64000 -> "PT1M4.000S", 3723500 -> "PT1H2M3.500S",
// 500 -> "PT0.500S". Requires ms >= 0.
std::string xs_duration(std::int64_t ms);

// xs:dateTime in UTC from Unix milliseconds: "2026-11-23T10:00:00Z", with ".mmm" only
// when the milliseconds are not zero.
std::string xs_date_time(std::int64_t unix_ms);

// A DASH FrameRateType (an integer or N/D): 30 -> "30", 29.97002997 -> "30000/1001",
// 12.5 -> "25/2". The smallest exact denominator up to 1001, else N/1000 reduced.
// Requires frame_rate > 0.
std::string dash_frame_rate(double frame_rate);

// The value escaped for an XML attribute in double quotes (&, <, >, ", ' and controls).
std::string xml_escape(std::string_view value);

// An RFC 5646 language tag in the canonical, shortest form, or "" when unknown or malformed.
// ISO 639-2 codes with an ISO 639-1 equivalent become the two-letter code ("eng", "ENG" ->
// "en", bibliographic "fre"/"ger" -> "fr"/"de"); "und" (undetermined) -> ""; region subtags
// are upper-cased and script subtags title-cased ("pt_br" -> "pt-BR", "zh-hant" -> "zh-Hant").
std::string normalize_language(std::string_view tag);

// [A-Za-z0-9._~-]+ (RFC 3986 unreserved), and neither "." nor "..": safe as one URL path
// segment, in an HLS quoted string, in XML and in a DASH template.
bool is_safe_name(std::string_view name);

// 64 lowercase hex digits.
bool is_sha256_hex(std::string_view hex);

}  // namespace cinevault::manifest::detail
