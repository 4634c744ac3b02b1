#include "cinevault/ingest/file_title.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include "cinevault/core/text.hpp"

namespace cinevault::ingest {
namespace {

// Words that start the technical tail of a release name.
bool is_release_tag(std::string_view word) {
  static constexpr std::array<std::string_view, 34> kTags = {
      "480p", "576p", "720p", "1080p", "1080i", "2160p", "4k", "uhd", "hdr", "hdr10", "dv", "x264", "x265",
      "h264", "h.264", "h265", "h.265", "hevc", "avc", "xvid", "divx", "bluray", "blu-ray", "brrip", "bdrip",
      "web-dl", "webdl", "webrip", "web", "hdtv", "dvdrip", "remux", "aac", "ac3"};
  const std::string lower = ascii_lower(word);
  return std::find(kTags.begin(), kTags.end(), lower) != kTags.end();
}

bool is_year(std::string_view word) {
  if (word.size() == 6 && (word.front() == '(' || word.front() == '[')) word = word.substr(1, 4);
  if (word.size() != 4 || !std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  return word.substr(0, 2) == "19" || word.substr(0, 2) == "20";
}

}  // namespace

std::string title_from_file_name(std::string_view file_name) {
  if (auto slash = file_name.find_last_of("/\\"); slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  std::string_view stem = file_name;
  if (auto dot = stem.rfind('.'); dot != std::string_view::npos && dot > 0 && stem.size() - dot <= 6)
    stem = stem.substr(0, dot);

  // Words split at spaces, dots and underscores; a dot inside "h.264" keeps its word whole.
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (std::size_t i = 0; i < stem.size(); ++i) {
    char c = stem[i];
    bool codec_dot = c == '.' && (ascii_lower(word) == "h" || ascii_lower(word) == "x") && i + 1 < stem.size() &&
                     std::isdigit(static_cast<unsigned char>(stem[i + 1]));
    if ((c == '.' || c == '_' || c == ' ') && !codec_dot) flush();
    else word += c;
  }
  flush();

  // The technical tail starts at the first release tag; the year is the first one in
  // parentheses or brackets before it, else the last bare one ("Blade.Runner.2049.2017").
  std::size_t cut = words.size();
  for (std::size_t i = 1; i < words.size(); ++i)
    if (is_release_tag(words[i])) {
      cut = i;
      break;
    }
  std::size_t year_at = 0;
  for (std::size_t i = 1; i < cut; ++i) {
    if (!is_year(words[i])) continue;
    bool bracketed = words[i].size() == 6;
    if (bracketed || year_at == 0 || words[year_at].size() != 6) year_at = i;
    if (bracketed) break;
  }
  std::string title, year;
  if (year_at > 0) {
    cut = year_at;
    year = words[year_at].size() == 6 ? words[year_at].substr(1, 4) : words[year_at];
  }
  for (std::size_t i = 0; i < cut; ++i) {
    if (!title.empty()) title += ' ';
    title += words[i];
  }
  // "Holiday - 2019": a dash left dangling before what was cut.
  while (!title.empty() && (title.back() == '-' || title.back() == ' ')) title.pop_back();
  if (!year.empty()) title += " (" + year + ")";
  if (title.empty()) title = std::string(stem);
  return title.empty() ? "Untitled" : title;
}

}  // namespace cinevault::ingest
