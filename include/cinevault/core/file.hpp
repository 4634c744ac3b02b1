// A POSIX file descriptor with one owner, and the durability helpers built on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <future>
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
  // Creates a new file (O_EXCL), mode 0600 unless given, open for writing and reading back.
  static Result<File> create_new(const std::filesystem::path& path, int mode = 0600);
  // Opens an existing file for writing and reading back (no truncation).
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

// Keeps a long sequential write (an upload) from piling up ahead of the disk.
// - Each full chunk is handed to the disk as soon as it is written. Once more than
//   kMaxInFlight bytes are on their way, the writer should stop taking data and call
//   wait(), which returns when all but the newest chunk are written. The write goes at the
//   disk's pace and holds little dirty memory; without it, an upload faster than the disk
//   fills the page cache up to the kernel's dirty limit, where write() itself blocks the
//   event loop's thread.
// - Written is not yet flushed: a drive's write cache, or the host's cache under a VM's
//   virtual disk, keeps it until a flush. So every kFlushEvery bytes an fdatasync runs on
//   a thread of its own while the writer goes on, and the fsync that ends the write has
//   little left (on the development VM: 0.02 s instead of 0.4-0.9 s after 690 MB).
//   finish() waits for it and reports its error: a write error is reported to one of the
//   fsyncs only.
class WritebackPacer {
 public:
  static constexpr std::uint64_t kChunk = 8 << 20;
  static constexpr std::uint64_t kMaxInFlight = 2 * kChunk;
  static constexpr std::uint64_t kFlushEvery = 64 << 20;

  // `start`: where the writes begin (a resumed upload's offset).
  explicit WritebackPacer(std::uint64_t start = 0) : started_(start), waited_(start), flushed_(start) {}
  // The file's bytes before `end` have been written.
  void wrote(int fd, std::uint64_t end);
  bool should_wait() const { return started_ - waited_ > kMaxInFlight; }
  // Blocks until the oldest chunks are written: not for an event loop's thread.
  Result<void> wait(int fd);
  // Blocks until the background flush is done; its error, if it failed. Before the final fsync.
  Result<void> finish();
  int waits() const { return waits_; }
  double waited_s() const { return waited_s_; }
  int flushes() const { return flushes_; }

 private:
  void start_flush(int fd);
  void collect_flush();  // waits for the last flush, keeps its error

  std::uint64_t started_;  // the disk was asked to write the bytes before this
  std::uint64_t waited_;   // the bytes before this are written
  std::uint64_t flushed_;  // a flush was started for the bytes before this
  std::future<int> flush_;  // the running flush's errno (0: flushed); invalid when none
  int flush_error_ = 0;     // of a flush that failed
  int waits_ = 0;
  double waited_s_ = 0;
  int flushes_ = 0;
};

// fsync a directory so that a rename or unlink in it is durable.
Result<void> fsync_directory(const std::filesystem::path& dir);

// Writes bytes to `path` atomically: temp file in the same directory, fsync, rename, fsync dir.
Result<void> write_file_atomically(const std::filesystem::path& path, std::string_view bytes, int mode = 0600);

Result<std::string> read_small_file(const std::filesystem::path& path, std::size_t max_size);

std::string errno_message(const std::string& what, int error_number);

}  // namespace cinevault
