#include "cinevault/ingest/staging.hpp"

#include <spdlog/spdlog.h>

namespace cinevault::ingest {

StagedFile::~StagedFile() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove(path_, ec);  // gone already when the store renamed it: fine
}

Result<void> StagedFile::durable() {
  if (!sync_.valid()) return {};
  return sync_.get();
}

Result<StagingWriter> StagingWriter::create(const std::filesystem::path& dir, std::uint64_t max_bytes) {
  auto path = dir / ("upload-" + random_hex(8));
  TRY(File file, File::create_new(path, 0600));
  return StagingWriter(std::move(path), std::move(file), max_bytes);
}

StagingWriter::~StagingWriter() {
  if (file_.is_open()) {
    hasher_.abandon();
    file_.close();
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
}

Result<void> StagingWriter::write(const char* data, std::size_t size) {
  if (size_ + size > max_bytes_)
    return fail(ErrorCode::too_large, "the upload is larger than the limit of " + std::to_string(max_bytes_) + " bytes");
  RETURN_IF_ERROR(file_.write_all(data, size));
  size_ += size;
  pacer_.wrote(file_.fd(), size_);
  hasher_.wrote(size_);
  return {};
}

void log_disk_waits(const WritebackPacer& pacer, std::uint64_t bytes) {
  if (pacer.waits() == 0) return;
  spdlog::info("upload: {} bytes; reading paused {} times ({:.1f} s in all) for the disk to catch up, "
               "{} flushes on the way",
               bytes, pacer.waits(), pacer.waited_s(), pacer.flushes());
}

Result<StagedFile> StagingWriter::finish() {
  log_disk_waits(pacer_, size_);
  TRY(std::vector<Hasher> hashed, hasher_.finish());
  // Probing only reads the page cache: it need not wait for the fsync (which can take a
  // second when the device flushes a large cache). Deferred (run by durable()) if no
  // thread can be started.
  auto sync = std::async(std::launch::async | std::launch::deferred,
                         [file = std::move(file_), pacer = std::move(pacer_)]() mutable {
                           return pacer.finish().and_then([&] { return file.sync(); }).and_then([&] {
                             return file.close();
                           });
                         });
  return StagedFile(path_, hashed.front().finish_hex(), size_, std::move(sync));
}

}  // namespace cinevault::ingest
