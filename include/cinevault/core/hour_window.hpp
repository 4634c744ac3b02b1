// library.hours: the hours of the day, in local time, when library imports may be transcoded
// ("01-07": from 01:00 to 07:00; "22-06" wraps midnight).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "cinevault/core/result.hpp"

namespace cinevault {

struct HourWindow {
  int start = 0;  // the hour it opens, 0-23
  int end = 0;    // the hour it closes, 1-24 (not part of it); below start: the next day's

  bool contains(int hour) const;
  // Open at `at`, in the process's local time.
  bool open_at(std::chrono::system_clock::time_point at) const;
  // When it opens next after `at` (the next start hour, local time); `at` itself when open.
  std::chrono::system_clock::time_point next_opening(std::chrono::system_clock::time_point at) const;
  // "01-07", as configured.
  std::string text() const;
};

// "HH-HH" (one or two digits each; the end may be 24); "" is no window (any time), returned
// as nullopt. Errors: invalid_argument saying what is wrong.
Result<std::optional<HourWindow>> parse_hour_window(std::string_view text);

}  // namespace cinevault
