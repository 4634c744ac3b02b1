// libFuzzer target: the parsers of request headers and bodies the API routes read
// (cinevault/api/request_parsing.hpp). The first byte picks the parser, the rest is the
// header value or body; each result is checked against what the parser promises.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cinevault/api/request_parsing.hpp"
#include "cinevault/core/text.hpp"

namespace {

using namespace cinevault;

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {  // tus Upload-Metadata: what parses encodes back to the same pairs
      auto metadata = api::parse_upload_metadata(text);
      if (!metadata) break;
      for (auto& [key, value] : *metadata) check(!key.empty() && is_utf8(value));
      auto again = api::parse_upload_metadata(api::encode_upload_metadata(*metadata));
      check(again && *again == *metadata);
      break;
    }
    case 1: {  // tus Upload-Checksum: a digest of the algorithm's length
      auto checksum = api::parse_upload_checksum(text);
      if (checksum && *checksum) check((*checksum)->expected.size() == 20 || (*checksum)->expected.size() == 32);
      break;
    }
    case 2: {  // Range against an object size taken from the input: never past the end
      std::uint64_t object_size = text.empty() ? 0 : static_cast<unsigned char>(text[0]) * 1000ull;
      auto range = api::parse_range(text.substr(text.empty() ? 0 : 1), object_size);
      if (range.range) check(range.range->first <= range.range->last && range.range->last < object_size);
      check(!(range.range && range.unsatisfiable));
      break;
    }
    case 3: {  // If-None-Match: a list naming the tag always matches it
      (void)api::client_has(text, "\"etag\"");
      check(api::client_has(std::string(text) + ", \"etag\"", "\"etag\""));
      break;
    }
    case 4: {  // PATCH /api/v1/videos/{id}: a patch that parses holds UTF-8 text
      auto patch = api::parse_video_patch(text);
      if (patch && patch->title) check(is_utf8(*patch->title) && !patch->title->empty());
      break;
    }
  }
  return 0;
}
