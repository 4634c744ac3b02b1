#include "cinevault/api/request_parsing.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "cinevault/core/hash.hpp"
#include "cinevault/core/parse.hpp"
#include "cinevault/core/text.hpp"

namespace cinevault::api {
namespace {

constexpr std::size_t kMaxMetadataHeader = 8 * 1024;

}  // namespace

Result<std::map<std::string, std::string>> parse_upload_metadata(std::string_view header) {
  std::map<std::string, std::string> metadata;
  if (header.size() > kMaxMetadataHeader) return fail(ErrorCode::invalid_argument, "Upload-Metadata is too long");
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view pair = trim_blanks(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (pair.empty()) continue;
    auto space = pair.find(' ');
    std::string key(pair.substr(0, space));
    for (char c : key)
      if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
        return fail(ErrorCode::invalid_argument, "Upload-Metadata keys must be printable ASCII");
    // From here the key is printable ASCII, short (the header is): fit to name in a message.
    std::string value;
    if (space != std::string_view::npos) {
      auto decoded = base64_decode(pair.substr(space + 1));
      if (!decoded) return fail(ErrorCode::invalid_argument, "Upload-Metadata value of '" + key + "' is not base64");
      if (!is_utf8(*decoded))
        return fail(ErrorCode::invalid_argument, "Upload-Metadata value of '" + key + "' is not UTF-8");
      value = std::move(*decoded);
    }
    if (!metadata.emplace(key, value).second)
      return fail(ErrorCode::invalid_argument, "Upload-Metadata has key '" + key + "' twice");
  }
  return metadata;
}

std::string encode_upload_metadata(const std::map<std::string, std::string>& metadata) {
  std::string out;
  for (auto& [key, value] : metadata) {
    if (!out.empty()) out += ',';
    out += key;
    if (!value.empty()) out += ' ' + base64_encode(value);
  }
  return out;
}

Result<std::optional<ingest::ChunkChecksum>> parse_upload_checksum(std::string_view header) {
  if (header.empty()) return std::optional<ingest::ChunkChecksum>();
  auto space = header.find(' ');
  if (space == std::string_view::npos)
    return fail(ErrorCode::invalid_argument, "Upload-Checksum must be '<algorithm> <base64>'");
  std::string_view algorithm = header.substr(0, space);
  ingest::ChunkChecksum checksum{HashAlgorithm::sha1, {}};
  if (algorithm == "sha256") checksum.algorithm = HashAlgorithm::sha256;
  else if (algorithm != "sha1") return fail(ErrorCode::invalid_argument, "unsupported checksum algorithm (use sha1 or sha256)");
  auto digest = base64_decode(header.substr(space + 1));
  if (!digest || digest->size() != (checksum.algorithm == HashAlgorithm::sha1 ? 20u : 32u))
    return fail(ErrorCode::invalid_argument, "Upload-Checksum digest is not valid base64 of the right length");
  checksum.expected = std::move(*digest);
  return std::optional<ingest::ChunkChecksum>(std::move(checksum));
}

RangeRequest parse_range(std::string_view header, std::uint64_t size) {
  constexpr std::string_view kUnit = "bytes=";
  if (header.substr(0, kUnit.size()) != kUnit || header.find(',') != std::string_view::npos) return {};
  std::string_view spec = header.substr(kUnit.size());
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return {};
  auto first = spec.substr(0, dash), last = spec.substr(dash + 1);
  if (first.empty()) {  // suffix: the last n bytes
    auto n = parse_integer<std::uint64_t>(last);
    if (!n) return {};
    if (*n == 0 || size == 0) return {std::nullopt, true};
    return {ByteRange{size - std::min(*n, size), size - 1}, false};
  }
  auto a = parse_integer<std::uint64_t>(first);
  auto b = last.empty() ? std::optional<std::uint64_t>(UINT64_MAX) : parse_integer<std::uint64_t>(last);
  if (!a || !b || *b < *a) return {};
  if (*a >= size) return {std::nullopt, true};
  return {ByteRange{*a, std::min(*b, size - 1)}, false};
}

bool client_has(std::string_view if_none_match, std::string_view etag) {
  if (trim_blanks(if_none_match) == "*") return true;
  while (!if_none_match.empty()) {
    auto comma = if_none_match.find(',');
    std::string_view tag = trim_blanks(if_none_match.substr(0, comma));
    if_none_match = comma == std::string_view::npos ? std::string_view() : if_none_match.substr(comma + 1);
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (!tag.empty() && tag == etag) return true;
  }
  return false;
}

Result<db::VideoPatch> parse_video_patch(std::string_view body) {
  using nlohmann::json;
  json document = json::parse(body, nullptr, false);
  if (document.is_discarded() || !document.is_object())
    return fail(ErrorCode::invalid_argument, "the body must be a JSON object");
  db::VideoPatch patch;
  for (auto& [key, value] : document.items()) {
    if (key == "title" || key == "description") {
      if (!value.is_string()) return fail(ErrorCode::invalid_argument, "'" + key + "' must be a string");
      (key == "title" ? patch.title : patch.description) = value.get<std::string>();
    } else if (key == "tags") {
      if (!value.is_array()) return fail(ErrorCode::invalid_argument, "'tags' must be an array of strings");
      std::vector<std::string> tags;
      for (auto& tag : value) {
        if (!tag.is_string()) return fail(ErrorCode::invalid_argument, "'tags' must be an array of strings");
        tags.push_back(tag.get<std::string>());
      }
      patch.tags = std::move(tags);
    } else if (key == "visibility") {
      auto visibility = value.is_string() ? db::parse_visibility(value.get<std::string>()) : std::nullopt;
      if (!visibility)
        return fail(ErrorCode::invalid_argument, "'visibility' must be private, unlisted, library or public");
      patch.visibility = *visibility;
    } else {
      // The parser checked the key is UTF-8; a long one is not repeated back.
      std::string named = key.size() <= 64 ? " '" + key + "'" : "";
      return fail(ErrorCode::invalid_argument, "unknown field" + named + ": only title, description, tags and visibility can change");
    }
  }
  // The same checks as at upload time.
  ingest::VideoMetadata check{patch.title.value_or("x"), patch.description.value_or(""),
                              patch.tags.value_or(std::vector<std::string>{}), ""};
  if (patch.title && patch.title->empty()) return fail(ErrorCode::invalid_argument, "the title must not be empty");
  RETURN_IF_ERROR(ingest::normalize_metadata(std::move(check)));
  return patch;
}

}  // namespace cinevault::api
