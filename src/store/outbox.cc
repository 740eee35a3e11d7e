#include "store/outbox.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <mutex>
#include <thread>
#include <utility>

#include "base/log.h"
#include "store/sqlite/statement.h"

namespace dg::store {
namespace {

using sqlite::ResetOnExit;
using sqlite::StatementPtr;

// A batch is one transaction. The cap bounds how long the writer holds the
// connection (peek and acknowledge wait for it) when a backlog built up.
constexpr size_t kBatchEventsMax = 4096;
// Commits are at least this far apart (unless a flush() waits): each costs
// an fsync, and at tens of thousands of downloads a second committing as
// often as the disk allows made the fsyncs alone cost a fifth of a core.
constexpr std::chrono::milliseconds kCommitIntervalMin{10};
// The pause between attempts while writing fails, so a full or broken disk is
// not hammered in a loop; a shutdown cuts it short.
constexpr std::chrono::milliseconds kWriteRetryBackoff{1000};


struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

// The one connection and its cached statements. The statements are declared
// after the connection so they are finalized before it closes.
struct Connection {
  DbPtr db;
  StatementPtr insert;  // ?1 id, ?2 body
  StatementPtr peek;    // ?1 count_max
  StatementPtr remove;  // ?1 seq
};


Status sqlite_failure(sqlite3* db, std::string_view doing) {
  return Status(Code::io_error, "outbox: " + std::string(doing) + ": " + sqlite3_errmsg(db));
}

struct PendingEvent {
  std::string id;
  std::string body_json;
};

// Two locks. `mutex_` guards the queue and the counters and is only ever held
// for a few instructions, so append() on an I/O thread never waits for the
// disk. `db_mutex_` guards the connection, which is opened with
// SQLITE_OPEN_NOMUTEX: our lock already serializes every use, and it has to
// cover a whole transaction anyway (a writer's BEGIN…COMMIT must not have an
// acknowledge() step inside it). Lock order: db_mutex_, then mutex_.
class SqliteOutbox final : public Outbox {
 public:
  SqliteOutbox(Connection connection, uint32_t stored_count, uint32_t depth_max)
      : connection_(std::move(connection)), depth_max_(depth_max), stored_count_(stored_count) {
    writer_ = std::thread([this] { run_writer(); });
  }

  // Writes everything queued (a clean shutdown loses nothing), then joins.
  ~SqliteOutbox() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_.notify_one();
    writer_.join();
  }

  SqliteOutbox(const SqliteOutbox&) = delete;
  SqliteOutbox& operator=(const SqliteOutbox&) = delete;

  Status append(const std::string& id, const std::string& body_json) override {
    PendingEvent event{id, body_json};  // copied before taking the lock
    {
      std::lock_guard lock(mutex_);
      if (depth_locked() >= depth_max_) {
        return Status(Code::limit_exceeded, "outbox is full (" + std::to_string(depth_max_) + " events)");
      }
      queue_.push_back(std::move(event));
      ++appended_count_;
      // Only an idle writer needs waking: a busy one takes the queue when its
      // commit ends, and waking it for every download costs a context switch.
      if (!writer_idle_) return Status();
    }
    work_.notify_one();
    return Status();
  }

  Status flush() override {
    std::unique_lock lock(mutex_);
    const uint64_t target = appended_count_;
    ++flushes_waiting_;
    work_.notify_one();  // no need to wait for the commit interval
    written_.wait(lock, [&] { return written_count_ >= target || !write_error_.ok(); });
    --flushes_waiting_;
    if (written_count_ >= target) return Status();
    return write_error_;
  }

  Result<std::vector<OutboxEvent>> peek(uint32_t count_max) override {
    // A failed flush is logged by the writer. What is stored is still worth
    // pushing: it is older than anything queued, and acknowledging it frees
    // room on the disk that may be what the writer lacks.
    (void)flush();
    std::lock_guard db_lock(db_mutex_);
    sqlite3* db = connection_.db.get();
    sqlite3_stmt* statement = connection_.peek.get();
    ResetOnExit reset(statement);
    sqlite3_bind_int64(statement, 1, count_max);
    std::vector<OutboxEvent> out;
    int rc;
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
      out.push_back({sqlite3_column_int64(statement, 0),
                     reinterpret_cast<const char*>(sqlite3_column_text(statement, 1)),
                     reinterpret_cast<const char*>(sqlite3_column_text(statement, 2))});
    }
    if (rc != SQLITE_DONE) return error(sqlite_failure(db, "reading events"));
    if (out.size() < count_max) {
      // Everything stored was read, with the writer held off by db_mutex_: the
      // count is exact here. Setting it keeps depth() honest even if another
      // process (a concurrent `edge preload`) acknowledged events of ours.
      std::lock_guard lock(mutex_);
      stored_count_ = static_cast<uint32_t>(out.size());
    }
    return out;
  }

