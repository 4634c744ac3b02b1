#include "media_tags.hpp"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

#include "cinevault/core/text.hpp"
#include "cinevault/media/probe.hpp"

namespace cinevault::media {

bool is_language_tag(std::string_view tag) {
  if (tag.size() < 2 || tag.size() > 35 || tag == "und" || tag.front() == '-' || tag.back() == '-') return false;
  return std::all_of(tag.begin(), tag.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::string clean_title(std::string_view tag) {
  std::string title = to_utf8(tag);
  for (char& c : title)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  title = std::string(trim_blanks(title));
  if (title.size() > 200) {
    std::size_t cut = 200;
    while (cut > 0 && (static_cast<unsigned char>(title[cut]) & 0xC0) == 0x80) --cut;
    title.resize(cut);
    title = std::string(trim_blanks(title));
  }
  return title;
}

namespace {

// Reads `count` digits at `at`; -1 if they are not all digits.
int digits(std::string_view text, std::size_t at, std::size_t count) {
  if (at + count > text.size()) return -1;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - static_cast<int>(era * 400);
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

std::string recording_time_from_tag(std::string_view tag) {
  tag = trim_blanks(tag);
  int year = digits(tag, 0, 4), month = digits(tag, 5, 2), day = digits(tag, 8, 2);
  if (year < 1900 || year > 2999 || tag.size() < 10 || tag[4] != '-' || tag[7] != '-' || month < 1 || month > 12 ||
      day < 1 || day > 31)
    return {};
  static constexpr int kDaysInMonth[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day > kDaysInMonth[month - 1]) return {};
  int hour = 0, minute = 0, second = 0, offset_minutes = 0;
  std::size_t at = 10;
  if (at < tag.size() && (tag[at] == 'T' || tag[at] == ' ')) {
    hour = digits(tag, at + 1, 2);
    minute = digits(tag, at + 4, 2);
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || tag[at + 3] != ':') return {};
    at += 6;
    if (at < tag.size() && tag[at] == ':') {
      second = digits(tag, at + 1, 2);
      if (second < 0 || second > 60) return {};
      at += 3;
      if (at < tag.size() && tag[at] == '.') {
        ++at;
        while (at < tag.size() && tag[at] >= '0' && tag[at] <= '9') ++at;
      }
    }
    if (at < tag.size() && tag[at] == 'Z') {
      ++at;
    } else if (at < tag.size() && (tag[at] == '+' || tag[at] == '-')) {
      // +HH, +HHMM or +HH:MM: the local time's offset from UTC.
      int sign = tag[at] == '-' ? -1 : 1;
      int offset_hours = digits(tag, at + 1, 2);
      if (offset_hours < 0 || offset_hours > 14) return {};
      at += 3;
      int offset_mins = 0;
      if (at < tag.size() && tag[at] == ':') ++at;
      if (at < tag.size()) {
        offset_mins = digits(tag, at, 2);
        if (offset_mins < 0 || offset_mins > 59) return {};
        at += 2;
      }
      offset_minutes = sign * (offset_hours * 60 + offset_mins);
    }
  }
  if (at != tag.size()) return {};
  bool midnight = hour == 0 && minute == 0 && second == 0 && offset_minutes == 0;
  if (midnight && month == 1 && day == 1 && (year == 1904 || year == 1970)) return {};
  std::int64_t seconds_since_epoch =
      days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  std::int64_t days = seconds_since_epoch >= 0 ? seconds_since_epoch / 86400 : (seconds_since_epoch - 86399) / 86400;
  std::int64_t rest = seconds_since_epoch - days * 86400;
  // civil_from_days
  std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int y = static_cast<int>(yoe + era * 400 + (m <= 2));
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y, m, d, rest / 3600, rest % 3600 / 60, rest % 60);
}

}  // namespace cinevault::media
