// A staged upload: bytes streamed to a temp file while their SHA-256 is computed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <future>
#include <string>

#include "cinevault/core/file.hpp"
#include "cinevault/core/file_hasher.hpp"
#include "cinevault/core/hash.hpp"
#include "cinevault/core/result.hpp"

namespace cinevault::ingest {

// A complete staged file: its hash and size known, its bytes durable on disk or on their
// way there (durable() waits). Owns the file: it is removed when this is destroyed, unless
// the store took it (rename) first.
class StagedFile {
 public:
  StagedFile(std::filesystem::path path, std::string sha256, std::uint64_t size,
             std::future<Result<void>> sync = {})
      : path_(std::move(path)), sha256_(std::move(sha256)), size_(size), sync_(std::move(sync)) {}
  StagedFile(StagedFile&& other) noexcept
      : path_(std::exchange(other.path_, {})),
        sha256_(std::move(other.sha256_)),
        size_(other.size_),
        sync_(std::move(other.sync_)) {}
  StagedFile& operator=(StagedFile&&) = delete;
  ~StagedFile();

  const std::filesystem::path& path() const { return path_; }
  const std::string& sha256() const { return sha256_; }
  std::uint64_t size() const { return size_; }
  // Returns when the bytes are on the disk: before anything refers to the file.
  Result<void> durable();

 private:
  std::filesystem::path path_;
  std::string sha256_;
  std::uint64_t size_;
  std::future<Result<void>> sync_;  // the fsync still running, if any
};

// One log line when an upload had to wait for the disk (it came faster than the disk writes).
void log_disk_waits(const WritebackPacer& pacer, std::uint64_t bytes);

// Writes a new staging file. Not thread-safe (one request writes it). An unfinished
// staging file is removed by the destructor: an aborted upload leaves nothing.
class StagingWriter {
 public:
  static Result<StagingWriter> create(const std::filesystem::path& dir, std::uint64_t max_bytes);
  StagingWriter(StagingWriter&&) = default;
  ~StagingWriter();

  Result<void> write(const char* data, std::size_t size);
  std::uint64_t size() const { return size_; }
  // See WritebackPacer: true when the writer should wait for the disk before more data.
  bool should_wait_for_disk() const { return pacer_.should_wait(); }
  Result<void> wait_for_disk() { return pacer_.wait(file_.fd()); }
  // Hands the file over with its fsync started: the caller probes the file meanwhile.
  Result<StagedFile> finish();

 private:
  StagingWriter(std::filesystem::path path, File file, std::uint64_t max_bytes)
      : path_(std::move(path)), file_(std::move(file)), hasher_(file_.fd()), max_bytes_(max_bytes) {}
  std::filesystem::path path_;
  File file_;
  FileHasher hasher_;  // reads back what was written: declared after file_
  std::uint64_t size_ = 0;
  WritebackPacer pacer_;
  std::uint64_t max_bytes_;
};

}  // namespace cinevault::ingest
