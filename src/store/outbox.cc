#include "store/outbox.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>

#include "base/limits.h"
#include "base/log.h"
#include "store/outbox_codec.h"
#include "store/sqlite/statement.h"

namespace dg::store {
namespace {

using outbox_codec::append_delta;
using outbox_codec::append_netstring;
using outbox_codec::kDeltaMark;
using outbox_codec::read_batch;
using outbox_codec::split_delta_batch;
using sqlite::ResetOnExit;
using sqlite::StatementPtr;

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

// The one connection and its cached statements. The statements are declared
// after the connection so they are finalized before it closes.
struct Connection {
  DbPtr db;
  StatementPtr insert;       // ?1 first_seq, ?2 count, ?3 events
  StatementPtr last_end;     // the seq after the newest stored event
  StatementPtr acked;        // the acknowledged seq
  StatementPtr peek;         // every batch, oldest first
  StatementPtr count_acked;  // ?1 acked before, ?2 acked now: events between, stored
  StatementPtr set_acked;    // ?1 seq
  StatementPtr remove;       // ?1 acked seq: batches wholly acknowledged
};

Status sqlite_failure(sqlite3* db, std::string_view doing) {
  return Status(Code::io_error, "outbox: " + std::string(doing) + ": " + sqlite3_errmsg(db));
}

// Events taken from the queue to be written: a delta-form batch and its count.
struct Batch {
  std::string bytes;
  size_t count = 0;
};

Result<int64_t> read_acked(Connection& connection);

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

  Status append(std::string_view id, std::string_view body_json) override {
    // Built before taking the lock; the buffer is the thread's (it trades
    // places with last_record_).
    thread_local std::string record;
    record.clear();
    append_netstring(record, id);
    append_netstring(record, body_json);
    {
      std::lock_guard lock(mutex_);
      if (depth_locked() >= depth_max_) {
        return Status(Code::limit_exceeded,
                      "outbox is full (" + std::to_string(depth_max_) + " events)");
      }
      // The first event of a queue is written whole, each later one as its
      // change from the one before.
      if (queue_count_ == 0) {
        queue_ += kDeltaMark;
        append_delta(queue_, {}, record);
      } else {
        append_delta(queue_, last_record_, record);
      }
      last_record_.swap(record);
      ++queue_count_;
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
    // One read transaction, so the cursor and the batches agree even if
    // another process (a concurrent `edge preload`) acknowledges meanwhile.
    if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return error(sqlite_failure(db, "reading events"));
    }
    auto result = peek_in_transaction(count_max);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);  // a read: nothing to lose
    return result;
  }

