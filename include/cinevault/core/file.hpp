// A POSIX file descriptor with one owner, and the durability helpers built on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "cinevault/core/result.hpp"

namespace cinevault {

class File {
 public:
  File() = default;
  explicit File(int fd) : fd_(fd) {}
  File(File&& other) noexcept : fd_(other.release()) {}
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  static Result<File> open_read(const std::filesystem::path& path);
  // Creates a new file (O_EXCL), mode 0600 unless given.
  static Result<File> create_new(const std::filesystem::path& path, int mode = 0600);
  // Opens an existing file for writing (no truncation).
  static Result<File> open_write(const std::filesystem::path& path);

  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

  Result<void> write_all(const void* data, std::size_t size);
  Result<void> pwrite_all(const void* data, std::size_t size, std::uint64_t offset);
  Result<std::size_t> read_some(void* data, std::size_t size);
  Result<std::size_t> pread_some(void* data, std::size_t size, std::uint64_t offset) const;
  Result<void> sync();  // fdatasync is not enough after size changes: fsync
  Result<void> truncate(std::uint64_t size);
  Result<std::uint64_t> size() const;
  Result<void> close();  // reports the error close(2) may return

 private:
  int fd_ = -1;
};

// Keeps a long sequential write (an upload) from piling up in the page cache. Each full
// chunk is handed to the disk as soon as it is written; once more than kMaxInFlight bytes
// are on their way, the writer should stop taking data and call wait(), which returns when
// all but the newest chunk are written. The write then goes at the disk's pace and holds
// little dirty memory; without it, an upload faster than the disk fills the page cache up
// to the kernel's dirty limit, and then write() itself blocks the event loop's thread.
// The fsync that ends the write still flushes the device's own cache (a VM's virtual disk
// holds what was written until then).
class WritebackPacer {
 public:
  static constexpr std::uint64_t kChunk = 8 << 20;
  static constexpr std::uint64_t kMaxInFlight = 2 * kChunk;

  // `start`: where the writes begin (a resumed upload's offset).
  explicit WritebackPacer(std::uint64_t start = 0) : started_(start), waited_(start) {}
  // The file's bytes before `end` have been written.
  void wrote(int fd, std::uint64_t end);
  bool should_wait() const { return started_ - waited_ > kMaxInFlight; }
  // Blocks until the oldest chunks are written: not for an event loop's thread.
  Result<void> wait(int fd);
  int waits() const { return waits_; }
  double waited_s() const { return waited_s_; }

 private:
  std::uint64_t started_;  // the disk was asked to write the bytes before this
  std::uint64_t waited_;   // the bytes before this are written
  int waits_ = 0;
  double waited_s_ = 0;
};

// fsync a directory so that a rename or unlink in it is durable.
Result<void> fsync_directory(const std::filesystem::path& dir);

// Writes bytes to `path` atomically: temp file in the same directory, fsync, rename, fsync dir.
Result<void> write_file_atomically(const std::filesystem::path& path, std::string_view bytes, int mode = 0600);

Result<std::string> read_small_file(const std::filesystem::path& path, std::size_t max_size);

std::string errno_message(const std::string& what, int error_number);

}  // namespace cinevault
