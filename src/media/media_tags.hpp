// Text from a file's tags, made safe to store and show (internal to media/; the recording
// time's parser is public, probe.hpp). Used by the probe on what libavformat read, and by the
// daemon again on what a worker reported.
#pragma once

#include <string>
#include <string_view>

namespace cinevault::media {

// A track's language tag as players expect it (ISO 639 "eng", or BCP 47 "pt-BR"): letters,
// digits and hyphens, 2 to 35 of them. Anything else in a file's tag (bytes that are not
// UTF-8, quotes that would end an HLS attribute) is dropped, and so is "und".
bool is_language_tag(std::string_view tag);

// A title tag as the page may show it: valid UTF-8, control characters as spaces, no blanks
// at either end, at most 200 bytes (cut at a character boundary).
std::string clean_title(std::string_view tag);

}  // namespace cinevault::media
