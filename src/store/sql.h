// The small SQL surface both backends implement, so that the store's logic
// (sql_store*.cc) is written once and means the same on SQLite and PostgreSQL.
// Private to src/store: nothing outside the store includes this.
//
// Statements use PostgreSQL's `$1`…`$n` placeholders; the SQLite driver
// rewrites them to `?1`…`?n`, which SQLite binds by the same numbers.
// Parameters are always bound, never interpolated into the text.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"

namespace dg::store::sql {

// Hashes SQL text for maps of prepared statements keyed by it: with
// std::equal_to<>, a lookup by string_view copies no text.
struct TextHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

// A bound parameter. Text is borrowed and must outlive the call.
using Value = std::variant<std::nullptr_t, int64_t, std::string_view>;

inline Value nullable(const std::optional<int64_t>& value) {
  return value ? Value(*value) : Value(nullptr);
}

// The rows of one statement, materialised as text (NULL: nullopt), plus the
// number of rows it changed.
class Rows {
 public:
  explicit Rows(uint32_t column_count = 0) : column_count_(column_count) {}

  size_t size() const { return column_count_ == 0 ? 0 : cells_.size() / column_count_; }
  bool empty() const { return size() == 0; }
  uint32_t column_count() const { return column_count_; }
  const std::optional<std::string>& cell(size_t row, uint32_t column) const;
  uint64_t affected_rows() const { return affected_rows_; }

  void reserve(size_t rows) { cells_.reserve(rows * column_count_); }
  void add_cell(std::optional<std::string> cell) { cells_.push_back(std::move(cell)); }
  void set_affected_rows(uint64_t count) { affected_rows_ = count; }

 private:
  uint32_t column_count_;
  std::vector<std::optional<std::string>> cells_;  // row-major
  uint64_t affected_rows_ = 0;
};

// Reads one row column by column. Database rows are untrusted input (another
// process, an operator with psql, a damaged file): a cell of the wrong shape
// makes status() corruption instead of crashing or being used.
class RowReader {
 public:
  RowReader(const Rows& rows, size_t row) : rows_(rows), row_(row) {}

  int64_t int64();
  uint32_t uint32();  // 0..UINT32_MAX
  std::optional<int64_t> optional_int64();
  std::optional<uint32_t> optional_uint32();
  std::string text();
  // The first problem met, naming the column by its position.
  const Status& status() const { return status_; }

 private:
  const std::optional<std::string>* next();
  std::optional<int64_t> parse_int64(const std::string& text);
  uint32_t narrow(int64_t value);
  void fail(std::string_view problem);

  const Rows& rows_;
  size_t row_;
  uint32_t column_ = 0;   // the next column to read
  uint32_t current_ = 0;  // the column last read, named in errors
  Status status_;
};

// A statement and its parameters, for Connection::run_all. Borrowed: both
// must outlive the call.
struct Statement {
  std::string_view sql;
  std::span<const Value> params;
};

// One database connection, used by one thread at a time (the pool sees to it).
class Connection {
 public:
  virtual ~Connection() = default;

  // Runs one statement. Errors are classified the same way on both backends:
  // unique violation → conflict, foreign key → not_found, check/not-null/bad
  // data → invalid_argument, busy/lock timeout/deadlock/lost connection →
  // unavailable, damaged database → corruption, anything else → io_error.
  Result<Rows> query(std::string_view sql, std::initializer_list<Value> params = {}) {
    return run(sql, std::span<const Value>(params.begin(), params.size()));
  }
  virtual Result<Rows> run(std::string_view sql, std::span<const Value> params) = 0;
  // Runs `statements` in order, as run() would, and returns their results up
  // to and including the first failure; the statements after it do not run.
  // PostgreSQL sends them all before reading any answer (pipeline mode: one
  // round trip instead of one per statement), so their answers must be small
  // (a few rows each: the server must not block writing them while this
  // side is still sending). This default runs them one by one.
  virtual std::vector<Result<Rows>> run_all(std::span<const Statement> statements);
  // Runs a script of statements without parameters (migrations, BEGIN, COMMIT).
  virtual Status exec(std::string_view script) = 0;
  // False when the connection must not go back to the pool: it is broken or
  // still inside a transaction that could not be ended.
  virtual bool reusable() = 0;
};

// A fixed number of connections, made on first need and remade after one
// stops being reusable ("reconnect on next checkout"). checkout() blocks for
// at most `wait_ms_max`, then returns unavailable.
class ConnectionPool {
 public:
  using Factory = std::function<Result<std::unique_ptr<Connection>>()>;

  // A checked-out connection; goes back to the pool (or is dropped, if not
  // reusable) when destroyed.
  class Handle {
   public:
    Handle(ConnectionPool* pool, std::unique_ptr<Connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    Handle(Handle&& other) noexcept = default;
    Handle& operator=(Handle&&) = delete;
    ~Handle();
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  ConnectionPool(std::string name, uint32_t size, Factory factory, int64_t wait_ms_max);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  Result<Handle> checkout();
  uint32_t size() const { return size_; }

 private:
  void give_back(std::unique_ptr<Connection> connection);
  Result<Handle> connect_new();

  const std::string name_;
  const uint32_t size_;
  const Factory factory_;
  const int64_t wait_ms_max_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
  uint32_t open_count_ = 0;                        // idle + checked out + connecting
};

}  // namespace dg::store::sql
