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

// fsync a directory so that a rename or unlink in it is durable.
Result<void> fsync_directory(const std::filesystem::path& dir);

// Writes bytes to `path` atomically: temp file in the same directory, fsync, rename, fsync dir.
Result<void> write_file_atomically(const std::filesystem::path& path, std::string_view bytes, int mode = 0600);

Result<std::string> read_small_file(const std::filesystem::path& path, std::size_t max_size);

std::string errno_message(const std::string& what, int error_number);

}  // namespace cinevault
