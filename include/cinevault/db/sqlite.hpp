// Thin RAII layer over sqlite3: one owner per handle, errors as Result.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cinevault/core/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace cinevault::db {

struct SqliteCloser {
  void operator()(sqlite3* db) const;
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const;
};
using SqlitePtr = std::unique_ptr<sqlite3, SqliteCloser>;
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// A statement a connection keeps prepared for the next call with the same SQL.
struct CachedStatement {
  StatementPtr stmt;
  bool in_use = false;  // lent to a Statement
};

// A prepared statement, owned or lent by its connection's cache (then reset and given back
// when it goes). bind() indexes start at 1, column() indexes at 0, as in SQLite.
class Statement {
 public:
  explicit Statement(StatementPtr stmt) : owned_(std::move(stmt)), stmt_(owned_.get()) {}
  explicit Statement(CachedStatement& cached) : cached_(&cached), stmt_(cached.stmt.get()) { cached.in_use = true; }
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind_null(int index);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }

  // Advances one row: true when a row is available, false when done.
  Result<bool> step();
  // Runs a statement that returns no rows.
  Result<void> run();
  // Makes the statement ready to run again with new bindings.
  Result<void> reset();

  bool is_null(int column) const;
  std::int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  std::optional<std::string> optional_text(int column) const;
  std::optional<std::int64_t> optional_int64(int column) const;

 private:
  StatementPtr owned_;
  CachedStatement* cached_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  bool bind_failed_ = false;
};

class Connection {
 public:
  // Opens (creating if needed) with WAL, foreign keys and a busy timeout set.
  static Result<std::unique_ptr<Connection>> open(const std::string& path, bool read_only);

  // Prepares sql, or lends the statement prepared for the same text before: parsing and
  // planning a query costs more than running most of ours.
  Result<Statement> prepare(std::string_view sql);
  Result<void> exec(const std::string& sql);  // several statements, no results
  std::int64_t changes() const;
  Error error(const std::string& what) const;

 private:
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
  };
  explicit Connection(SqlitePtr db) : db_(std::move(db)) {}
  Result<StatementPtr> compile(std::string_view sql, unsigned flags);

  SqlitePtr db_;
  // Declared after db_: finalized before the connection closes. Bounded, since a few
  // queries are built from their input (search words).
  std::unordered_map<std::string, std::unique_ptr<CachedStatement>, SqlHash, std::equal_to<>> statements_;
};

}  // namespace cinevault::db
