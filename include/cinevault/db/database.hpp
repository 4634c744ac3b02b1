// The database: one writer connection and a pool of readers over one SQLite file in WAL mode.
//
// Thread safety: write() serialises all writers on one connection, each call one IMMEDIATE
// transaction; read() lends a reader connection to one thread at a time. Both may be called
// from any thread, including the transcode workers to come.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"

namespace cinevault::db {

class Database {
 public:
  // Opens or creates the file and brings its schema up to date.
  static Result<std::unique_ptr<Database>> open(const std::filesystem::path& path, int reader_count = 4);

  // Runs fn in one transaction; commits if it returns a value, rolls back on an error.
  template <typename T>
  Result<T> write(const std::function<Result<T>(Connection&)>& fn);
  template <typename F>
  auto write(F&& fn) {
    using R = std::invoke_result_t<F, Connection&>;
    return write<typename R::value_type>(std::function<R(Connection&)>(std::forward<F>(fn)));
  }

  // Runs fn on a reader connection (a consistent snapshot within one statement).
  template <typename F>
  auto read(F&& fn) {
    auto lease = borrow_reader();
    return fn(*lease.connection);
  }

  int schema_version();

  // Changes with every committed write. Whatever was read when it had a value is still
  // true while it has that value: caches check it instead of asking the database again.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Waits until generation() is no longer `seen`, or until `until`; returns it then.
  std::uint64_t wait_for_write(std::uint64_t seen, std::chrono::steady_clock::time_point until);

 private:
  struct ReaderLease {
    Database* owner;
    std::unique_ptr<Connection> connection;
    ReaderLease(Database* o, std::unique_ptr<Connection> c) : owner(o), connection(std::move(c)) {}
    ReaderLease(ReaderLease&&) = default;
    ~ReaderLease();
  };
  Database() = default;
  ReaderLease borrow_reader();
  Result<void> begin();
  Result<void> commit();
  void rollback();

  std::mutex writer_mutex_;
  std::unique_ptr<Connection> writer_;
  std::mutex readers_mutex_;
  std::condition_variable reader_returned_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::atomic<std::uint64_t> generation_{0};
  std::mutex written_mutex_;
  std::condition_variable written_;
};

template <typename T>
Result<T> Database::write(const std::function<Result<T>(Connection&)>& fn) {
  std::lock_guard lock(writer_mutex_);
  RETURN_IF_ERROR(begin());
  Result<T> result = fn(*writer_);
  if (!result) {
    rollback();
    return result;
  }
  RETURN_IF_ERROR(commit());
  generation_.fetch_add(1, std::memory_order_acq_rel);
  { std::lock_guard written(written_mutex_); }  // a waiter is either waiting or sees the new value
  written_.notify_all();
  return result;
}

// Current time in milliseconds since the Unix epoch, as stored in every *_at column.
std::int64_t now_ms();

}  // namespace cinevault::db
