#include "cinevault/ingest/library_import.hpp"

#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include "cinevault/core/text.hpp"
#include "cinevault/db/library_files.hpp"

namespace cinevault::ingest {
namespace {

namespace fs = std::filesystem;

// Refusals that hold as long as the file is unchanged; others (permissions, a full disk, a
// file still being written) are worth another try without the file changing.
bool lasting(ErrorCode code) {
  return code == ErrorCode::unsupported_media || code == ErrorCode::unprocessable || code == ErrorCode::too_large ||
         code == ErrorCode::invalid_argument;
}

// A file name as text: UTF-8, control characters as '?'.
std::string printable(const std::string& name) {
  std::string text = to_utf8(name);
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return text;
}

ImportResult refusal(std::string reason) {
  ImportResult result;
  result.reason = std::move(reason);
  return result;
}

bool is_within(const fs::path& path, const fs::path& folder) {
  auto [end, _] = std::mismatch(folder.begin(), folder.end(), path.begin(), path.end());
  return end == folder.end();
}

}  // namespace

const char* to_string(ImportOutcome outcome) {
  switch (outcome) {
    case ImportOutcome::added: return "added";
    case ImportOutcome::duplicate: return "duplicate";
    case ImportOutcome::unchanged: return "unchanged";
    case ImportOutcome::refused: return "refused";
    case ImportOutcome::busy: return "busy";
  }
  return "refused";
}

std::vector<std::string> folder_tags(const fs::path& root, const fs::path& file) {
  std::vector<std::string> tags;
  if (root.empty()) return tags;
  fs::path relative = file.lexically_relative(root).parent_path();
  for (const fs::path& part : relative) {
    std::string tag = printable(part.string());
    if (tag.empty() || tag == "." || tag == ".." || tag.size() > 100) continue;
    if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(std::move(tag));
    if (tags.size() == 50) break;
  }
  return tags;
}

ImportResult LibraryImporter::import_file(const ImportRequest& request) {
  try {
    if (!request.file.is_absolute()) return refusal("not an absolute path");
    fs::path path = request.file.lexically_normal();
    std::error_code ec;
    fs::path data_dir = fs::weakly_canonical(fs::absolute(config_.data_dir), ec);
    fs::path resolved = fs::weakly_canonical(path, ec);
    if (!ec && is_within(resolved, data_dir))
      return refusal("inside the data directory");
    return import_checked(request, path.string());
  } catch (const std::exception& exception) {
    spdlog::error("import of {} threw: {}", printable(request.file.string()), exception.what());
    return refusal("internal error");
  }
}

ImportResult LibraryImporter::import_checked(const ImportRequest& request, const std::string& path) {
  ImportResult result;
  // Taken or refused before, and not modified since: nothing is read.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    const LibraryFileState now = state_of(st);
    auto known = database_.read([&](db::Connection& c) { return db::find_library_file(c, request.owner_id, path); });
    if (!known) return refusal(known.error().message);
    if (*known && (*known)->size == now.size && (*known)->mtime_ns == now.mtime_ns) {
      result.bytes = now.size;
      if ((*known)->outcome == "refused") {
        result.outcome = ImportOutcome::refused;
        result.reason = (*known)->reason;
      } else {
        result.outcome = ImportOutcome::unchanged;
        result.video_id = (*known)->video_id.value_or("");
      }
      return result;
    }
  }

  TakeOptions options;
  options.allow_hard_link = config_.library.store_files == "auto";
  options.max_bytes = static_cast<std::uint64_t>(config_.uploads.max_upload_bytes);
  options.settle_s = config_.library.settle_s;
  options.claim_copy = [this, &request](std::uint64_t bytes) {
    return budget_.claim(std::to_string(request.owner_id), bytes, false);
  };
  db::LibraryFileRow row{request.owner_id, path, 0, 0, "refused", std::nullopt, ""};
  auto remember = [&] {
    auto recorded = database_.write([&](db::Connection& c) { return db::record_library_file(c, row); });
    if (!recorded) spdlog::warn("import: could not record {}: {}", printable(path), recorded.error().message);
  };

  auto taken = take_library_file(path, store_.temp_dir(), options);
  if (!taken) {
    const Error& error = taken.error();
    result.outcome = error.code == ErrorCode::conflict ? ImportOutcome::busy : ImportOutcome::refused;
    result.reason = error.message;
    if (lasting(error.code) && ::stat(path.c_str(), &st) == 0) {
      const LibraryFileState state = state_of(st);
      row.size = state.size;
      row.mtime_ns = state.mtime_ns;
      row.reason = error.message;
      remember();
    }
    return result;
  }
  row.size = taken->state.size;
  row.mtime_ns = taken->state.mtime_ns;
  result.bytes = taken->state.size;
  const TakeMethod method = taken->method;

  VideoMetadata metadata;
  metadata.filename = printable(fs::path(path).filename().string());
  metadata.owner_id = request.owner_id;
  metadata.visibility = request.visibility;
  metadata.library_import = true;
  if (request.folder_tags) metadata.tags = folder_tags(request.root, path);
  auto normalized = normalize_metadata(std::move(metadata));
  if (!normalized) return refusal(normalized.error().message);

  auto ingested = ingestor_.ingest(std::move(taken->staged), *normalized);
  if (!ingested) {
    const Error& error = ingested.error();
    result.outcome = error.code == ErrorCode::conflict ? ImportOutcome::busy : ImportOutcome::refused;
    result.reason = error.message;
    if (lasting(error.code)) {
      row.reason = error.message;
      remember();
    }
    return result;
  }
  result.video_id = ingested->video.id;
  result.title = ingested->video.title;
  result.outcome = ingested->duplicate ? ImportOutcome::duplicate : ImportOutcome::added;
  if (!ingested->duplicate) result.method = method;
  row.outcome = ingested->duplicate ? "duplicate" : "added";
  row.video_id = ingested->video.id;
  remember();
  spdlog::info("import: {} {} as video {} ({})", printable(path), to_string(result.outcome), result.video_id,
               ingested->duplicate ? "nothing stored" : to_string(method));
  return result;
}

}  // namespace cinevault::ingest
