#include "cinevault/core/parse.hpp"

#include <cstdint>

#include <gtest/gtest.h>

namespace cinevault {
namespace {

TEST(ParseInteger, TakesPlainDecimalOnly) {
  EXPECT_EQ(parse_integer<int>("42"), 42);
  EXPECT_EQ(parse_integer<int>("0"), 0);
  EXPECT_EQ(parse_integer<int>("-3"), -3);
  // What std::stoi would have taken, or a header or path could carry.
  for (const char* bad : {"", " 5", "5 ", "+5", "0x10", "5a", "1.5", "-"}) EXPECT_FALSE(parse_integer<int>(bad)) << bad;
}

TEST(ParseInteger, RangeIsTheType) {
  EXPECT_EQ(parse_integer<std::uint16_t>("65535"), 65535);
  EXPECT_FALSE(parse_integer<std::uint16_t>("65536"));
  EXPECT_FALSE(parse_integer<std::uint64_t>("-1"));
  EXPECT_EQ(parse_integer<std::int64_t>("9223372036854775807"), INT64_MAX);
  EXPECT_FALSE(parse_integer<std::int64_t>("9223372036854775808"));
  EXPECT_FALSE(parse_integer<std::uint64_t>("99999999999999999999"));
}

}  // namespace
}  // namespace cinevault
