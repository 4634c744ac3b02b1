#include "cinevault/db/sqlite.hpp"

#include <sqlite3.h>

namespace cinevault::db {

void SqliteCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
void StatementFinalizer::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

Statement& Statement::bind(int index, std::int64_t value) {
  bind_failed_ |= sqlite3_bind_int64(stmt_.get(), index, value) != SQLITE_OK;
  return *this;
}
Statement& Statement::bind(int index, double value) {
  bind_failed_ |= sqlite3_bind_double(stmt_.get(), index, value) != SQLITE_OK;
  return *this;
}
Statement& Statement::bind(int index, std::string_view value) {
  bind_failed_ |= sqlite3_bind_text64(stmt_.get(), index, value.data(), value.size(), SQLITE_TRANSIENT,
                                      SQLITE_UTF8) != SQLITE_OK;
  return *this;
}
Statement& Statement::bind_null(int index) {
  bind_failed_ |= sqlite3_bind_null(stmt_.get(), index) != SQLITE_OK;
  return *this;
}

Result<bool> Statement::step() {
  if (bind_failed_) return fail(ErrorCode::database, "binding a parameter failed");
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_.get());
  ErrorCode code = (rc & 0xff) == SQLITE_CONSTRAINT ? ErrorCode::conflict : ErrorCode::database;
  return fail(code, std::string("sqlite: ") + sqlite3_errmsg(db));
}

Result<void> Statement::run() {
  TRY(bool row, step());
  (void)row;
  return {};
}

Result<void> Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
  return {};
}

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL; }
std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_.get(), column); }
double Statement::real(int column) const { return sqlite3_column_double(stmt_.get(), column); }
std::string Statement::text(int column) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), column));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column))) : std::string();
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

Result<Statement> Connection::prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK)
    return tl::unexpected(error("prepare '" + std::string(sql.substr(0, 60)) + "'"));
  return Statement(StatementPtr(raw));
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
