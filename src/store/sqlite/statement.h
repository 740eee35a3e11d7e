// Owning and resetting SQLite prepared statements, shared by the SQLite store
// and the edge's outbox.
#pragma once

#include <sqlite3.h>

#include <memory>

namespace dg::store::sqlite {

struct StatementDeleter {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

// Resets a statement when a run ends, however it ends, so the next run of
// the cached statement starts clean and no read transaction stays open.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* statement) : statement_(statement) {}
  ~ResetOnExit() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* statement_;
};

}  // namespace dg::store::sqlite
