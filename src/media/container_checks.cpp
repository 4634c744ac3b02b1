#include "container_checks.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

extern "C" {
#include <libavutil/intreadwrite.h>
}

namespace cinevault::media {
namespace {

// Matroska, AVI and ASF muxers that can seek back write the length of the whole file (or
// of its top-level element) into the header when they finish. A file cut short keeps that
// header, and its demuxer then just stops early without an error, so the cut shows only
// here. A length the muxer could not write (a live recording: unknown-size Matroska
// segment, ASF broadcast flag, RIFF size 0 or 0xFFFFFFFF) says nothing, and the file is
// taken as it is.
struct DeclaredEnd {
  const char* what;      // "its Matroska header", ...
  std::int64_t end = 0;  // the byte where the header says it ends
};

// An EBML variable-length integer: an ID keeps its length marker, a size does not.
struct Vint {
  std::uint64_t value = 0;
  std::size_t length = 0;
  bool unknown = false;  // a size with every value bit set: "unknown size"
};

std::optional<Vint> read_vint(std::string_view bytes, std::size_t at, bool is_id) {
  if (at >= bytes.size()) return std::nullopt;
  auto first = static_cast<std::uint8_t>(bytes[at]);
  if (first == 0) return std::nullopt;  // longer than 8 bytes: not Matroska's
  Vint vint;
  vint.length = static_cast<std::size_t>(__builtin_clz(first) - 23);  // leading zeros of the byte, plus one
  if (at + vint.length > bytes.size()) return std::nullopt;
  std::uint64_t value = is_id ? first : first & (0xFFu >> vint.length);
  bool all_ones = value == (0xFFu >> vint.length);
  for (std::size_t i = 1; i < vint.length; ++i) {
    auto byte = static_cast<std::uint8_t>(bytes[at + i]);
    value = value << 8 | byte;
    all_ones = all_ones && byte == 0xFF;
  }
  vint.value = value;
  vint.unknown = !is_id && all_ones;
  return vint;
}

// The EBML header, then the Segment (Void and CRC-32 elements may come between).
Result<std::optional<DeclaredEnd>> matroska_end(const SafeInput& input) {
  constexpr std::uint64_t kEbml = 0x1A45DFA3, kSegment = 0x18538067, kVoid = 0xEC, kCrc32 = 0xBF;
  TRY(std::string head, input.read_at(0, 4096));
  std::size_t at = 0;
  for (int element = 0; element < 8; ++element) {
    auto id = read_vint(head, at, true);
    auto size = id ? read_vint(head, at + id->length, false) : std::nullopt;
    if (!size) return std::nullopt;
    std::size_t data = at + id->length + size->length;
    if (id->value == kSegment) {
      if (size->unknown || size->value > static_cast<std::uint64_t>(INT64_MAX) - data) return std::nullopt;
      return DeclaredEnd{"its Matroska header", static_cast<std::int64_t>(data + size->value)};
    }
    bool skippable = (element == 0 && id->value == kEbml) || (element > 0 && (id->value == kVoid || id->value == kCrc32));
    if (!skippable || size->unknown || size->value > head.size()) return std::nullopt;
    at = data + size->value;
  }
  return std::nullopt;
}

// RIFF chunks one after the other: "AVI " first, then "AVIX" for each further GiB (OpenDML).
Result<std::optional<DeclaredEnd>> avi_end(const SafeInput& input) {
  std::int64_t at = 0;
  std::optional<DeclaredEnd> last;
  for (int chunk = 0; chunk < 65536 && at < input.size_bytes(); ++chunk) {
    TRY(std::string header, input.read_at(at, 12));
    if (header.size() < 12 || header.compare(0, 4, "RIFF") != 0) break;  // what follows is not ours to judge
    std::uint64_t size = AV_RL32(header.data() + 4);
    if (size == 0 || size == 0xFFFFFFFF) return std::nullopt;
    last = DeclaredEnd{chunk == 0 ? "its AVI header" : "an AVI extension chunk (AVIX)",
                       at + 8 + static_cast<std::int64_t>(size)};
    if (last->end > input.size_bytes()) return last;
    at = last->end + static_cast<std::int64_t>(size & 1);  // chunks are padded to an even length
  }
  return last;
}

// The File Properties Object in the Header Object: its File Size, unless the Broadcast flag
// says it is not known.
Result<std::optional<DeclaredEnd>> asf_end(const SafeInput& input) {
  static constexpr unsigned char kFileProperties[16] = {0xA1, 0xDC, 0xAB, 0x8C, 0x47, 0xA9, 0xCF, 0x11,
                                                        0x8E, 0xE4, 0x00, 0xC0, 0x0C, 0x20, 0x53, 0x65};
  constexpr std::uint64_t kBroadcast = 1;
  TRY(std::string header, input.read_at(0, 30));
  if (header.size() < 30) return std::nullopt;
  const std::int64_t header_end = static_cast<std::int64_t>(std::min<std::uint64_t>(
      AV_RL64(header.data() + 16), static_cast<std::uint64_t>(input.size_bytes())));
  std::uint64_t objects = AV_RL32(header.data() + 24);
  std::int64_t at = 30;
  for (std::uint64_t i = 0; i < objects && i < 1024 && at + 24 <= header_end; ++i) {
    TRY(std::string object, input.read_at(at, 104));
    if (object.size() < 24) break;
    std::uint64_t size = AV_RL64(object.data() + 16);
    if (object.size() >= 104 && std::memcmp(object.data(), kFileProperties, 16) == 0) {
      std::uint64_t file_size = AV_RL64(object.data() + 40);
      std::uint64_t flags = AV_RL32(object.data() + 88);
      if ((flags & kBroadcast) != 0 || file_size == 0 || file_size > static_cast<std::uint64_t>(INT64_MAX))
        return std::nullopt;
      return DeclaredEnd{"its ASF header", static_cast<std::int64_t>(file_size)};
    }
    if (size < 24 || size > static_cast<std::uint64_t>(header_end - at)) break;
    at += static_cast<std::int64_t>(size);
  }
  return std::nullopt;
}

Result<std::optional<DeclaredEnd>> declared_end(const SafeInput& input) {
  std::string_view format = input.format()->iformat->name;
  if (format == "matroska,webm") return matroska_end(input);
  if (format == "avi") return avi_end(input);
  if (format == "asf") return asf_end(input);
  return std::nullopt;
}

}  // namespace

Result<void> check_samples_within_file(AVFormatContext* context, std::int64_t size_bytes) {
  if (std::string_view(context->iformat->name) != "mov,mp4,m4a,3gp,3g2,mj2") return {};
  for (unsigned i = 0; i < context->nb_streams; ++i) {
    AVStream* stream = context->streams[i];
    int count = avformat_index_get_entries_count(stream);
    for (int entry_index = 0; entry_index < count; ++entry_index) {
      const AVIndexEntry* entry = avformat_index_get_entry(stream, entry_index);
      std::int64_t end = entry->pos + entry->size;
      if (entry->pos >= 0 && end > size_bytes)
        return fail(ErrorCode::unprocessable,
                    fmt::format("the file is truncated or damaged (stream {} has data up to byte {}, the file "
                                "ends at {})",
                                i, end, size_bytes));
    }
  }
  return {};
}

Result<void> check_declared_length(const SafeInput& input) {
  TRY(std::optional<DeclaredEnd> declared, declared_end(input));
  if (declared && declared->end > input.size_bytes())
    return fail(ErrorCode::unprocessable,
                fmt::format("the file is truncated: {} declares {} bytes, the file has only {} (was it cut "
                            "short while copying or uploading?)",
                            declared->what, declared->end, input.size_bytes()));
  return {};
}

}  // namespace cinevault::media
