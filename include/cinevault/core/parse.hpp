// Numbers read from requests, paths, cursors and config: the whole text must be the number,
// in range, in plain decimal (std::from_chars: no spaces, no '+', no hex; '-' for signed
// types only). std::stoi would take " 5" or "+5" and throws; this is what every parser uses.
#pragma once

#include <charconv>
#include <concepts>
#include <optional>
#include <string_view>

namespace cinevault {

template <std::integral T>
std::optional<T> parse_integer(std::string_view text) {
  T value{};
  if (text.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace cinevault
