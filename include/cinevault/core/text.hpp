// Text from outside (requests, upload metadata, media tags) is bytes until checked: these
// say whether it is UTF-8, clean it into UTF-8, and write JSON that cannot throw.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace cinevault {

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_utf8(std::string_view text);

// `text` with each ill-formed sequence (a bad byte and the continuation bytes after it)
// replaced by U+FFFD; well-formed text comes back as it is.
std::string to_utf8(std::string_view text);

// ASCII letters lowered; other bytes as they are (header names, host names, media types).
std::string ascii_lower(std::string_view text);

// Equal when ASCII letters are compared without case (header values, tokens).
bool ascii_iequals(std::string_view a, std::string_view b);

// Without the spaces and tabs at either end (HTTP's optional whitespace).
std::string_view trim_blanks(std::string_view text);

// value.dump(indent), with invalid UTF-8 in strings replaced rather than thrown: the last
// line of defence, every string should have been checked where it entered.
std::string json_text(const nlohmann::json& value, int indent = -1);

}  // namespace cinevault