  Status acknowledge(int64_t seq) override {
    std::lock_guard db_lock(db_mutex_);
    sqlite3* db = connection_.db.get();
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return sqlite_failure(db, "acknowledging events");
    }
    auto acked_before = read_acked(connection_);
    if (!acked_before) return roll_back(db, "reading the acknowledged seq");
    if (seq <= *acked_before) {  // nothing new
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      return Status();
    }
    int64_t newly_acked = 0;
    {
      sqlite3_stmt* statement = connection_.count_acked.get();
      ResetOnExit reset(statement);
      sqlite3_bind_int64(statement, 1, *acked_before);
      sqlite3_bind_int64(statement, 2, seq);
      if (sqlite3_step(statement) != SQLITE_ROW)
        return roll_back(db, "counting acknowledged events");
      newly_acked = sqlite3_column_int64(statement, 0);
    }
    for (sqlite3_stmt* statement : {connection_.set_acked.get(), connection_.remove.get()}) {
      ResetOnExit reset(statement);
      sqlite3_bind_int64(statement, 1, seq);
      if (sqlite3_step(statement) != SQLITE_DONE) return roll_back(db, "removing events");
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return roll_back(db, "acknowledging events");
    }
    std::lock_guard lock(mutex_);
    // Only another process writing the same file can make this clamp matter;
    // the next peek() that reads everything sets the count right again.
    stored_count_ -= std::min(static_cast<uint32_t>(newly_acked), stored_count_);
    return Status();
  }

  uint32_t unwritten() override {
    std::lock_guard lock(mutex_);
    return static_cast<uint32_t>(queue_count_ + in_flight_count_);
  }

  Result<uint32_t> depth() override {
    std::lock_guard lock(mutex_);
    return static_cast<uint32_t>(depth_locked());
  }

 private:
  uint64_t depth_locked() const { return queue_count_ + in_flight_count_ + stored_count_; }

  // Caller holds db_mutex_ and a read transaction.
  Result<std::vector<OutboxEvent>> peek_in_transaction(uint32_t count_max) {
    sqlite3* db = connection_.db.get();
    auto acked = read_acked(connection_);
    if (!acked) return error(acked.error());
    sqlite3_stmt* statement = connection_.peek.get();
    ResetOnExit reset(statement);
    std::vector<OutboxEvent> out;
    bool read_all = true;
    int rc;
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
      if (out.size() >= count_max) {
        read_all = false;
        break;
      }
      // The front of a batch acknowledged in part is skipped.
      auto whole =
          read_batch(sqlite3_column_int64(statement, 0), sqlite3_column_int64(statement, 1),
                     std::string_view(static_cast<const char*>(sqlite3_column_blob(statement, 2)),
                                      static_cast<size_t>(sqlite3_column_bytes(statement, 2))),
                     *acked, count_max, out);
      if (!whole) return error(whole.error());
      if (!*whole) {
        read_all = false;
        break;
      }
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return error(sqlite_failure(db, "reading events"));
    if (read_all) {
      // Everything stored was read, with the writer held off by db_mutex_: the
      // count is exact here. Setting it keeps depth() honest even if another
      // process (a concurrent `edge preload`) acknowledged events of ours.
      std::lock_guard lock(mutex_);
      stored_count_ = static_cast<uint32_t>(out.size());
    }
    return out;
  }

  // Group commit: take everything queued (up to a batch), write it in one
  // transaction, repeat. No linger: while one commit waits for its fsync, the
  // next batch builds up on its own.
  void run_writer() {
    std::unique_lock lock(mutex_);
    for (;;) {
      writer_idle_ = true;
      if (queue_count_ == 0) {
        // Nothing arrived during the last commit: the burst is over, and its
        // buffers go (an idle edge holds no megabytes for the next one).
        std::string().swap(queue_);
        std::string().swap(spare_);
      }
      work_.wait(lock, [&] { return stopping_ || queue_count_ > 0; });
      writer_idle_ = false;
      if (queue_count_ == 0) return;  // stopping, and everything is written
      work_.wait_until(lock, last_commit_ + limits::outbox_commit_interval_min, [&] {
        return stopping_ || flushes_waiting_ > 0 || queue_count_ >= limits::outbox_batch_events_max;
      });
      Batch batch = take_batch_locked();
      lock.unlock();
      std::unique_lock db_lock(db_mutex_);
      Status inserted = insert_batch(batch);
      // Published before db_mutex_ is released, so an acknowledge() of these
      // rows cannot subtract them before they were added.
      lock.lock();
      db_lock.unlock();
      last_commit_ = std::chrono::steady_clock::now();
      if (inserted.ok()) {
        on_batch_written(batch.count);
        keep_spare_locked(std::move(batch.bytes));
        continue;
      }
      on_batch_failed(std::move(batch), std::move(inserted));
      if (stopping_) {
        log::error("outbox closed with events not written",
                   {{"events", queue_count_}, {"error", write_error_.to_string()}});
        return;
      }
      work_.wait_for(lock, limits::outbox_write_retry_backoff, [&] { return stopping_; });
    }
  }

  // Short, since append() waits for the same lock: a queue that fits in a
  // batch is taken whole, by a swap.
  Batch take_batch_locked() {
    Batch batch;
    if (queue_count_ <= limits::outbox_batch_events_max) {
      batch.bytes.swap(queue_);
      queue_.swap(spare_);  // empty, with the room of an earlier batch
      batch.count = std::exchange(queue_count_, 0);
    } else {
      batch.bytes.swap(queue_);
      queue_ = split_delta_batch(batch.bytes, limits::outbox_batch_events_max);
      batch.count = limits::outbox_batch_events_max;
      queue_count_ -= limits::outbox_batch_events_max;
    }
    in_flight_count_ = batch.count;  // still counted in depth() while being written
    return batch;
  }

  void keep_spare_locked(std::string buffer) {
    if (buffer.capacity() <= spare_.capacity() ||
        buffer.capacity() > limits::outbox_spare_buffer_bytes_max)
      return;
    buffer.clear();
    spare_.swap(buffer);
  }

  void on_batch_written(size_t batch_count) {
    in_flight_count_ = 0;
    stored_count_ += static_cast<uint32_t>(batch_count);
    written_count_ += batch_count;
    if (!write_error_.ok()) {
      log::info("outbox writes again", {{"queued", queue_count_}});
      write_error_ = Status();
    }
    written_.notify_all();
  }

  // The events go back to the front of the queue, in order, and are written
  // again from memory in a fresh transaction. This does not trust whatever a
  // failed fsync left in the page cache (the sticky-error rule is about that):
  // the rolled-back transaction never counted as written.
  void on_batch_failed(Batch batch, Status failure) {
    in_flight_count_ = 0;
    // The queue's own first event is written whole: it follows on from
    // anything, so the two join behind one mark.
    if (!queue_.empty()) batch.bytes.append(queue_, 1);
    queue_.swap(batch.bytes);
    queue_count_ += batch.count;
    if (write_error_.ok()) {
      log::error("outbox cannot write; events stay queued and are retried",
                 {{"error", failure.to_string()}, {"queued", queue_count_}});
    }
    write_error_ = std::move(failure);
    written_.notify_all();  // a flush() waiting for these returns the error
  }

  // One transaction, one row. Caller holds db_mutex_.
  Status insert_batch(const Batch& batch) {
    sqlite3* db = connection_.db.get();
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return sqlite_failure(db, "beginning a batch");
    }
    // Numbered after everything stored and everything ever acknowledged, read
    // under the write lock: another process may have written since.
    auto acked = read_acked(connection_);
    if (!acked) return roll_back(db, "reading the acknowledged seq");
    int64_t first_seq = std::max(next_seq_, *acked + 1);
    {
      sqlite3_stmt* statement = connection_.last_end.get();
      ResetOnExit reset(statement);
      int rc = sqlite3_step(statement);
      if (rc == SQLITE_ROW)
        first_seq = std::max<int64_t>(first_seq, sqlite3_column_int64(statement, 0));
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return roll_back(db, "finding the newest event");
    }
    {
      sqlite3_stmt* statement = connection_.insert.get();
      ResetOnExit reset(statement);
      sqlite3_bind_int64(statement, 1, first_seq);
      sqlite3_bind_int64(statement, 2, static_cast<int64_t>(batch.count));
      sqlite3_bind_blob(statement, 3, batch.bytes.data(), static_cast<int>(batch.bytes.size()),
                        SQLITE_STATIC);
      if (sqlite3_step(statement) != SQLITE_DONE) return roll_back(db, "inserting events");
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return roll_back(db, "committing a batch");
    }
    next_seq_ = first_seq + static_cast<int64_t>(batch.count);
    return Status();
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
  int64_t next_seq_ = 1;   // guarded by db_mutex_: at least the seq of the next event written
  const uint32_t depth_max_;

  std::mutex mutex_;
  std::condition_variable work_;     // the writer waits for events or a stop
  std::condition_variable written_;  // flush() waits for a batch's outcome
  // Bounded by depth_max_: append() refuses beyond it, stored rows included.
  // Events appended and not yet taken by the writer: a delta-form batch.
  std::string queue_;
  std::string last_record_;  // the record of the event appended last
  std::string spare_;        // empty; see limits::outbox_spare_buffer_bytes_max
  size_t queue_count_ = 0;
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
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) !=
      SQLITE_OK) {
    return error(sqlite_failure(db, "preparing a statement"));
  }
  return StatementPtr(statement);
}

