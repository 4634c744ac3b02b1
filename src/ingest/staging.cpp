#include "cinevault/ingest/staging.hpp"

#include <fcntl.h>

namespace cinevault::ingest {

StagedFile::~StagedFile() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove(path_, ec);  // gone already when the store renamed it: fine
}

Result<StagingWriter> StagingWriter::create(const std::filesystem::path& dir, std::uint64_t max_bytes) {
  auto path = dir / ("upload-" + random_hex(8));
  TRY(File file, File::create_new(path, 0644));
  return StagingWriter(std::move(path), std::move(file), max_bytes);
}

StagingWriter::~StagingWriter() {
  if (file_.is_open()) {
    file_.close();
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
}

Result<void> StagingWriter::write(const char* data, std::size_t size) {
  if (size_ + size > max_bytes_)
    return fail(ErrorCode::too_large, "the upload is larger than the limit of " + std::to_string(max_bytes_) + " bytes");
  hasher_.update(data, size);
  RETURN_IF_ERROR(file_.write_all(data, size));
  size_ += size;
  if (size_ - writeback_from_ >= kWritebackChunk) {
    // Start writing what came so far to the disk now, without waiting for it: the fsync
    // before the upload is acknowledged then has only the tail left to wait for (for a 2 GB
    // upload, seconds less between the last byte and the answer). Errors surface at fsync.
    (void)::sync_file_range(file_.fd(), static_cast<off_t>(writeback_from_),
                            static_cast<off_t>(size_ - writeback_from_), SYNC_FILE_RANGE_WRITE);
    writeback_from_ = size_;
  }
  return {};
}

Result<StagedFile> StagingWriter::finish() {
  RETURN_IF_ERROR(file_.sync());
  RETURN_IF_ERROR(file_.close());
  return StagedFile(path_, hasher_.finish_hex(), size_);
}

}  // namespace cinevault::ingest
