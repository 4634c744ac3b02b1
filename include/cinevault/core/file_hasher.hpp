// The SHA-256 of a file that is being written, computed on its own thread as the bytes land.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

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

  // Goes on from `hasher`, which has hashed the file's bytes before `start`.
  explicit FileHasher(int fd, std::uint64_t start = 0, Hasher hasher = Hasher(HashAlgorithm::sha256));
  FileHasher(FileHasher&&) noexcept;
  FileHasher& operator=(FileHasher&&) = delete;
  ~FileHasher();

  // The file's bytes before `end` are written.
  void wrote(std::uint64_t end);
  // Waits until every byte before the last `end` is hashed; the running hash, to finish or go
  // on with.
  Result<Hasher> finish();
  // Stops the thread without finishing (the upload failed); before the descriptor is closed.
  void abandon();

 private:
  struct State;
  static void hash_in_background(State& state);
  std::unique_ptr<State> state_;
};

}  // namespace cinevault