Result<int64_t> read_acked(Connection& connection) {
  sqlite3_stmt* statement = connection.acked.get();
  ResetOnExit reset(statement);
  int rc = sqlite3_step(statement);
  if (rc == SQLITE_ROW) return sqlite3_column_int64(statement, 0);
  if (rc == SQLITE_DONE) return int64_t{0};
  return error(sqlite_failure(connection.db.get(), "reading the acknowledged seq"));
}

// Events stored and not acknowledged.
Result<uint32_t> count_stored(Connection& connection) {
  sqlite3* db = connection.db.get();
  auto acked = read_acked(connection);
  if (!acked) return error(acked.error());
  auto statement =
      prepare(db,
              "SELECT COALESCE(SUM(count - MAX(0, ?1 - first_seq + 1)), 0) FROM outbox_batches"
              " WHERE first_seq + count - 1 > ?1");
  if (!statement) return error(statement.error());
  sqlite3_bind_int64(statement->get(), 1, *acked);
  if (sqlite3_step(statement->get()) != SQLITE_ROW)
    return error(sqlite_failure(db, "counting events"));
  return static_cast<uint32_t>(sqlite3_column_int64(statement->get(), 0));
}

}  // namespace

namespace {

// One row per committed batch, its events numbered from first_seq (the
// rowid), appended at the B-tree's end and taken from the front; the
// acknowledged seq is kept in outbox_acked, so acknowledging part of a
// batch rewrites nothing. A row per event cost the edge ~1.6 µs of CPU per
// download; a row per batch, a copy. Version 1 (table `outbox`, ids
// indexed UNIQUE) and version 2 (`outbox_events`, a row per event) files are
// carried over, each old event becoming a batch of one with its seq.
// A small page cache: the writer only appends, the pusher reads the front.
// 16 KiB pages (for files created from now on): SQLite writes a WAL frame
// per page with its own pwrite(2), and a busy edge commits ~200 KiB at once.
constexpr const char* kOutboxSetupSql =
    "PRAGMA page_size=16384;"
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;"
    " PRAGMA cache_size=-1024;"
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS outbox_batches"
    " (first_seq INTEGER PRIMARY KEY, count INTEGER NOT NULL, events BLOB NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS outbox_acked"
    " (one INTEGER PRIMARY KEY CHECK (one = 1), seq INTEGER NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS outbox_events"
    " (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, body TEXT NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS outbox"
    " (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL) STRICT;"
    "INSERT INTO outbox_events (id, body) SELECT id, body FROM outbox ORDER BY seq;"
    "DROP TABLE outbox;"
    "INSERT INTO outbox_batches (first_seq, count, events)"
    " SELECT seq, 1, CAST(length(CAST(id AS BLOB)) || ':' || id || ','"
    " || length(CAST(body AS BLOB)) || ':' || body || ',' AS BLOB)"
    " FROM outbox_events ORDER BY seq;"
    "DROP TABLE outbox_events;"
    "COMMIT;";

// Creates or carries over the tables (kOutboxSetupSql).
Status set_up_outbox(sqlite3* raw, const std::string& path) {
  char* message = nullptr;
  if (sqlite3_exec(raw, kOutboxSetupSql, nullptr, nullptr, &message) == SQLITE_OK) return Status();
  std::string text = message ? message : "unknown error";
  sqlite3_free(message);
  if (!sqlite3_get_autocommit(raw)) sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr);
  return Status(Code::io_error, "cannot prepare outbox " + path + ": " + text);
}

