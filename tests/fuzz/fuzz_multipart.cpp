// libFuzzer target: the streaming multipart/form-data parser (src/ingest/multipart.cpp).
//
// The first input byte picks the mode (the seeds use 'B' and 'C', to stay text):
//  - even ('B'): the rest is the body, with the fixed boundary kBoundary;
//  - odd ('C'): the rest's first line is the Content-Type header value (through
//    boundary_of()), the remainder the body.
// The body is fed in chunks whose sizes come from the input's own bytes, so that a
// delimiter or header split across two feed() calls is exercised; the same body is then
// fed in one piece and the two runs must see the same parts and bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cinevault/ingest/multipart.hpp"

namespace {

using cinevault::Result;
using cinevault::ingest::MultipartParser;
using cinevault::ingest::PartHeader;

constexpr std::string_view kBoundary = "----cinevaultFuzzBoundary7MA4YWxk";

struct Outcome {
  std::vector<std::string> events;  // "begin name filename type", data concatenated, "end"
  bool ok = true;
  bool finished = false;
  bool operator==(const Outcome&) const = default;
};

MultipartParser::Handler recorder(Outcome& outcome) {
  return {
      [&outcome](const PartHeader& part) -> Result<void> {
        outcome.events.push_back("begin\n" + part.name + "\n" + part.filename + "\n" + part.content_type);
        outcome.events.emplace_back();
        return {};
      },
      [&outcome](const char* data, std::size_t size) -> Result<void> {
        if (outcome.events.empty()) __builtin_trap();  // data before any part began
        outcome.events.back().append(data, size);
        return {};
      },
      [&outcome]() -> Result<void> {
        outcome.events.push_back("end");
        return {};
      },
  };
}

// chunk_sizes empty: one feed() of the whole body.
Outcome run(const std::string& boundary, std::string_view body, std::string_view chunk_sizes) {
  Outcome outcome;
  MultipartParser parser(boundary, recorder(outcome));
  std::size_t at = 0, next_size = 0;
  while (at < body.size()) {
    std::size_t size = body.size() - at;
    if (!chunk_sizes.empty()) {
      size = std::min<std::size_t>(size, 1 + static_cast<unsigned char>(chunk_sizes[next_size++ % chunk_sizes.size()]) % 64);
    }
    if (!parser.feed(body.data() + at, size)) {
      outcome.ok = false;
      return outcome;
    }
    at += size;
  }
  outcome.finished = static_cast<bool>(parser.finish());
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  bool header_first = data[0] & 1;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::string boundary(kBoundary);
  std::string_view body = input;
  if (header_first) {
    auto eol = input.find('\n');
    std::string_view content_type = input.substr(0, eol);
    body = eol == std::string_view::npos ? std::string_view() : input.substr(eol + 1);
    auto parsed = MultipartParser::boundary_of(content_type);
    if (!parsed) return 0;
    if (parsed->empty() || parsed->size() > 70) __builtin_trap();  // what boundary_of promises
    boundary = std::move(*parsed);
  }

  Outcome whole = run(boundary, body, {});
  // Chunk sizes from the tail of the input: independent enough of the body's structure.
  std::string_view sizes = input.substr(input.size() / 2);
  Outcome chunked = run(boundary, body, sizes.empty() ? std::string_view("\x07") : sizes);
  // Where it succeeded both ways, the split must not change what the handler saw.
  // (An error can legitimately come at a different point: a size limit is checked per feed.)
  if (whole.ok && chunked.ok && !(whole == chunked)) __builtin_trap();
  return 0;
}