  Status acknowledge(int64_t seq) override {
    std::lock_guard db_lock(db_mutex_);
    sqlite3* db = connection_.db.get();
    sqlite3_stmt* statement = connection_.remove.get();
    ResetOnExit reset(statement);
    sqlite3_bind_int64(statement, 1, seq);
    if (sqlite3_step(statement) != SQLITE_DONE) return sqlite_failure(db, "removing events");
    auto deleted = static_cast<uint32_t>(sqlite3_changes(db));
    std::lock_guard lock(mutex_);
    // Only another process writing the same file can make this clamp matter;
    // the next peek() that reads everything sets the count right again.
    stored_count_ -= std::min(deleted, stored_count_);
    return Status();
  }

  uint32_t unwritten() override {
    std::lock_guard lock(mutex_);
    return static_cast<uint32_t>(queue_.size() + in_flight_count_);
  }

  Result<uint32_t> depth() override {
    std::lock_guard lock(mutex_);
    return static_cast<uint32_t>(depth_locked());
  }

 private:
  uint64_t depth_locked() const { return queue_.size() + in_flight_count_ + stored_count_; }

  // Group commit: take everything queued (up to a batch), write it in one
  // transaction, repeat. No linger: while one commit waits for its fsync, the
  // next batch builds up on its own.
  void run_writer() {
    std::unique_lock lock(mutex_);
    for (;;) {
      writer_idle_ = true;
      work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      writer_idle_ = false;
      if (queue_.empty()) return;  // stopping, and everything is written
      work_.wait_until(lock, last_commit_ + kCommitIntervalMin,
                       [&] { return stopping_ || flushes_waiting_ > 0; });
      std::vector<PendingEvent> batch = take_batch_locked();
      lock.unlock();
      std::unique_lock db_lock(db_mutex_);
      Result<uint32_t> inserted = insert_batch(batch);
      // Published before db_mutex_ is released, so an acknowledge() of these
      // rows cannot subtract them before they were added.
      lock.lock();
      db_lock.unlock();
      last_commit_ = std::chrono::steady_clock::now();
      if (inserted) {
        on_batch_written(batch.size(), *inserted);
        continue;
      }
      on_batch_failed(std::move(batch), inserted.error());
      if (stopping_) {
        log::error("outbox closed with events not written",
                   {{"events", queue_.size()}, {"error", write_error_.to_string()}});
        return;
      }
      work_.wait_for(lock, kWriteRetryBackoff, [&] { return stopping_; });
    }
  }

  std::vector<PendingEvent> take_batch_locked() {
    size_t count = std::min(queue_.size(), kBatchEventsMax);
    std::vector<PendingEvent> batch(std::make_move_iterator(queue_.begin()),
                                    std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(count)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(count));
    in_flight_count_ = count;  // still counted in depth() while being written
    return batch;
  }

  void on_batch_written(size_t batch_count, uint32_t inserted_count) {
    in_flight_count_ = 0;
    stored_count_ += inserted_count;
    written_count_ += batch_count;
    if (!write_error_.ok()) {
      log::info("outbox writes again", {{"queued", queue_.size()}});
      write_error_ = Status();
    }
    written_.notify_all();
  }

  // The events go back to the front of the queue, in order, and are written
  // again from memory in a fresh transaction. This does not trust whatever a
  // failed fsync left in the page cache (the sticky-error rule is about that):
  // the rolled-back transaction never counted as written.
  void on_batch_failed(std::vector<PendingEvent> batch, Status failure) {
    in_flight_count_ = 0;
    queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
    if (write_error_.ok()) {
      log::error("outbox cannot write; events stay queued and are retried",
                 {{"error", failure.to_string()}, {"queued", queue_.size()}});
    }
    write_error_ = std::move(failure);
    written_.notify_all();  // a flush() waiting for these returns the error
  }

