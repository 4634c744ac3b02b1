// Resumable uploads (the state behind the tus 1.0 endpoints): create, append at an offset,
// verify, make durable, and hand the complete file to the Ingestor.
//
// Durability: an offset is recorded only after the bytes up to it are fsynced, so an
// acknowledged offset survives a crash or a power cut. Partial files live in
// <data>/uploads/<id>; bytes past the recorded offset (a crash mid-write) are overwritten
// by the next append.
// Thread safety: every method may be called from any thread; one writer per upload at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "cinevault/core/config.hpp"
#include "cinevault/core/file.hpp"
#include "cinevault/core/file_hasher.hpp"
#include "cinevault/core/hash.hpp"
#include "cinevault/core/result.hpp"
#include "cinevault/db/database.hpp"
#include "cinevault/db/uploads.hpp"
#include "cinevault/ingest/ingestor.hpp"
#include "cinevault/ingest/upload_budget.hpp"

namespace cinevault::ingest {

struct ChunkChecksum {
  HashAlgorithm algorithm;
  std::string expected;  // raw digest bytes
};

struct UploadStatus {
  db::UploadRow row;
  std::map<std::string, std::string> metadata;
};

class UploadManager;

// One append (a tus PATCH body). Holds the upload's writer lock until destroyed.
class UploadAppend {
 public:
  ~UploadAppend();
  Result<void> write(const char* data, std::size_t size);
  // See WritebackPacer: true when the writer should wait for the disk before more data.
  bool should_wait_for_disk() const { return pacer_.should_wait(); }
  Result<void> wait_for_disk() { return pacer_.wait(file_.fd()); }
  // Verifies the chunk checksum (the chunk is discarded on a mismatch: checksum_mismatch),
  // fsyncs, records the new offset. When that completes the upload, ingests it: the
  // result then carries the video, or the ingest error (and the upload is gone).
  struct Outcome {
    std::int64_t offset = 0;
    std::int64_t expires_at_ms = 0;
    std::optional<IngestedVideo> video;
  };
  Result<Outcome> commit();
  // The client went away mid-body: keep what arrived, if it can be trusted (no checksum).
  void keep_partial();

 private:
  friend class UploadManager;
  UploadAppend(UploadManager& manager, db::UploadRow row, File file, Hasher running_hash,
               std::optional<ChunkChecksum> checksum, UploadBudget::Claim& claim);

  UploadManager& manager_;
  UploadBudget::Claim& claim_;  // the upload's, kept by the manager while the writer lock is held
  db::UploadRow row_;
  File file_;
  std::optional<ChunkChecksum> checksum_;
  // Reads back what this PATCH wrote, for the SHA-256 of the whole upload up to offset +
  // written_ and, when it has an Upload-Checksum, the digest of its own bytes. After file_.
  FileHasher hashes_;
  std::int64_t written_ = 0;
  WritebackPacer pacer_;
  bool finished_ = false;
};

class UploadManager {
 public:
  UploadManager(const UploadConfig& config, std::filesystem::path dir, db::Database& database, Ingestor& ingestor,
                UploadBudget& budget);

  // At start-up: removes partial files without a row and rows without a file, finishes
  // uploads whose last byte was recorded but whose video was not made (a crash in between),
  // and gives the unfinished ones back their claims on the budget.
  Result<void> recover();

  // A new upload of LENGTH bytes for OWNER (the API key's id): refused before anything is
  // written when the budget cannot take it (insufficient_storage, too_many).
  Result<UploadStatus> create(const std::string& owner, std::int64_t length,
                              std::map<std::string, std::string> metadata);
  Result<UploadStatus> status(const std::string& id);
  // Starts an append at `offset`: conflict if the offset is not the upload's, locked if
  // another append is running, too_large if content_length would pass the upload's length.
  Result<std::unique_ptr<UploadAppend>> begin_append(const std::string& id, std::int64_t offset,
                                                     std::optional<std::int64_t> content_length,
                                                     std::optional<ChunkChecksum> checksum);
  Result<void> terminate(const std::string& id);
  // Removes uploads whose expiry passed; returns how many.
  Result<std::size_t> expire();

  std::int64_t max_size() const { return config_.max_upload_bytes; }

 private:
  friend class UploadAppend;
  std::filesystem::path path_of(const std::string& id) const { return dir_ / (id + ".part"); }
  Result<UploadStatus> to_status(db::UploadRow row) const;
  Result<std::optional<IngestedVideo>> finish(const db::UploadRow& row, const std::string& sha256);
  void release(const std::string& id, std::optional<Hasher> running_hash, std::int64_t offset);
  Result<void> remove(const std::string& id);
  // The upload's claim on the budget (restored unchecked if it has none), with mutex_ held.
  UploadBudget::Claim& claim_of(const db::UploadRow& row);

  UploadConfig config_;
  std::filesystem::path dir_;
  db::Database& database_;
  Ingestor& ingestor_;
  UploadBudget& budget_;

  std::mutex mutex_;
  std::set<std::string> writing_;  // uploads with an append in progress
  std::map<std::string, UploadBudget::Claim> claims_;  // of the unfinished uploads
  struct RunningHash {
    std::int64_t offset;
    Hasher hash;
  };
  std::unordered_map<std::string, RunningHash> hashes_;  // saves re-reading the file per append
};

}  // namespace cinevault::ingest
