#include "cinevault/core/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>
#include <thread>

#include "cinevault/core/hash.hpp"

namespace cinevault {

std::string errno_message(const std::string& what, int error_number) {
  return what + ": " + std::strerror(error_number);
}

namespace {

// A full disk (or quota) is the client's 507, not the server's 500.
Error write_error(const std::string& what, int error_number) {
  bool full = error_number == ENOSPC || error_number == EDQUOT;
  return {full ? ErrorCode::insufficient_storage : ErrorCode::io, errno_message(what, error_number)};
}

}  // namespace

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

Result<File> File::open_read(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(ErrorCode::io, errno_message("open " + path.string(), errno));
  return File(fd);
}

Result<File> File::create_new(const std::filesystem::path& path, int mode) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return fail(ErrorCode::io, errno_message("create " + path.string(), errno));
  return File(fd);
}

Result<File> File::open_write(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return fail(ErrorCode::io, errno_message("open " + path.string(), errno));
  return File(fd);
}

Result<void> File::write_all(const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(write_error("write", errno));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

Result<void> File::pwrite_all(const void* data, std::size_t size, std::uint64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::pwrite(fd_, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(write_error("pwrite", errno));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return {};
}

Result<std::size_t> File::read_some(void* data, std::size_t size) {
  for (;;) {
    ssize_t n = ::read(fd_, data, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) return fail(ErrorCode::io, errno_message("read", errno));
  }
}

Result<std::size_t> File::pread_some(void* data, std::size_t size, std::uint64_t offset) const {
  for (;;) {
    ssize_t n = ::pread(fd_, data, size, static_cast<off_t>(offset));
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) return fail(ErrorCode::io, errno_message("pread", errno));
  }
}

Result<void> File::sync() {
  if (::fsync(fd_) != 0) return tl::unexpected(write_error("fsync", errno));
  return {};
}

void WritebackPacer::wrote(int fd, std::uint64_t end) {
  if (end < started_ + kChunk) return;
  // Errors surface at the flush or the fsync that ends the write.
  (void)::sync_file_range(fd, static_cast<off_t>(started_), static_cast<off_t>(end - started_),
                          SYNC_FILE_RANGE_WRITE);
  started_ = end;
  if (started_ - flushed_ >= kFlushEvery) start_flush(fd);
}

void WritebackPacer::start_flush(int fd) {
  bool running = flush_.valid() && flush_.wait_for(std::chrono::seconds(0)) != std::future_status::ready;
  if (running) return;  // the next one starts when it is done
  collect_flush();
  // The thread flushes through a descriptor of its own, so that nothing it holds can end
  // before it does; detached, so that an abandoned write never waits for the disk.
  File copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!copy.is_open()) return;  // the fsync at the end does it all
  std::promise<int> done;
  flush_ = done.get_future();
  try {
    std::thread([file = std::move(copy), done = std::move(done)]() mutable {
      done.set_value(::fdatasync(file.fd()) == 0 ? 0 : errno);
    }).detach();
  } catch (const std::system_error&) {
    flush_ = {};  // no thread to be had: the fsync at the end does it all
    return;
  }
  flushed_ = started_;
  ++flushes_;
}

Result<void> WritebackPacer::wait(int fd) {
  std::uint64_t until = started_ - kChunk;
  if (until <= waited_) return {};
  auto start = std::chrono::steady_clock::now();
  if (::sync_file_range(fd, static_cast<off_t>(waited_), static_cast<off_t>(until - waited_),
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0)
    return fail(ErrorCode::io, errno_message("sync_file_range", errno));
  waited_ = until;
  ++waits_;
  waited_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {};
}

void WritebackPacer::collect_flush() {
  if (!flush_.valid()) return;
  if (int error = flush_.get(); error != 0 && flush_error_ == 0) flush_error_ = error;
}

Result<void> WritebackPacer::finish() {
  collect_flush();
  if (flush_error_ != 0) return tl::unexpected(write_error("fdatasync", flush_error_));
  return {};
}

Result<void> File::truncate(std::uint64_t size) {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return fail(ErrorCode::io, errno_message("ftruncate", errno));
  return {};
}

Result<std::uint64_t> File::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return fail(ErrorCode::io, errno_message("fstat", errno));
  return static_cast<std::uint64_t>(st.st_size);
}

Result<void> File::close() {
  int fd = release();
  if (fd >= 0 && ::close(fd) != 0) return fail(ErrorCode::io, errno_message("close", errno));
  return {};
}

Result<void> fsync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(ErrorCode::io, errno_message("open directory " + dir.string(), errno));
  File owner(fd);
  return owner.sync();
}

Result<void> write_file_atomically(const std::filesystem::path& path, std::string_view bytes, int mode) {
  auto temp = path;
  temp += ".tmp-" + random_hex(6);
  TRY(File file, File::create_new(temp, mode));
  auto written = file.write_all(bytes.data(), bytes.size())
                     .and_then([&] { return file.sync(); })
                     .and_then([&] { return file.close(); });
  if (!written) {
    std::filesystem::remove(temp);
    return written;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int error_number = errno;
    std::filesystem::remove(temp);
    return fail(ErrorCode::io, errno_message("rename " + temp.string(), error_number));
  }
  return fsync_directory(path.parent_path().empty() ? "." : path.parent_path());
}

Result<std::string> read_small_file(const std::filesystem::path& path, std::size_t max_size) {
  TRY(File file, File::open_read(path));
  std::string out;
  char buffer[4096];
  for (;;) {
    TRY(std::size_t n, file.read_some(buffer, sizeof buffer));
    if (n == 0) break;
    out.append(buffer, n);
    if (out.size() > max_size) return fail(ErrorCode::too_large, path.string() + " is larger than expected");
  }
  return out;
}

}  // namespace cinevault
