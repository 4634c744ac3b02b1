#include "cinevault/core/hour_window.hpp"

#include <ctime>

#include <fmt/format.h>

#include "cinevault/core/parse.hpp"

namespace cinevault {
namespace {

std::tm local_tm(std::chrono::system_clock::time_point at) {
  std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  return tm;
}

}  // namespace

bool HourWindow::contains(int hour) const {
  if (start < end) return hour >= start && hour < end;
  return hour >= start || hour < end;  // over midnight
}

bool HourWindow::open_at(std::chrono::system_clock::time_point at) const { return contains(local_tm(at).tm_hour); }

std::chrono::system_clock::time_point HourWindow::next_opening(std::chrono::system_clock::time_point at) const {
  if (open_at(at)) return at;
  std::tm tm = local_tm(at);
  // Today's start hour, or tomorrow's once it has passed; mktime normalises the day and
  // finds the offset of that day (a change to or from summer time in between).
  if (tm.tm_hour >= start) ++tm.tm_mday;
  tm.tm_hour = start;
  tm.tm_min = 0;
  tm.tm_sec = 0;
  tm.tm_isdst = -1;
  std::time_t opens = std::mktime(&tm);
  if (opens == -1) return at;
  return std::chrono::system_clock::from_time_t(opens);
}

std::string HourWindow::text() const { return fmt::format("{:02}-{:02}", start, end); }

Result<std::optional<HourWindow>> parse_hour_window(std::string_view text) {
  if (text.empty()) return std::optional<HourWindow>();
  auto usage = [] {
    return fail(ErrorCode::invalid_argument, "expected START-END in whole hours of local time, such as 01-07 or 22-06, "
                                             "or empty for any time");
  };
  auto dash = text.find('-');
  if (dash == std::string_view::npos) return usage();
  auto first = text.substr(0, dash), second = text.substr(dash + 1);
  if (first.empty() || first.size() > 2 || second.empty() || second.size() > 2) return usage();
  auto start = parse_integer<int>(first), end = parse_integer<int>(second);
  if (!start || !end) return usage();
  if (*start > 23 || *end > 24) return fail(ErrorCode::invalid_argument, "hours go from 0 to 23 (the end may be 24)");
  if (*start == *end % 24)
    return fail(ErrorCode::invalid_argument, "the window starts where it ends; leave it empty for any time");
  return std::optional<HourWindow>(HourWindow{*start, *end});
}

}  // namespace cinevault
