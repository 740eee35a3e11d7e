#include "store/sql.h"

#include <charconv>
#include <chrono>
#include <limits>

#include "base/assert.h"

namespace dg::store::sql {

std::vector<Result<Rows>> Connection::run_all(std::span<const Statement> statements) {
  std::vector<Result<Rows>> results;
  results.reserve(statements.size());
  for (const Statement& statement : statements) {
    results.push_back(run(statement.sql, statement.params));
    if (!results.back()) break;
  }
  return results;
}

const std::optional<std::string>& Rows::cell(size_t row, uint32_t column) const {
  DG_ASSERT(column < column_count_ && row < size());
  return cells_[row * column_count_ + column];
}

const std::optional<std::string>* RowReader::next() {
  if (!status_.ok()) return nullptr;
  current_ = column_++;
  if (current_ >= rows_.column_count()) {
    fail("is missing");
    return nullptr;
  }
  return &rows_.cell(row_, current_);
}

void RowReader::fail(std::string_view problem) {
  if (!status_.ok()) return;
  status_ = Status(Code::corruption,
                   "database row: column " + std::to_string(current_) + " " + std::string(problem));
}

std::optional<int64_t> RowReader::parse_int64(const std::string& text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    fail("is not an integer");
    return std::nullopt;
  }
  return value;
}

uint32_t RowReader::narrow(int64_t value) {
  if (value < 0 || value > std::numeric_limits<uint32_t>::max()) {
    fail("is out of range");
    return 0;
  }
  return static_cast<uint32_t>(value);
}

int64_t RowReader::int64() {
  const std::optional<std::string>* cell = next();
  if (cell == nullptr) return 0;
  if (!cell->has_value()) {
    fail("is NULL");
    return 0;
  }
  return parse_int64(**cell).value_or(0);
}

std::optional<int64_t> RowReader::optional_int64() {
  const std::optional<std::string>* cell = next();
  if (cell == nullptr || !cell->has_value()) return std::nullopt;
  return parse_int64(**cell);
}

uint32_t RowReader::uint32() {
  return narrow(int64());
}

std::optional<uint32_t> RowReader::optional_uint32() {
  std::optional<int64_t> value = optional_int64();
  if (!value) return std::nullopt;
  return narrow(*value);
}

std::string RowReader::text() {
  const std::optional<std::string>* cell = next();
  if (cell == nullptr) return {};
  if (!cell->has_value()) {
    fail("is NULL");
    return {};
  }
  return **cell;
}

ConnectionPool::Handle::~Handle() {
  if (connection_ != nullptr) pool_->give_back(std::move(connection_));
}

ConnectionPool::ConnectionPool(std::string name, uint32_t size, Factory factory,
                               int64_t wait_ms_max)
    : name_(std::move(name)), size_(size), factory_(std::move(factory)), wait_ms_max_(wait_ms_max) {
  DG_ASSERT(size_ > 0);
}

Result<ConnectionPool::Handle> ConnectionPool::checkout() {
  std::unique_lock lock(mutex_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms_max_);
  bool ready =
      returned_.wait_until(lock, deadline, [&] { return !idle_.empty() || open_count_ < size_; });
  if (!ready) {
    return error(Code::unavailable, name_ + ": all " + std::to_string(size_) +
                                        " connections busy for " + std::to_string(wait_ms_max_) +
                                        " ms");
  }
  if (!idle_.empty()) {
    std::unique_ptr<Connection> connection = std::move(idle_.back());
    idle_.pop_back();
    return Handle(this, std::move(connection));
  }
  open_count_++;
  lock.unlock();  // connecting can take a network round trip; others may proceed
  return connect_new();
}

Result<ConnectionPool::Handle> ConnectionPool::connect_new() {
  Result<std::unique_ptr<Connection>> connection = factory_();
  if (!connection) {
    std::lock_guard lock(mutex_);
    open_count_--;
    returned_.notify_one();
    return error(connection.error().with_context(name_));
  }
  return Handle(this, std::move(*connection));
}

void ConnectionPool::give_back(std::unique_ptr<Connection> connection) {
  // Decided outside the lock: reusable() may talk to the database library.
  bool keep = connection->reusable();
  if (!keep) connection.reset();  // closed here; the next checkout opens a new one
  std::lock_guard lock(mutex_);
  if (keep) {
    idle_.push_back(std::move(connection));
  } else {
    open_count_--;
  }
  returned_.notify_one();
}

}  // namespace dg::store::sql
