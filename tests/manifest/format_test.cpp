#include "format.hpp"

#include <gtest/gtest.h>

namespace cinevault::manifest::detail {
namespace {

TEST(Format, DecimalSecondsRoundsHalfUpAndCarries) {
  EXPECT_EQ(decimal_seconds(90090, 90000, 5), "1.00100");
  EXPECT_EQ(decimal_seconds(48128, 48000, 5), "1.00267");  // 1.0026666...
  EXPECT_EQ(decimal_seconds(1, 200000, 5), "0.00001");     // exactly half of the last digit: up
  EXPECT_EQ(decimal_seconds(1, 200001, 5), "0.00000");
  EXPECT_EQ(decimal_seconds(1999999, 1000000, 5), "2.00000");  // carry into the seconds
  EXPECT_EQ(decimal_seconds(0, 1, 5), "0.00000");
  EXPECT_EQ(decimal_seconds(7, 2, 0), "4");
  EXPECT_EQ(decimal_seconds(4294967295LL * 100000, 4294967295U, 5), "100000.00000");
}

TEST(Format, RoundAndCeil) {
  EXPECT_EQ(round_seconds(360360, 90000), 4);  // 4.004
  EXPECT_EQ(round_seconds(45000, 90000), 1);   // 0.5 rounds up
  EXPECT_EQ(round_seconds(44999, 90000), 0);
  EXPECT_EQ(ceil_ms(90090, 90000), 1001);
  EXPECT_EQ(ceil_ms(90091, 90000), 1002);
  EXPECT_EQ(ceil_ms(962560, 48000), 20054);  // 20.05333 s
}

TEST(Format, XsDuration) {
  EXPECT_EQ(xs_duration(0), "PT0.000S");
  EXPECT_EQ(xs_duration(500), "PT0.500S");
  EXPECT_EQ(xs_duration(64000), "PT1M4.000S");
  EXPECT_EQ(xs_duration(3723500), "PT1H2M3.500S");
  EXPECT_EQ(xs_duration(3600000), "PT1H0M0.000S");
  EXPECT_EQ(xs_duration(90061001), "PT25H1M1.001S");
}

TEST(Format, XsDateTime) {
  EXPECT_EQ(xs_date_time(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(xs_date_time(1795428000000), "2026-11-23T10:00:00Z");
  EXPECT_EQ(xs_date_time(1795428000000 + 5125), "2026-11-23T10:00:05.125Z");
  EXPECT_EQ(xs_date_time(951782400000), "2000-02-29T00:00:00Z");
  EXPECT_EQ(xs_date_time(-1), "1969-12-31T23:59:59.999Z");
}

TEST(Format, DashFrameRate) {
  EXPECT_EQ(dash_frame_rate(30), "30");
  EXPECT_EQ(dash_frame_rate(30000.0 / 1001), "30000/1001");
  EXPECT_EQ(dash_frame_rate(24000.0 / 1001), "24000/1001");
  EXPECT_EQ(dash_frame_rate(60000.0 / 1001), "60000/1001");
  EXPECT_EQ(dash_frame_rate(12.5), "25/2");
  EXPECT_EQ(dash_frame_rate(29.97), "2997/100");
  EXPECT_EQ(dash_frame_rate(3.14159265), "1571/500");  // no exact small fraction: N/1000
}

TEST(Format, XmlEscape) {
  EXPECT_EQ(xml_escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  EXPECT_EQ(xml_escape(std::string("x\ty\x01z", 5)), "x&#9;yz");
}

TEST(Format, NormalizeLanguage) {
  EXPECT_EQ(normalize_language("eng"), "en");
  EXPECT_EQ(normalize_language("ENG"), "en");
  EXPECT_EQ(normalize_language("fre"), "fr");
  EXPECT_EQ(normalize_language("fra"), "fr");
  EXPECT_EQ(normalize_language("ger"), "de");
  EXPECT_EQ(normalize_language("chi"), "zh");
  EXPECT_EQ(normalize_language("en"), "en");
  EXPECT_EQ(normalize_language("haw"), "haw");  // no two-letter code
  EXPECT_EQ(normalize_language("pt_br"), "pt-BR");
  EXPECT_EQ(normalize_language("zh-hant-tw"), "zh-Hant-TW");
  EXPECT_EQ(normalize_language("es-419"), "es-419");
  EXPECT_EQ(normalize_language("und"), "");
  EXPECT_EQ(normalize_language(""), "");
  EXPECT_EQ(normalize_language("e"), "");
  EXPECT_EQ(normalize_language("en-"), "");
  EXPECT_EQ(normalize_language("en\""), "");
  EXPECT_EQ(normalize_language("en US"), "");
  EXPECT_EQ(normalize_language("12"), "");
}

TEST(Format, SafeNamesAndHashes) {
  EXPECT_TRUE(is_safe_name("720p"));
  EXPECT_TRUE(is_safe_name("audio_0"));
  EXPECT_TRUE(is_safe_name("a.b~c-d"));
  EXPECT_FALSE(is_safe_name(""));
  EXPECT_FALSE(is_safe_name("."));
  EXPECT_FALSE(is_safe_name(".."));
  EXPECT_FALSE(is_safe_name("a/b"));
  EXPECT_FALSE(is_safe_name("a$b"));
  EXPECT_FALSE(is_safe_name("a%20b"));
  EXPECT_TRUE(is_sha256_hex(std::string(64, 'a')));
  EXPECT_FALSE(is_sha256_hex(std::string(64, 'A')));
  EXPECT_FALSE(is_sha256_hex(std::string(63, 'a')));
  EXPECT_FALSE(is_sha256_hex(std::string(64, 'g')));
}

}  // namespace
}  // namespace cinevault::manifest::detail
