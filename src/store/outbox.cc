#include "store/outbox.h"

#include <sqlite3.h>

#include <mutex>

namespace dg::store {
namespace {

class SqliteOutbox final : public Outbox {
 public:
  SqliteOutbox(sqlite3* db, uint32_t depth_max) : db_(db), depth_max_(depth_max) {}
  ~SqliteOutbox() override { sqlite3_close(db_); }

  Status append(const std::string& id, const std::string& body_json) override {
    std::lock_guard lock(mutex_);
    auto count = count_locked();
    if (!count) return count.error();
    if (*count >= depth_max_) {
      return Status(Code::limit_exceeded, "outbox is full (" + std::to_string(depth_max_) + " events)");
    }
    return exec_bound("INSERT OR IGNORE INTO outbox (id, body) VALUES (?1, ?2)", {id, body_json});
  }

  Result<std::vector<OutboxEvent>> peek(uint32_t count_max) override {
    std::lock_guard lock(mutex_);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT seq, id, body FROM outbox ORDER BY seq LIMIT ?1", -1, &stmt, nullptr) !=
        SQLITE_OK) {
      return error(Code::io_error, std::string("outbox: ") + sqlite3_errmsg(db_));
    }
    sqlite3_bind_int64(stmt, 1, count_max);
    std::vector<OutboxEvent> out;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      out.push_back({sqlite3_column_int64(stmt, 0),
                     reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)),
                     reinterpret_cast<const char*>(sqlite3_column_text(stmt, 2))});
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return error(Code::io_error, std::string("outbox: ") + sqlite3_errmsg(db_));
    return out;
  }

  Status acknowledge(int64_t seq) override {
    std::lock_guard lock(mutex_);
    return exec_bound("DELETE FROM outbox WHERE seq <= ?1", {std::to_string(seq)});
  }

  Result<uint32_t> depth() override {
    std::lock_guard lock(mutex_);
    return count_locked();
  }

 private:
  Result<uint32_t> count_locked() {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT COUNT(*) FROM outbox", -1, &stmt, nullptr) != SQLITE_OK) {
      return error(Code::io_error, std::string("outbox: ") + sqlite3_errmsg(db_));
    }
    uint32_t count = 0;
    if (sqlite3_step(stmt) == SQLITE_ROW) count = static_cast<uint32_t>(sqlite3_column_int64(stmt, 0));
    sqlite3_finalize(stmt);
    return count;
  }

  Status exec_bound(const char* sql, const std::vector<std::string>& params) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      return Status(Code::io_error, std::string("outbox: ") + sqlite3_errmsg(db_));
    }
    for (size_t i = 0; i < params.size(); ++i) {
      sqlite3_bind_text(stmt, static_cast<int>(i + 1), params[i].data(), static_cast<int>(params[i].size()),
                        SQLITE_TRANSIENT);
    }
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return Status(Code::io_error, std::string("outbox: ") + sqlite3_errmsg(db_));
    return Status();
  }

  sqlite3* db_;
  uint32_t depth_max_;
  std::mutex mutex_;
};

}  // namespace

Result<std::unique_ptr<Outbox>> open_outbox(const std::string& path, uint32_t depth_max) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return error(Code::io_error, "cannot open outbox " + path + ": " + message);
  }
  const char* setup =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;"
      "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
      " body TEXT NOT NULL) STRICT;";
  char* message = nullptr;
  if (sqlite3_exec(db, setup, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    sqlite3_close(db);
    return error(Code::io_error, "cannot prepare outbox " + path + ": " + text);
  }
  return std::unique_ptr<Outbox>(new SqliteOutbox(db, depth_max));
}

}  // namespace dg::store