// Prepares the statements the outbox runs, into `connection`.
Status prepare_outbox_statements(sqlite3* raw, Connection& connection, const std::string& path) {
  struct Wanted {
    StatementPtr* into;
    const char* sql;
  } wanted[] = {
      {&connection.insert,
       "INSERT INTO outbox_batches (first_seq, count, events) VALUES (?1, ?2, ?3)"},
      {&connection.last_end,
       "SELECT first_seq + count FROM outbox_batches ORDER BY first_seq DESC LIMIT 1"},
      {&connection.acked, "SELECT seq FROM outbox_acked WHERE one = 1"},
      {&connection.peek, "SELECT first_seq, count, events FROM outbox_batches ORDER BY first_seq"},
      {&connection.count_acked,
       "SELECT COALESCE(SUM(MIN(first_seq + count - 1, ?2) - MAX(first_seq, ?1 + 1) + 1), 0)"
       " FROM outbox_batches WHERE first_seq <= ?2 AND first_seq + count - 1 > ?1"},
      {&connection.set_acked,
       "INSERT INTO outbox_acked (one, seq) VALUES (1, ?1)"
       " ON CONFLICT (one) DO UPDATE SET seq = excluded.seq"},
      {&connection.remove,
       "DELETE FROM outbox_batches WHERE first_seq <= ?1 AND first_seq + count - 1 <= ?1"},
  };
  for (Wanted& w : wanted) {
    auto statement = prepare(raw, w.sql);
    if (!statement) return statement.error().with_context("cannot prepare outbox " + path);
    *w.into = std::move(*statement);
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<Outbox>> open_outbox(const std::string& path, uint32_t depth_max) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Connection connection;
  connection.db = DbPtr(raw);
  if (rc != SQLITE_OK) {
    std::string message = raw ? sqlite3_errmsg(raw) : "out of memory";
    return error(Code::io_error, "cannot open outbox " + path + ": " + message);
  }
  DG_RETURN_IF_ERROR_RESULT(set_up_outbox(raw, path));
  DG_RETURN_IF_ERROR_RESULT(prepare_outbox_statements(raw, connection, path));
  // The only full count: from here on the depth is kept in memory.
  auto stored_count = count_stored(connection);
  if (!stored_count) return error(stored_count.error().with_context("cannot open outbox " + path));
  return std::unique_ptr<Outbox>(
      std::make_unique<SqliteOutbox>(std::move(connection), *stored_count, depth_max));
}

}  // namespace dg::store
