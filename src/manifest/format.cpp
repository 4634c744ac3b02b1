#include "format.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace cinevault::manifest::detail {
namespace {

constexpr std::array<std::int64_t, 7> kPowersOf10{1, 10, 100, 1000, 10000, 100000, 1000000};

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

struct LanguagePair {
  std::string_view alpha3;
  std::string_view alpha2;
};

// ISO 639-2 (terminological and bibliographic) codes that have an ISO 639-1 code, from
// Debian's iso-codes (iso_639-2.json), sorted by alpha3 for binary search.
constexpr LanguagePair kLanguages[] = {
    {"aar", "aa"}, {"abk", "ab"}, {"afr", "af"}, {"aka", "ak"}, {"alb", "sq"}, {"amh", "am"},
    {"ara", "ar"}, {"arg", "an"}, {"arm", "hy"}, {"asm", "as"}, {"ava", "av"}, {"ave", "ae"},
    {"aym", "ay"}, {"aze", "az"}, {"bak", "ba"}, {"bam", "bm"}, {"baq", "eu"}, {"bel", "be"},
    {"ben", "bn"}, {"bih", "bh"}, {"bis", "bi"}, {"bod", "bo"}, {"bos", "bs"}, {"bre", "br"},
    {"bul", "bg"}, {"bur", "my"}, {"cat", "ca"}, {"ces", "cs"}, {"cha", "ch"}, {"che", "ce"},
    {"chi", "zh"}, {"chu", "cu"}, {"chv", "cv"}, {"cor", "kw"}, {"cos", "co"}, {"cre", "cr"},
    {"cym", "cy"}, {"cze", "cs"}, {"dan", "da"}, {"deu", "de"}, {"div", "dv"}, {"dut", "nl"},
    {"dzo", "dz"}, {"ell", "el"}, {"eng", "en"}, {"epo", "eo"}, {"est", "et"}, {"eus", "eu"},
    {"ewe", "ee"}, {"fao", "fo"}, {"fas", "fa"}, {"fij", "fj"}, {"fin", "fi"}, {"fra", "fr"},
    {"fre", "fr"}, {"fry", "fy"}, {"ful", "ff"}, {"geo", "ka"}, {"ger", "de"}, {"gla", "gd"},
    {"gle", "ga"}, {"glg", "gl"}, {"glv", "gv"}, {"gre", "el"}, {"grn", "gn"}, {"guj", "gu"},
    {"hat", "ht"}, {"hau", "ha"}, {"heb", "he"}, {"her", "hz"}, {"hin", "hi"}, {"hmo", "ho"},
    {"hrv", "hr"}, {"hun", "hu"}, {"hye", "hy"}, {"ibo", "ig"}, {"ice", "is"}, {"ido", "io"},
    {"iii", "ii"}, {"iku", "iu"}, {"ile", "ie"}, {"ina", "ia"}, {"ind", "id"}, {"ipk", "ik"},
    {"isl", "is"}, {"ita", "it"}, {"jav", "jv"}, {"jpn", "ja"}, {"kal", "kl"}, {"kan", "kn"},
    {"kas", "ks"}, {"kat", "ka"}, {"kau", "kr"}, {"kaz", "kk"}, {"khm", "km"}, {"kik", "ki"},
    {"kin", "rw"}, {"kir", "ky"}, {"kom", "kv"}, {"kon", "kg"}, {"kor", "ko"}, {"kua", "kj"},
    {"kur", "ku"}, {"lao", "lo"}, {"lat", "la"}, {"lav", "lv"}, {"lim", "li"}, {"lin", "ln"},
    {"lit", "lt"}, {"ltz", "lb"}, {"lub", "lu"}, {"lug", "lg"}, {"mac", "mk"}, {"mah", "mh"},
    {"mal", "ml"}, {"mao", "mi"}, {"mar", "mr"}, {"may", "ms"}, {"mkd", "mk"}, {"mlg", "mg"},
    {"mlt", "mt"}, {"mon", "mn"}, {"mri", "mi"}, {"msa", "ms"}, {"mya", "my"}, {"nau", "na"},
    {"nav", "nv"}, {"nbl", "nr"}, {"nde", "nd"}, {"ndo", "ng"}, {"nep", "ne"}, {"nld", "nl"},
    {"nno", "nn"}, {"nob", "nb"}, {"nor", "no"}, {"nya", "ny"}, {"oci", "oc"}, {"oji", "oj"},
    {"ori", "or"}, {"orm", "om"}, {"oss", "os"}, {"pan", "pa"}, {"per", "fa"}, {"pli", "pi"},
    {"pol", "pl"}, {"por", "pt"}, {"pus", "ps"}, {"que", "qu"}, {"roh", "rm"}, {"ron", "ro"},
    {"rum", "ro"}, {"run", "rn"}, {"rus", "ru"}, {"sag", "sg"}, {"san", "sa"}, {"sin", "si"},
    {"slk", "sk"}, {"slo", "sk"}, {"slv", "sl"}, {"sme", "se"}, {"smo", "sm"}, {"sna", "sn"},
    {"snd", "sd"}, {"som", "so"}, {"sot", "st"}, {"spa", "es"}, {"sqi", "sq"}, {"srd", "sc"},
    {"srp", "sr"}, {"ssw", "ss"}, {"sun", "su"}, {"swa", "sw"}, {"swe", "sv"}, {"tah", "ty"},
    {"tam", "ta"}, {"tat", "tt"}, {"tel", "te"}, {"tgk", "tg"}, {"tgl", "tl"}, {"tha", "th"},
    {"tib", "bo"}, {"tir", "ti"}, {"ton", "to"}, {"tsn", "tn"}, {"tso", "ts"}, {"tuk", "tk"},
    {"tur", "tr"}, {"twi", "tw"}, {"uig", "ug"}, {"ukr", "uk"}, {"urd", "ur"}, {"uzb", "uz"},
    {"ven", "ve"}, {"vie", "vi"}, {"vol", "vo"}, {"wel", "cy"}, {"wln", "wa"}, {"wol", "wo"},
    {"xho", "xh"}, {"yid", "yi"}, {"yor", "yo"}, {"zha", "za"}, {"zho", "zh"}, {"zul", "zu"},
};

std::string_view two_letter_code(std::string_view alpha3) {
  auto it = std::lower_bound(std::begin(kLanguages), std::end(kLanguages), alpha3,
                             [](const LanguagePair& pair, std::string_view key) { return pair.alpha3 < key; });
  if (it != std::end(kLanguages) && it->alpha3 == alpha3) return it->alpha2;
  return {};
}

}  // namespace

