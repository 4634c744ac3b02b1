#include "cinevault/core/text.hpp"

#include <string>

#include <gtest/gtest.h>

namespace cinevault {
namespace {

TEST(Text, Utf8IsCheckedAsRfc3629SaysIt) {
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8("Holiday (2019)"));
  EXPECT_TRUE(is_utf8("Gr\xc3\xbc\xc3\x9f" "e \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\xac"));  // ü ß 日本 🎬
  EXPECT_FALSE(is_utf8("\xff"));
  EXPECT_FALSE(is_utf8("abc\x80"));              // a lone continuation byte
  EXPECT_FALSE(is_utf8("\xc3"));                 // cut short
  EXPECT_FALSE(is_utf8("\xc0\xaf"));             // overlong '/'
  EXPECT_FALSE(is_utf8("\xe0\x80\xaf"));         // overlong '/'
  EXPECT_FALSE(is_utf8("\xed\xa0\x80"));         // a surrogate (U+D800)
  EXPECT_FALSE(is_utf8("\xf4\x90\x80\x80"));     // above U+10FFFF
  EXPECT_FALSE(is_utf8(std::string("a\0\xfe", 3)));
  EXPECT_TRUE(is_utf8(std::string("a\0b", 3)));  // NUL is UTF-8; paths refuse it on their own
}

TEST(Text, CleaningReplacesOnlyWhatIsBad) {
  EXPECT_EQ(to_utf8("plain"), "plain");
  EXPECT_EQ(to_utf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(to_utf8("caf\xe9"), "caf\xef\xbf\xbd");                // Latin-1 é
  EXPECT_EQ(to_utf8("\xe6\x97" "x"), "\xef\xbf\xbd" "x");          // a cut sequence, then ASCII
  EXPECT_EQ(to_utf8("\xff\xfe" "ab"), "\xef\xbf\xbd\xef\xbf\xbd" "ab");
  EXPECT_TRUE(is_utf8(to_utf8("\xed\xa0\x80\xf4\x90\x80\x80\xc0")));
}

TEST(Text, JsonTextNeverThrows) {
  nlohmann::json value = {{"title", "caf\xe9"}, {"ok", "caf\xc3\xa9"}};
  EXPECT_THROW((void)value.dump(), nlohmann::json::type_error);
  std::string text;
  ASSERT_NO_THROW(text = json_text(value));
  EXPECT_TRUE(is_utf8(text));
  EXPECT_EQ(nlohmann::json::parse(text)["ok"], "caf\xc3\xa9");
  EXPECT_EQ(nlohmann::json::parse(text)["title"], "caf\xef\xbf\xbd");
}

}  // namespace
}  // namespace cinevault
