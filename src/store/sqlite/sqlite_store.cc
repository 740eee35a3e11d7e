// The SQLite backend: connections for SqlStore and open_sqlite().
//
// One file in WAL mode with synchronous=FULL: a commit returns after the WAL
// is fsynced, so an acknowledged claim survives power loss; readers never
// block the writer or each other. SQLite allows one writer at a time, so
// writes go through one connection (a pool of one is the mutex), and reads
// use a small pool so they do not queue behind a write's fsync.
#include <sqlite3.h>

#include <unordered_map>

#include "base/assert.h"
#include "base/limits.h"
#include "base/time.h"
#include "store/schema.h"
#include "store/sql_store.h"
#include "store/sqlite/statement.h"

namespace dg::store {
namespace {

using sqlite::ResetOnExit;
using sqlite::StatementPtr;

const Dialect& sqlite_dialect() {
  static const Dialect dialect{
      .name = "sqlite",
      // IMMEDIATE takes the write lock at BEGIN: a deferred transaction that
      // read first could fail to upgrade with SQLITE_BUSY halfway through.
      .begin_write = "BEGIN IMMEDIATE",
      .begin_read = "BEGIN",
      .for_update = "",
      .for_share = "",
      .for_update_of_leases = "",
      .next_generation = "SELECT COALESCE(MAX(generation), 0) + 1 FROM sellers",
      .migration_lock = "",  // BEGIN IMMEDIATE already excludes other migrators
      .create_migrations_table =
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
          "name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP) STRICT",
      .migrations_table_exists =
          "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
      .migrations = sqlite_migrations(),
  };
  return dialect;
}

Code classify(int extended_code) {
  switch (extended_code) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return Code::conflict;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return Code::not_found;
  }
  switch (extended_code & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
      return Code::invalid_argument;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_INTERRUPT:
      return Code::unavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Code::corruption;
  }
  return Code::io_error;
}

// `$1` → `?1`: SQLite binds `?NNN` by number, exactly as PostgreSQL binds `$NNN`.
std::string to_sqlite_placeholders(std::string_view sql) {
  std::string out(sql);
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] == '$' && out[i + 1] >= '0' && out[i + 1] <= '9') out[i] = '?';
  }
  return out;
}

class SqliteConnection final : public sql::Connection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override {
    statements_.clear();  // finalized before the close below
    sqlite3_close(db_);
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Result<sql::Rows> run(std::string_view sql, std::span<const sql::Value> params) override;
  Status exec(std::string_view script) override;
  bool reusable() override { return sqlite3_get_autocommit(db_) != 0; }

 private:
  Status failure(int code, std::string_view what) const {
    return Status(classify(code), std::string(what) + ": " + sqlite3_errmsg(db_));
  }
  Result<sqlite3_stmt*> prepare(std::string_view sql);
  Status bind(sqlite3_stmt* statement, std::span<const sql::Value> params);
  Status step_all(sqlite3_stmt* statement, sql::Rows* rows);

  sqlite3* db_;
  std::unordered_map<std::string, StatementPtr, sql::TextHash, std::equal_to<>> statements_;
};

Result<sqlite3_stmt*> SqliteConnection::prepare(std::string_view sql) {
  auto found = statements_.find(sql);
  if (found != statements_.end()) return found->second.get();
  if (statements_.size() >= limits::prepared_statements_max) statements_.clear();
  std::string text = to_sqlite_placeholders(sql);
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_, text.c_str(), static_cast<int>(text.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  StatementPtr statement(raw);
  if (rc != SQLITE_OK) return error(failure(rc, "preparing \"" + text + "\""));
  DG_ASSERT(statement != nullptr);  // our statements are never empty text
  sqlite3_stmt* result = statement.get();
  statements_.emplace(std::string(sql), std::move(statement));
  return result;
}

Status SqliteConnection::bind(sqlite3_stmt* statement, std::span<const sql::Value> params) {
  // Our SQL and its parameters are written together: a mismatch is our bug.
  DG_ASSERT(sqlite3_bind_parameter_count(statement) == static_cast<int>(params.size()));
  for (size_t i = 0; i < params.size(); ++i) {
    int index = static_cast<int>(i + 1);
    int rc = SQLITE_OK;
    if (std::holds_alternative<int64_t>(params[i])) {
      rc = sqlite3_bind_int64(statement, index, std::get<int64_t>(params[i]));
    } else if (std::holds_alternative<std::string_view>(params[i])) {
      std::string_view text = std::get<std::string_view>(params[i]);
      // A null data pointer would bind NULL; an empty string is not NULL.
      rc = sqlite3_bind_text64(statement, index, text.empty() ? "" : text.data(), text.size(),
                               SQLITE_STATIC, SQLITE_UTF8);
    } else {
      rc = sqlite3_bind_null(statement, index);
    }
    if (rc != SQLITE_OK) return failure(rc, "binding parameter " + std::to_string(index));
  }
  return Status();
}

Status SqliteConnection::step_all(sqlite3_stmt* statement, sql::Rows* rows) {
  const uint32_t columns = rows->column_count();
  for (;;) {
    int rc = sqlite3_step(statement);
    if (rc == SQLITE_DONE) return Status();
    if (rc != SQLITE_ROW) return failure(rc, "running a statement");
    for (uint32_t column = 0; column < columns; ++column) {
      int index = static_cast<int>(column);
      if (sqlite3_column_type(statement, index) == SQLITE_NULL) {
        rows->add_cell(std::nullopt);
        continue;
      }
      // column_text first, then column_bytes: the documented safe order.
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, index));
      int size = sqlite3_column_bytes(statement, index);
      rows->add_cell(std::string(text == nullptr ? "" : text, static_cast<size_t>(size)));
    }
  }
}