std::string decimal_seconds(std::int64_t ticks, std::uint32_t timescale, int digits) {
  const std::int64_t scale = kPowersOf10.at(static_cast<std::size_t>(digits));
  std::int64_t whole = ticks / timescale;
  // remainder < 2^32 and scale <= 10^6: 2 * remainder * scale < 2^53.
  const std::int64_t remainder = ticks % timescale;
  std::int64_t fraction = (remainder * scale * 2 + timescale) / (2 * static_cast<std::int64_t>(timescale));
  if (fraction == scale) {
    ++whole;
    fraction = 0;
  }
  if (digits == 0) return fmt::format("{}", whole);
  return fmt::format("{}.{:0{}}", whole, fraction, digits);
}

std::int64_t round_seconds(std::int64_t ticks, std::uint32_t timescale) {
  const std::int64_t whole = ticks / timescale;
  const std::int64_t remainder = ticks % timescale;
  return whole + (remainder * 2 >= static_cast<std::int64_t>(timescale) ? 1 : 0);
}

std::int64_t ceil_ms(std::int64_t ticks, std::uint32_t timescale) {
  const std::int64_t whole = ticks / timescale;
  const std::int64_t remainder = ticks % timescale;
  return whole * 1000 + (remainder * 1000 + timescale - 1) / timescale;
}

