// The request headers and bodies the API routes read, parsed by pure functions of their text:
// tested and fuzzed on their own (tests/api/request_parsing_test.cpp, fuzz_api_parsers).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "cinevault/core/result.hpp"
#include "cinevault/db/videos.hpp"
#include "cinevault/ingest/uploads.hpp"

namespace cinevault::api {

// tus Upload-Metadata: "key base64value,key2 base64value2" (a key may have no value). Keys
// unique, printable ASCII; values UTF-8. invalid_argument otherwise.
Result<std::map<std::string, std::string>> parse_upload_metadata(std::string_view header);
std::string encode_upload_metadata(const std::map<std::string, std::string>& metadata);

// tus Upload-Checksum: "sha1 <base64>" or "sha256 <base64>"; an empty header: none.
Result<std::optional<ingest::ChunkChecksum>> parse_upload_checksum(std::string_view header);

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};

// One range of "bytes=a-b", "bytes=a-" or "bytes=-n" (RFC 9110 §14.1.2) of an object of SIZE
// bytes. No range: serve it all (several ranges, or a unit we do not know, may be ignored);
// a range past the end is unsatisfiable (416).
struct RangeRequest {
  std::optional<ByteRange> range;
  bool unsatisfiable = false;
};
RangeRequest parse_range(std::string_view header, std::uint64_t size);

// Whether an If-None-Match header (RFC 9110 §13.1.2: "*" or a comma-separated list of entity
// tags, compared weakly: W/"x" matches "x") names ETAG, the quoted tag of the resource: the
// client has it, and the answer is 304.
bool client_has(std::string_view if_none_match, std::string_view etag);

// The JSON body of PATCH /api/v1/videos/{id}: title, description and tags, with the checks
// of an upload's metadata.
Result<db::VideoPatch> parse_video_patch(std::string_view body);

}  // namespace cinevault::api
