#include "cinevault/db/sqlite.hpp"

#include <sqlite3.h>

#include <utility>

namespace cinevault::db {
namespace {
constexpr std::size_t kMaxCachedStatements = 128;
}

void SqliteCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
void StatementFinalizer::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

Statement::Statement(Statement&& other) noexcept
    : owned_(std::move(other.owned_)),
      cached_(std::exchange(other.cached_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      bind_failed_(other.bind_failed_) {}

Statement::~Statement() {
  if (cached_ == nullptr) return;
  // Reset ends the statement's read of the database: a lent statement left mid-way would
  // keep its connection on an old snapshot.
  (void)reset();
  cached_->in_use = false;
}

Statement& Statement::bind(int index, std::int64_t value) {
  bind_failed_ |= sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK;
  return *this;
}
Statement& Statement::bind(int index, double value) {
  bind_failed_ |= sqlite3_bind_double(stmt_, index, value) != SQLITE_OK;
  return *this;
}
Statement& Statement::bind(int index, std::string_view value) {
  bind_failed_ |= sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                                      SQLITE_UTF8) != SQLITE_OK;
  return *this;
}
Statement& Statement::bind_null(int index) {
  bind_failed_ |= sqlite3_bind_null(stmt_, index) != SQLITE_OK;
  return *this;
}

Result<bool> Statement::step() {
  if (bind_failed_) return fail(ErrorCode::database, "binding a parameter failed");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_);
  ErrorCode code = (rc & 0xff) == SQLITE_CONSTRAINT ? ErrorCode::conflict : ErrorCode::database;
  return fail(code, std::string("sqlite: ") + sqlite3_errmsg(db));
}

Result<void> Statement::run() {
  TRY(bool row, step());
  (void)row;
  return {};
}

Result<void> Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  return {};
}

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }
std::string Statement::text(int column) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
}
std::optional<std::string> Statement::optional_text(int column) const {
  if (is_null(column)) return std::nullopt;
  return text(column);
}
std::optional<std::int64_t> Statement::optional_int64(int column) const {
  if (is_null(column)) return std::nullopt;
  return int64(column);
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, bool read_only) {
  sqlite3* raw = nullptr;
  int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  SqlitePtr db(raw);
  if (rc != SQLITE_OK)
    return fail(ErrorCode::database, "open database " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
  std::unique_ptr<Connection> connection(new Connection(std::move(db)));
  sqlite3_busy_timeout(connection->db_.get(), 5000);
  // synchronous=FULL: an acknowledged upload must survive a power cut, not only a crash.
  std::string pragmas = "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;";
  if (!read_only) pragmas = "PRAGMA journal_mode=WAL; " + pragmas;
  RETURN_IF_ERROR(connection->exec(pragmas));
  return connection;
}

Result<StatementPtr> Connection::compile(std::string_view sql, unsigned flags) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), flags, &raw, nullptr) != SQLITE_OK)
    return tl::unexpected(error("prepare '" + std::string(sql.substr(0, 60)) + "'"));
  return StatementPtr(raw);
}

Result<Statement> Connection::prepare(std::string_view sql) {
  if (auto found = statements_.find(sql); found != statements_.end()) {
    if (!found->second->in_use) return Statement(*found->second);
    TRY(auto stmt, compile(sql, 0));  // the same query nested in itself: a second copy
    return Statement(std::move(stmt));
  }
  if (statements_.size() >= kMaxCachedStatements) {
    TRY(auto stmt, compile(sql, 0));
    return Statement(std::move(stmt));
  }
  TRY(auto stmt, compile(sql, SQLITE_PREPARE_PERSISTENT));
  auto cached = std::make_unique<CachedStatement>();
  cached->stmt = std::move(stmt);
  CachedStatement& entry = *cached;
  statements_.emplace(std::string(sql), std::move(cached));
  return Statement(entry);
}

Result<void> Connection::exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    return fail(ErrorCode::database, "sqlite: " + text);
  }
  return {};
}

std::int64_t Connection::changes() const { return sqlite3_changes64(db_.get()); }

Error Connection::error(const std::string& what) const {
  return Error{ErrorCode::database, what + ": " + sqlite3_errmsg(db_.get())};
}

}  // namespace cinevault::db
