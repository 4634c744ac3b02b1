// The SHA-256 of a file that is being written, computed on its own thread as the bytes land.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cinevault/core/hash.hpp"
#include "cinevault/core/result.hpp"

namespace cinevault {

// An upload's writer receives, writes and hashes on one thread; hashing is about half of that
// work. This hasher reads back what was written (from the page cache) and hashes it on a
// thread of its own, so that the writer only receives and writes. Small writes never start the
// thread: finish() hashes them on the caller's thread.
//
// The writer calls wrote() after each write and finish() once at the end. The descriptor must
// be open for reading, and stay open until finish() or abandon() returns, or this is destroyed.
// Movable; not thread-safe itself.
class FileHasher {
 public:
  // Starts the thread once this many bytes are written past the start.
  static constexpr std::uint64_t kThreadFrom = 8 << 20;
  // The thread reads and hashes this many bytes at a time.
  static constexpr std::size_t kBlock = 1 << 20;

  // The SHA-256 of the whole file.
  explicit FileHasher(int fd);
  // Each of `hashers` takes the file's bytes from `start` on, each going on from what it has
  // taken before (the hash of the bytes before `start`, or of nothing for a digest of this
  // write alone). The bytes are read back once for all of them.
  FileHasher(int fd, std::uint64_t start, std::vector<Hasher> hashers);
  FileHasher(FileHasher&&) noexcept;
  FileHasher& operator=(FileHasher&&) = delete;
  ~FileHasher();

  // The file's bytes before `end` are written.
  void wrote(std::uint64_t end);
  // Waits until every byte before the last `end` is hashed; the hashers, in the order given,
  // to finish or go on with.
  Result<std::vector<Hasher>> finish();
  // Stops the thread without finishing (the upload failed); before the descriptor is closed.
  void abandon();

 private:
  struct State;
  static void hash_in_background(State& state);
  std::unique_ptr<State> state_;
};

}  // namespace cinevault
