#include "cinevault/db/database.hpp"

#include <chrono>

#include "cinevault/db/migrations.hpp"

namespace cinevault::db {

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Result<std::unique_ptr<Database>> Database::open(const std::filesystem::path& path, int reader_count) {
  std::unique_ptr<Database> database(new Database());
  TRY(database->writer_, Connection::open(path.string(), false));
  RETURN_IF_ERROR(migrate(*database->writer_));
  for (int i = 0; i < reader_count; ++i) {
    TRY(auto reader, Connection::open(path.string(), true));
    database->readers_.push_back(std::move(reader));
  }
  return database;
}

Database::ReaderLease::~ReaderLease() {
  if (!connection) return;
  std::lock_guard lock(owner->readers_mutex_);
  owner->readers_.push_back(std::move(connection));
  owner->reader_returned_.notify_one();
}

Database::ReaderLease Database::borrow_reader() {
  std::unique_lock lock(readers_mutex_);
  reader_returned_.wait(lock, [&] { return !readers_.empty(); });
  auto connection = std::move(readers_.back());
  readers_.pop_back();
  return ReaderLease(this, std::move(connection));
}

Result<void> Database::begin() { return writer_->exec("BEGIN IMMEDIATE"); }

std::uint64_t Database::wait_for_write(std::uint64_t seen, std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(written_mutex_);
  written_.wait_until(lock, until, [&] { return generation() != seen; });
  return generation();
}

Result<void> Database::commit() {
  auto committed = writer_->exec("COMMIT");
  if (!committed) rollback();
  return committed;
}
void Database::rollback() { (void)writer_->exec("ROLLBACK"); }

int Database::schema_version() {
  std::lock_guard lock(writer_mutex_);
  return current_schema_version(*writer_).value_or(-1);
}

}  // namespace cinevault::db