  // One transaction; returns the rows actually inserted. Caller holds db_mutex_.
  Result<uint32_t> insert_batch(const std::vector<PendingEvent>& batch) {
    sqlite3* db = connection_.db.get();
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return error(sqlite_failure(db, "beginning a batch"));
    }
    uint32_t inserted_count = 0;
    sqlite3_stmt* statement = connection_.insert.get();
    for (const PendingEvent& event : batch) {
      ResetOnExit reset(statement);
      sqlite3_bind_text(statement, 1, event.id.data(), static_cast<int>(event.id.size()), SQLITE_STATIC);
      sqlite3_bind_text(statement, 2, event.body_json.data(), static_cast<int>(event.body_json.size()),
                        SQLITE_STATIC);
      if (sqlite3_step(statement) != SQLITE_DONE) return error(roll_back(db, "inserting an event"));
      inserted_count += static_cast<uint32_t>(sqlite3_changes(db));
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return error(roll_back(db, "committing a batch"));
    }
    return inserted_count;
  }

  // Keeps the error of the failed step; SQLite may already have rolled back
  // on its own (SQLITE_FULL, SQLITE_IOERR), hence the autocommit check.
  static Status roll_back(sqlite3* db, std::string_view doing) {
    Status failure = sqlite_failure(db, doing);
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return failure;
  }

  std::mutex db_mutex_;
  Connection connection_;  // guarded by db_mutex_
  const uint32_t depth_max_;

  std::mutex mutex_;
  std::condition_variable work_;     // the writer waits for events or a stop
  std::condition_variable written_;  // flush() waits for a batch's outcome
  // Bounded by depth_max_: append() refuses beyond it, stored rows included.
  std::deque<PendingEvent> queue_;
  size_t in_flight_count_ = 0;   // taken from queue_, being written
  uint32_t stored_count_;        // rows in the table
  uint64_t appended_count_ = 0;  // events ever queued; flush() waits for its value
  uint64_t written_count_ = 0;   // of those, how many are on disk (FIFO, so a prefix)
  Status write_error_;           // the latest attempt's failure; ok once one succeeds
  bool stopping_ = false;
  uint32_t flushes_waiting_ = 0;
  bool writer_idle_ = false;  // waiting for the queue to fill
  std::chrono::steady_clock::time_point last_commit_;

  std::thread writer_;  // last: started when everything above exists
};

Result<StatementPtr> prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) {
    return error(sqlite_failure(db, "preparing a statement"));
  }
  return StatementPtr(statement);
}

Result<uint32_t> count_stored(sqlite3* db) {
  auto statement = prepare(db, "SELECT COUNT(*) FROM outbox_events");
  if (!statement) return error(statement.error());
  if (sqlite3_step(statement->get()) != SQLITE_ROW) return error(sqlite_failure(db, "counting events"));
  return static_cast<uint32_t>(sqlite3_column_int64(statement->get(), 0));
}

}  // namespace

Result<std::unique_ptr<Outbox>> open_outbox(const std::string& path, uint32_t depth_max) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  Connection connection{DbPtr(raw), nullptr, nullptr, nullptr};
  if (rc != SQLITE_OK) {
    std::string message = raw ? sqlite3_errmsg(raw) : "out of memory";
    return error(Code::io_error, "cannot open outbox " + path + ": " + message);
  }
  // Rows are appended in rowid order and taken from the front: no index but
  // the rowid's, so a batch of inserts writes a few pages at the B-tree's end
  // (an index on the random ids cost most of the edge's CPU per download).
  // Version 1 files (table `outbox`, ids indexed UNIQUE) are carried over.
  // A small page cache: the writer only appends, the pusher reads the front.
  const char* setup =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; PRAGMA cache_size=-256;"
      "BEGIN IMMEDIATE;"
      "CREATE TABLE IF NOT EXISTS outbox_events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, body TEXT NOT NULL)"
      " STRICT;"
      "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
      " body TEXT NOT NULL) STRICT;"
      "INSERT INTO outbox_events (id, body) SELECT id, body FROM outbox ORDER BY seq;"
      "DROP TABLE outbox;"
      "COMMIT;";
  char* message = nullptr;
  if (sqlite3_exec(raw, setup, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    if (!sqlite3_get_autocommit(raw)) sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr);
    return error(Code::io_error, "cannot prepare outbox " + path + ": " + text);
  }
  auto insert = prepare(raw, "INSERT INTO outbox_events (id, body) VALUES (?1, ?2)");
  if (!insert) return error(insert.error().with_context("cannot prepare outbox " + path));
  auto peek = prepare(raw, "SELECT seq, id, body FROM outbox_events ORDER BY seq LIMIT ?1");
  if (!peek) return error(peek.error().with_context("cannot prepare outbox " + path));
  auto remove = prepare(raw, "DELETE FROM outbox_events WHERE seq <= ?1");
  if (!remove) return error(remove.error().with_context("cannot prepare outbox " + path));
  // The only full count: from here on the depth is kept in memory.
  auto stored_count = count_stored(raw);
  if (!stored_count) return error(stored_count.error().with_context("cannot open outbox " + path));
  connection.insert = std::move(*insert);
  connection.peek = std::move(*peek);
  connection.remove = std::move(*remove);
  return std::unique_ptr<Outbox>(std::make_unique<SqliteOutbox>(std::move(connection), *stored_count, depth_max));
}

}  // namespace dg::store
