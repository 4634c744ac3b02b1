#include "cinevault/core/hour_window.hpp"

#include <ctime>

#include <gtest/gtest.h>

#include "cinevault/core/config.hpp"

namespace cinevault {
namespace {

using std::chrono::system_clock;

HourWindow window(std::string_view text) {
  auto parsed = parse_hour_window(text);
  EXPECT_TRUE(parsed && *parsed) << text;
  return parsed && *parsed ? **parsed : HourWindow{};
}

// Today at HOUR:MINUTE, local time.
system_clock::time_point today_at(int hour, int minute = 0) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = 0;
  tm.tm_isdst = -1;
  return system_clock::from_time_t(std::mktime(&tm));
}

int local_hour(system_clock::time_point at) {
  std::time_t t = system_clock::to_time_t(at);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  return tm.tm_hour;
}

TEST(HourWindow, StartIsInsideAndEndIsNot) {
  HourWindow night = window("01-07");
  EXPECT_FALSE(night.contains(0));
  EXPECT_TRUE(night.contains(1));
  EXPECT_TRUE(night.contains(6));
  EXPECT_FALSE(night.contains(7));
  EXPECT_FALSE(night.contains(23));
  EXPECT_EQ(night.text(), "01-07");
  EXPECT_TRUE(window("20-24").contains(23));
  EXPECT_FALSE(window("20-24").contains(0));
}

TEST(HourWindow, WrapsMidnight) {
  HourWindow late = window("22-6");
  EXPECT_EQ(late.text(), "22-06");
  for (int hour : {22, 23, 0, 3, 5}) EXPECT_TRUE(late.contains(hour)) << hour;
  for (int hour : {6, 7, 12, 21}) EXPECT_FALSE(late.contains(hour)) << hour;
}

TEST(HourWindow, EmptyIsAnyTimeAndNonsenseIsRefused) {
  auto any = parse_hour_window("");
  ASSERT_TRUE(any);
  EXPECT_FALSE(*any);
  for (const char* bad : {"1", "01-", "-07", "01-07-09", "1a-07", "001-07", "24-01", "01-25", "05-05", "00-24",
                          " 01-07", "+1-07", "01:00-07:00"})
    EXPECT_FALSE(parse_hour_window(bad)) << bad;
}

TEST(HourWindow, OpensAtItsStartHourLocalTime) {
  HourWindow night = window("01-07");
  EXPECT_TRUE(night.open_at(today_at(1)));
  EXPECT_TRUE(night.open_at(today_at(6, 59)));
  EXPECT_FALSE(night.open_at(today_at(7)));
  // Open: now. Before the start: today's; after the end: tomorrow's.
  EXPECT_EQ(night.next_opening(today_at(3, 30)), today_at(3, 30));
  EXPECT_EQ(night.next_opening(today_at(0, 30)), today_at(1));
  auto next = night.next_opening(today_at(12));
  EXPECT_EQ(local_hour(next), 1);
  EXPECT_GT(next, today_at(12));
  EXPECT_LE(next - today_at(12), std::chrono::hours(14));
}

TEST(HourWindow, TheConfigKeyIsCheckedAndNamedInTheError) {
  Config config;
  ASSERT_TRUE(apply_config_value(config, "library.hours", "22-06"));
  EXPECT_EQ(config.library.hours, "22-06");
  auto bad = apply_config_value(config, "library.hours", "evenings");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("library.hours"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("01-07"), std::string::npos) << bad.error().message;
  EXPECT_EQ(config.library.hours, "22-06") << "a refused value changes nothing";
  EXPECT_FALSE(apply_config_value(config, "library.nice", "20"));
  ASSERT_TRUE(apply_config_value(config, "library.nice", "15"));
  EXPECT_EQ(config.library.nice, 15);
}

}  // namespace
}  // namespace cinevault
