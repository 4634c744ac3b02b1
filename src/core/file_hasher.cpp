#include "cinevault/core/file_hasher.hpp"

#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>

#include <spdlog/spdlog.h>

namespace cinevault {

struct FileHasher::State {
  State(int fd, std::uint64_t start, std::vector<Hasher> hashers)
      : fd(fd), start(start), hashers(std::move(hashers)), written(start), hashed(start) {}
  const int fd;
  const std::uint64_t start;
  std::vector<Hasher> hashers;
  std::vector<char> buffer;

  std::mutex mutex;
  std::condition_variable changed;
  std::uint64_t written;  // guarded by mutex
  std::uint64_t hashed;   // guarded by mutex once the thread runs
  bool finishing = false;     // guarded by mutex: hash up to `written`, then end
  bool abandoned = false;     // guarded by mutex: end now, the hash will not be asked for
  std::string error;          // guarded by mutex: the read that failed, if one did
  bool no_thread = false;     // none could be started: finish() hashes it all
  std::thread thread;

  // Hashes [from, end) by reading the file back. Only the thread that owns `hashed` calls it.
  Result<void> hash_up_to(std::uint64_t from, std::uint64_t end, std::uint64_t& done) {
    if (buffer.empty()) buffer.resize(kBlock);
    Result<void> hashed = hash_file_range(fd, from, end, hashers, buffer, done);
    if (!hashed) return fail(ErrorCode::io, "reading back the upload to hash it: " + hashed.error().message);
    return {};
  }
};

FileHasher::FileHasher(int fd) : FileHasher(fd, 0, {}) {
  state_->hashers.emplace_back(HashAlgorithm::sha256);
}
FileHasher::FileHasher(int fd, std::uint64_t start, std::vector<Hasher> hashers)
    : state_(std::make_unique<State>(fd, start, std::move(hashers))) {}
FileHasher::FileHasher(FileHasher&&) noexcept = default;

FileHasher::~FileHasher() { abandon(); }

void FileHasher::abandon() {
  if (!state_ || !state_->thread.joinable()) return;
  {
    std::lock_guard lock(state_->mutex);
    state_->abandoned = true;
  }
  state_->changed.notify_one();
  state_->thread.join();
}

void FileHasher::hash_in_background(State& state) {
  std::unique_lock lock(state.mutex);
  for (;;) {
    // Waits for a whole block, or for the end.
    state.changed.wait(lock, [&] {
      return state.finishing || state.abandoned || state.written - state.hashed >= kBlock;
    });
    if (state.abandoned) return;
    std::uint64_t from = state.hashed;
    std::uint64_t end = state.finishing ? state.written : state.written - (state.written - from) % kBlock;
    if (from == end) return;
    lock.unlock();
    std::uint64_t done = from;
    Result<void> hashed = state.hash_up_to(from, end, done);
    lock.lock();
    state.hashed = done;
    if (!hashed) {
      state.error = hashed.error().message;
      return;
    }
    state.changed.notify_one();
  }
}

void FileHasher::wrote(std::uint64_t end) {
  State& state = *state_;
  if (!state.thread.joinable()) {
    state.written = end;
    if (end - state.start < kThreadFrom || state.no_thread) return;
    try {
      state.thread = std::thread(hash_in_background, std::ref(state));
    } catch (const std::system_error& error) {
      spdlog::warn("upload: no thread to hash on ({}); hashing once the upload is complete", error.what());
      state.no_thread = true;
    }
    return;
  }
  bool wake;
  {
    std::lock_guard lock(state.mutex);
    state.written = end;
    wake = end - state.hashed >= kBlock;  // no system call when the thread is not waiting
  }
  if (wake) state.changed.notify_one();
}

Result<std::vector<Hasher>> FileHasher::finish() {
  State& state = *state_;
  if (state.thread.joinable()) {
    {
      std::lock_guard lock(state.mutex);
      state.finishing = true;
    }
    state.changed.notify_one();
    state.thread.join();
    if (!state.error.empty()) return fail(ErrorCode::io, state.error);
  }
  std::uint64_t done = state.hashed;
  RETURN_IF_ERROR(state.hash_up_to(state.hashed, state.written, done));
  state.hashed = done;
  return std::move(state.hashers);
}

}  // namespace cinevault
