#include "cinevault/ingest/uploads.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cinevault/core/text.hpp"
#include "cinevault/db/videos.hpp"
#include "cinevault/core/parse.hpp"
#include "cinevault/ingest/staging.hpp"

namespace cinevault::ingest {
namespace {

namespace fs = std::filesystem;

// The video's metadata from tus Upload-Metadata: title, description, tags (comma-separated), filename.
// `owner`: the upload's owner, a user id in decimal; `visibility`: when the metadata has none.
Result<VideoMetadata> video_metadata(std::map<std::string, std::string> fields, const std::string& owner,
                                     const std::string& visibility) {
  VideoMetadata metadata;
  metadata.owner_id = parse_integer<std::int64_t>(owner).value_or(0);
  TRY(metadata.visibility, visibility_field(fields.count("visibility") ? fields["visibility"] : visibility));
  metadata.title = fields["title"];
  metadata.description = fields["description"];
  metadata.tags = split_tags(fields["tags"]);
  metadata.filename = fields.count("filename") ? fields["filename"] : fields["name"];
  return normalize_metadata(std::move(metadata));
}

// The running SHA-256 of the upload, then the chunk's own digest when the PATCH has an
// Upload-Checksum: one read-back of the chunk, off the I/O thread, feeds both.
std::vector<Hasher> hashers(Hasher running_hash, const std::optional<ChunkChecksum>& checksum) {
  std::vector<Hasher> hashers;
  hashers.push_back(std::move(running_hash));
  if (checksum) hashers.emplace_back(checksum->algorithm);
  return hashers;
}

}  // namespace

UploadAppend::UploadAppend(UploadManager& manager, db::UploadRow row, File file, Hasher running_hash,
                           std::optional<ChunkChecksum> checksum, UploadBudget::Claim& claim)
    : manager_(manager),
      claim_(claim),
      row_(std::move(row)),
      file_(std::move(file)),
      checksum_(std::move(checksum)),
      hashes_(file_.fd(), static_cast<std::uint64_t>(row_.offset), hashers(std::move(running_hash), checksum_)),
      pacer_(static_cast<std::uint64_t>(row_.offset)) {}

UploadAppend::~UploadAppend() {
  if (!finished_) manager_.release(row_.id, std::nullopt, 0);
}

Result<void> UploadAppend::write(const char* data, std::size_t size) {
  if (row_.offset + written_ + static_cast<std::int64_t>(size) > row_.length)
    return fail(ErrorCode::too_large, "the data goes past the declared Upload-Length of " + std::to_string(row_.length));
  RETURN_IF_ERROR(file_.pwrite_all(data, size, static_cast<std::uint64_t>(row_.offset + written_)));
  RETURN_IF_ERROR(claim_.arrived(size));
  written_ += static_cast<std::int64_t>(size);
  const auto end = static_cast<std::uint64_t>(row_.offset + written_);
  pacer_.wrote(file_.fd(), end);
  hashes_.wrote(end);
  return {};
}

Result<UploadAppend::Outcome> UploadAppend::commit() {
  finished_ = true;  // from here on this function releases the writer lock itself
  std::int64_t new_offset = row_.offset + written_;
  auto hashed = hashes_.finish();  // before the file is cut or closed
  if (checksum_ && (!hashed || hashed->back().finish() != checksum_->expected)) {
    (void)file_.truncate(static_cast<std::uint64_t>(row_.offset));
    claim_.set_unwritten(static_cast<std::uint64_t>(row_.length - row_.offset));
    manager_.release(row_.id, std::nullopt, 0);
    if (!hashed) return tl::unexpected(hashed.error());
    return fail(ErrorCode::checksum_mismatch, "the chunk does not match its Upload-Checksum; it was discarded");
  }
  log_disk_waits(pacer_, static_cast<std::uint64_t>(written_));
  if (!hashed) {
    manager_.release(row_.id, std::nullopt, 0);
    return tl::unexpected(hashed.error());
  }
  Hasher& running_hash = hashed->front();
  auto durable = pacer_.finish().and_then([&] { return file_.sync(); }).and_then([&] { return file_.close(); });
  if (!durable) {
    manager_.release(row_.id, std::nullopt, 0);
    return tl::unexpected(durable.error());
  }
  Outcome outcome;
  outcome.offset = new_offset;
  outcome.expires_at_ms = row_.expires_at_ms;
  if (new_offset < row_.length) {
    auto recorded = manager_.database_.write(
        [&](db::Connection& c) { return db::set_upload_offset(c, row_.id, new_offset); });
    manager_.release(row_.id, recorded ? std::optional<Hasher>(std::move(running_hash)) : std::nullopt, new_offset);
    if (!recorded) return tl::unexpected(recorded.error());
    return outcome;
  }
  std::string sha256 = running_hash.finish_hex();
  auto recorded = manager_.database_.write([&](db::Connection& c) { return db::set_upload_received(c, row_.id, sha256); });
  if (!recorded) {
    manager_.release(row_.id, std::nullopt, 0);
    return tl::unexpected(recorded.error());
  }
  auto video = manager_.finish(row_, sha256);
  manager_.release(row_.id, std::nullopt, 0);
  if (!video) return tl::unexpected(video.error());
  outcome.video = std::move(*video);
  return outcome;
}

void UploadAppend::keep_partial() {
  if (finished_ || checksum_ || written_ == 0) return;
  auto kept = commit();
  spdlog::info("upload {}: connection lost, {} at offset {}", row_.id, kept ? "kept the bytes received" : "could not keep the bytes",
               kept ? kept->offset : row_.offset);
}

UploadManager::UploadManager(const UploadConfig& config, fs::path dir, db::Database& database, Ingestor& ingestor,
                             UploadBudget& budget)
    : config_(config), dir_(std::move(dir)), database_(database), ingestor_(ingestor), budget_(budget) {}

UploadBudget::Claim& UploadManager::claim_of(const db::UploadRow& row) {
  auto it = claims_.find(row.id);
  if (it == claims_.end())
    it = claims_.emplace(row.id, budget_.restore(row.owner, static_cast<std::uint64_t>(row.length),
                                                 static_cast<std::uint64_t>(row.length - row.offset)))
             .first;
  return it->second;
}

Result<UploadStatus> UploadManager::to_status(db::UploadRow row) const {
  UploadStatus status;
  auto metadata = nlohmann::json::parse(row.metadata_json, nullptr, false);
  if (metadata.is_object())
    for (auto& [key, value] : metadata.items())
      if (value.is_string()) status.metadata[key] = value.get<std::string>();
  status.row = std::move(row);
  return status;
}

Result<UploadStatus> UploadManager::create(const std::string& owner, std::int64_t length,
                                           std::map<std::string, std::string> metadata) {
  if (length <= 0) return fail(ErrorCode::invalid_argument, "Upload-Length must be at least 1: an empty file is no video");
  if (length > config_.max_upload_bytes)
    return fail(ErrorCode::too_large, "Upload-Length " + std::to_string(length) + " is over the limit of " +
                                          std::to_string(config_.max_upload_bytes) + " bytes");
  // Refuse bad metadata now, not after the whole file has been sent.
  RETURN_IF_ERROR(video_metadata(metadata, owner, config_.default_visibility));
  TRY(UploadBudget::Claim claim, budget_.claim(owner, static_cast<std::uint64_t>(length), true));
  db::UploadRow row;
  row.id = random_hex(16);
  row.length = length;
  row.metadata_json = json_text(nlohmann::json(metadata));
  row.created_at_ms = row.updated_at_ms = db::now_ms();
  // Fixed at creation: appending a byte now and then does not keep an upload forever.
  row.expires_at_ms = row.created_at_ms + static_cast<std::int64_t>(config_.expire_after_hours) * 3600 * 1000;
  row.owner = owner;
  {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    TRY(File file, File::create_new(path_of(row.id)));
    RETURN_IF_ERROR(file.sync());
  }
  auto created = fsync_directory(dir_).and_then(
      [&] { return database_.write([&](db::Connection& c) { return db::insert_upload(c, row); }); });
  if (!created) {
    std::error_code ec;
    fs::remove(path_of(row.id), ec);
    return tl::unexpected(created.error());
  }
  {
    std::lock_guard lock(mutex_);
    claims_.insert_or_assign(row.id, std::move(claim));
  }
  return to_status(std::move(row));
}

Result<UploadStatus> UploadManager::status(const std::string& id) {
  TRY(auto row, database_.read([&](db::Connection& c) { return db::find_upload(c, id); }));
  if (!row) return fail(ErrorCode::not_found, "no such upload");
  if (row->expires_at_ms <= db::now_ms()) return fail(ErrorCode::gone, "the upload expired");
  return to_status(std::move(*row));
}

Result<std::unique_ptr<UploadAppend>> UploadManager::begin_append(const std::string& id, std::int64_t offset,
                                                                  std::optional<std::int64_t> content_length,
                                                                  std::optional<ChunkChecksum> checksum) {
  std::optional<Hasher> cached;
  {
    std::lock_guard lock(mutex_);
    if (!writing_.insert(id).second) return fail(ErrorCode::locked, "another request is writing to this upload");
    auto it = hashes_.find(id);
    if (it != hashes_.end()) {
      if (it->second.offset == offset) cached = std::move(it->second.hash);
      hashes_.erase(it);
    }
  }
  // From here every failure must give the writer lock back.
  auto started = [&]() -> Result<std::unique_ptr<UploadAppend>> {
    TRY(UploadStatus status, this->status(id));
    db::UploadRow& row = status.row;
    if (row.state == "complete" || row.offset == row.length)
      return fail(ErrorCode::conflict, "the upload is already complete");
    if (row.offset != offset)
      return fail(ErrorCode::conflict, "Upload-Offset " + std::to_string(offset) + " is not the upload's offset " +
                                           std::to_string(row.offset));
    if (content_length && offset + *content_length > row.length)
      return fail(ErrorCode::too_large, "the data goes past the declared Upload-Length of " + std::to_string(row.length));
    TRY(File file, File::open_write(path_of(id)));
    // Bytes past the recorded offset are from an append that was never acknowledged.
    RETURN_IF_ERROR(file.truncate(static_cast<std::uint64_t>(offset)));
    UploadBudget::Claim* claim;
    {
      std::lock_guard lock(mutex_);
      claim = &claim_of(row);
    }
    claim->set_unwritten(static_cast<std::uint64_t>(row.length - offset));
    if (!cached) {
      // After a restart (or a discarded chunk) the running hash is rebuilt from the file.
      cached.emplace(HashAlgorithm::sha256);
      RETURN_IF_ERROR(hash_file_prefix(path_of(id), static_cast<std::uint64_t>(offset), *cached));
    }
    return std::unique_ptr<UploadAppend>(
        new UploadAppend(*this, std::move(row), std::move(file), std::move(*cached), std::move(checksum), *claim));
  }();
  if (!started) release(id, std::nullopt, 0);
  return started;
}

void UploadManager::release(const std::string& id, std::optional<Hasher> running_hash, std::int64_t offset) {
  std::lock_guard lock(mutex_);
  writing_.erase(id);
  if (running_hash) hashes_.insert_or_assign(id, RunningHash{offset, std::move(*running_hash)});
  else hashes_.erase(id);
}

Result<std::optional<IngestedVideo>> UploadManager::finish(const db::UploadRow& row, const std::string& sha256) {
  TRY(UploadStatus status, to_status(row));
  auto ingested = video_metadata(status.metadata, row.owner, config_.default_visibility).and_then([&](VideoMetadata m) {
    return ingestor_.ingest(StagedFile(path_of(row.id), sha256, static_cast<std::uint64_t>(row.length)), m);
  });
  if (!ingested) {
    // Refused media leaves nothing: the upload, its row and its file go.
    (void)remove(row.id);
    return tl::unexpected(ingested.error());
  }
  RETURN_IF_ERROR(database_.write([&](db::Connection& c) { return db::complete_upload(c, row.id, ingested->video.id); }));
  {
    std::lock_guard lock(mutex_);
    claims_.erase(row.id);  // its bytes are the store's now
  }
  return std::optional<IngestedVideo>(std::move(*ingested));
}

Result<void> UploadManager::remove(const std::string& id) {
  RETURN_IF_ERROR(database_.write([&](db::Connection& c) { return db::delete_upload(c, id).map([](bool) {}); }));
  std::error_code ec;
  fs::remove(path_of(id), ec);
  std::lock_guard lock(mutex_);
  hashes_.erase(id);
  claims_.erase(id);
  return {};
}

Result<void> UploadManager::terminate(const std::string& id) {
  TRY(UploadStatus status, this->status(id));
  {
    std::lock_guard lock(mutex_);
    if (writing_.count(id)) return fail(ErrorCode::locked, "another request is writing to this upload");
    writing_.insert(id);
  }
  auto removed = remove(id);
  release(id, std::nullopt, 0);
  return removed;
}

Result<std::size_t> UploadManager::expire() {
  TRY(auto ids, database_.read([&](db::Connection& c) { return db::expired_uploads(c, db::now_ms()); }));
  std::size_t removed = 0;
  for (auto& id : ids) {
    {
      std::lock_guard lock(mutex_);
      if (writing_.count(id)) continue;
      writing_.insert(id);
    }
    if (remove(id)) ++removed;
    release(id, std::nullopt, 0);
  }
  if (removed) spdlog::info("uploads: removed {} expired upload(s)", removed);
  return removed;
}

Result<void> UploadManager::recover() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return fail(ErrorCode::io, "create " + dir_.string() + ": " + ec.message());
  TRY(auto rows, database_.read([&](db::Connection& c) { return db::all_uploads(c); }));
  std::set<std::string> known;
  for (auto& row : rows) known.insert(row.id + ".part");
  for (auto& entry : fs::directory_iterator(dir_, ec)) {
    if (!known.count(entry.path().filename().string())) {
      spdlog::info("uploads: removing {} (no upload refers to it)", entry.path().string());
      fs::remove(entry.path(), ec);
    }
  }
  for (auto& row : rows) {
    if (row.state == "complete") continue;
    bool has_file = fs::exists(path_of(row.id));
    if (row.offset == row.length && row.sha256) {
      // The last byte was acknowledged but the video was not made: make it now.
      if (has_file) {
        auto finished = finish(row, *row.sha256);
        spdlog::info("uploads: finished interrupted upload {}: {}", row.id, finished ? "ingested" : finished.error().message);
        continue;
      }
      const std::int64_t owner = parse_integer<std::int64_t>(row.owner).value_or(0);
      TRY(auto video, database_.read([&](db::Connection& c) { return db::find_video_by_source(c, *row.sha256, owner); }));
      if (video) {
        RETURN_IF_ERROR(database_.write([&](db::Connection& c) { return db::complete_upload(c, row.id, video->id); }));
        continue;
      }
    }
    if (!has_file) {
      spdlog::warn("uploads: upload {} lost its partial file; removing it", row.id);
      RETURN_IF_ERROR(remove(row.id));
      continue;
    }
    std::lock_guard lock(mutex_);
    claim_of(row);
  }
  return {};
}

}  // namespace cinevault::ingest