std::string xs_duration(std::int64_t ms) {
  const std::int64_t hours = ms / 3'600'000;
  const std::int64_t minutes = ms / 60'000 % 60;
  const std::int64_t seconds = ms / 1000 % 60;
  const std::int64_t millis = ms % 1000;
  std::string out = "PT";
  if (hours > 0) out += fmt::format("{}H", hours);
  if (hours > 0 || minutes > 0) out += fmt::format("{}M", minutes);
  out += fmt::format("{}.{:03}S", seconds, millis);
  return out;
}

std::string xs_date_time(std::int64_t unix_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> time{milliseconds{unix_ms}};
  const sys_days day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss<milliseconds> clock{time - day};
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(date.year()),
                                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                                clock.hours().count(), clock.minutes().count(), clock.seconds().count());
  if (clock.subseconds().count() != 0) out += fmt::format(".{:03}", clock.subseconds().count());
  out += 'Z';
  return out;
}

std::string dash_frame_rate(double frame_rate) {
  for (std::int64_t denominator = 1; denominator <= 1001; ++denominator) {
    const double numerator = std::round(frame_rate * static_cast<double>(denominator));
    if (numerator >= 1 && std::fabs(frame_rate - numerator / static_cast<double>(denominator)) < 1e-9) {
      const auto n = static_cast<std::int64_t>(numerator);
      if (denominator == 1) return fmt::format("{}", n);
      return fmt::format("{}/{}", n, denominator);
    }
  }
  std::int64_t numerator = std::max<std::int64_t>(1, std::llround(frame_rate * 1000));
  std::int64_t denominator = 1000;
  const std::int64_t divisor = std::gcd(numerator, denominator);
  numerator /= divisor;
  denominator /= divisor;
  if (denominator == 1) return fmt::format("{}", numerator);
  return fmt::format("{}/{}", numerator, denominator);
}

std::string xml_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\t': out += "&#9;"; break;
      case '\n': out += "&#10;"; break;
      case '\r': out += "&#13;"; break;
      default:
        // Other C0 controls cannot appear in XML 1.0 at all, not even as references.
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
  }
  return out;
}

std::string normalize_language(std::string_view tag) {
  std::vector<std::string> subtags(1);
  for (char c : tag) {
    if (c == '-' || c == '_') {
      subtags.emplace_back();
    } else if (is_alnum(c)) {
      subtags.back() += to_lower(c);
    } else {
      return "";
    }
  }
  std::string& primary = subtags.front();
  if (primary.size() < 2 || primary.size() > 8 || !std::all_of(primary.begin(), primary.end(), is_alpha)) return "";
  if (primary == "und") return "";
  if (primary.size() == 3) {
    if (std::string_view two = two_letter_code(primary); !two.empty()) primary = std::string(two);
  }
  std::string out = primary;
  for (std::size_t i = 1; i < subtags.size(); ++i) {
    std::string& subtag = subtags[i];
    if (subtag.empty() || subtag.size() > 8) return "";
    const bool alphabetic = std::all_of(subtag.begin(), subtag.end(), is_alpha);
    if (alphabetic && subtag.size() == 2) {
      std::transform(subtag.begin(), subtag.end(), subtag.begin(), to_upper);  // region
    } else if (alphabetic && subtag.size() == 4) {
      subtag[0] = to_upper(subtag[0]);  // script
    }
    out += '-';
    out += subtag;
  }
  return out;
}

bool is_safe_name(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '~' || c == '-'; });
}

bool is_sha256_hex(std::string_view hex) {
  return hex.size() == 64 &&
         std::all_of(hex.begin(), hex.end(), [](char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); });
}

}  // namespace cinevault::manifest::detail