Result<sql::Rows> SqliteConnection::run(std::string_view sql, std::span<const sql::Value> params) {
  Result<sqlite3_stmt*> statement = prepare(sql);
  if (!statement) return error(statement.error());
  ResetOnExit reset(*statement);
  DG_RETURN_IF_ERROR_RESULT(bind(*statement, params));
  sql::Rows rows(static_cast<uint32_t>(sqlite3_column_count(*statement)));
  DG_RETURN_IF_ERROR_RESULT(step_all(*statement, &rows));
  // sqlite3_changes() keeps the count of the last INSERT/UPDATE/DELETE, so a
  // SELECT must not report it.
  if (!sqlite3_stmt_readonly(*statement)) {
    rows.set_affected_rows(static_cast<uint64_t>(sqlite3_changes64(db_)));
  }
  return rows;
}

Status SqliteConnection::exec(std::string_view script) {
  std::string text(script);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return failure(rc, "running \"" + text.substr(0, 60) + "\"");
  return Status();
}

enum class Role { writer, reader };

Result<std::unique_ptr<sql::Connection>> open_connection(const std::string& path, Role role) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (role == Role::writer) flags |= SQLITE_OPEN_CREATE;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  // The handle is owned from here on: SQLite wants it closed even after a failed open.
  auto connection = std::make_unique<SqliteConnection>(db);
  if (rc != SQLITE_OK) {
    return error(Code::io_error,
                 "opening " + path + ": " + (db == nullptr ? "out of memory" : sqlite3_errmsg(db)));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(to_ms(limits::lock_wait_max)));
  std::string_view pragmas = role == Role::writer
                                 ? "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"
                                 : "PRAGMA foreign_keys = ON; PRAGMA query_only = ON;";
  DG_RETURN_IF_ERROR_RESULT(connection->exec(pragmas).with_context(path));
  if (role == Role::writer) {
    // journal_mode answers with the mode in force: anything but "wal" (e.g.
    // "memory" for ":memory:") means the durability promises do not hold.
    Result<sql::Rows> mode = connection->query("PRAGMA journal_mode = WAL");
    if (!mode) return error(mode.error().with_context(path));
    if (mode->empty() || mode->cell(0, 0) != std::optional<std::string>("wal")) {
      return error(Code::invalid_argument, path + ": SQLite cannot use WAL mode for this file");
    }
  }
  return std::unique_ptr<sql::Connection>(std::move(connection));
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite(const std::string& path, uint32_t read_connections) {
  if (path.empty()) return error(Code::invalid_argument, "the SQLite store needs a file path");
  if (read_connections > limits::store_connections_max) {
    return error(Code::invalid_argument,
                 "at most " + std::to_string(limits::store_connections_max) + " read connections");
  }
  auto writer = std::make_unique<sql::ConnectionPool>(
      "sqlite writer", 1, [path] { return open_connection(path, Role::writer); },
      to_ms(limits::connection_wait_max));
  // Open the writer now: it creates the file and turns WAL on before any
  // reader opens it, and a bad path fails here rather than on first use.
  {
    Result<sql::ConnectionPool::Handle> first = writer->checkout();
    if (!first) return error(first.error());
  }
  std::unique_ptr<sql::ConnectionPool> readers;
  if (read_connections > 0) {
    readers = std::make_unique<sql::ConnectionPool>(
        "sqlite readers", read_connections, [path] { return open_connection(path, Role::reader); },
        to_ms(limits::connection_wait_max));
  }
  return std::unique_ptr<Store>(
      std::make_unique<SqlStore>(sqlite_dialect(), std::move(writer), std::move(readers)));
}

}  // namespace dg::store
