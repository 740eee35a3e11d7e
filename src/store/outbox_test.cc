#include "store/outbox.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.h"

namespace dg::store {
namespace {

namespace fs = std::filesystem;

// A database path of its own per test, in a fresh folder removed with
// everything in it (the WAL and shared-memory files too) when the test ends.
class TempPath {
 public:
  explicit TempPath(const std::string& name) : path_((dir_.path() / (name + ".db")).string()) {
    EXPECT_FALSE(dir_.path().empty()) << "no temporary folder";
  }
  const std::string& str() const { return path_; }

 private:
  dg::testing::TempDir dir_;  // first: made before path_ names a file in it
  std::string path_;
};

// A second connection holding the database's write lock, so the outbox's
// writer cannot begin a batch: its BEGIN IMMEDIATE waits out the busy timeout
// (5 s) and then fails with SQLITE_BUSY. A real write failure, and one a test
// can start and end when it wants, unlike a full disk.
class WriteLockHolder {
 public:
  explicit WriteLockHolder(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    EXPECT_EQ(
        sqlite3_exec(db_, "PRAGMA busy_timeout=5000; BEGIN IMMEDIATE", nullptr, nullptr, nullptr),
        SQLITE_OK)
        << sqlite3_errmsg(db_);
  }
  ~WriteLockHolder() {
    release();
    sqlite3_close(db_);
  }
  void release() {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  sqlite3* db_ = nullptr;
};

std::unique_ptr<Outbox> open_or_die(const std::string& path, uint32_t depth_max) {
  auto outbox = open_outbox(path, depth_max);
  EXPECT_TRUE(outbox.has_value()) << outbox.error().to_string();
  return outbox ? std::move(*outbox) : nullptr;
}

// Runs SQL on the file through a connection of its own, as an older dropgate
// or a damaged disk would have left it. Empty on success, else SQLite's message.
std::string run_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  std::string failure;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK ||
      sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    failure = db ? sqlite3_errmsg(db) : "cannot open";
  }
  sqlite3_close(db);
  return failure;
}

// One number from a query of the file.
int64_t query_int(const std::string& path, const char* sql, int64_t parameter) {
  sqlite3* db = nullptr;
  sqlite3_stmt* statement = nullptr;
  int64_t value = -1;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
      sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) == SQLITE_OK) {
    sqlite3_bind_int64(statement, 1, parameter);
    if (sqlite3_step(statement) == SQLITE_ROW) value = sqlite3_column_int64(statement, 0);
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return value;
}

// For a file an older version wrote with `old_count` events: appends one
// more ("new-1") and returns all the outbox then holds, oldest first.
std::vector<OutboxEvent> carried_over_plus_one(Outbox& outbox, uint32_t old_count) {
  EXPECT_EQ(*outbox.depth(), old_count);
  EXPECT_TRUE(outbox.append("new-1", "{}").ok());
  auto events = outbox.peek(10);
  EXPECT_TRUE(events.has_value()) << events.error().to_string();
  return events ? std::move(*events) : std::vector<OutboxEvent>{};
}

std::vector<std::string> ids_of(const std::vector<OutboxEvent>& events) {
  std::vector<std::string> ids;
  for (const auto& e : events) ids.push_back(e.id);
  return ids;
}

TEST(Outbox, SurvivesReopenAndIsBounded) {
  TempPath path("bounded");
  {
    auto outbox = open_or_die(path.str(), 3);
    ASSERT_TRUE(outbox);
    {
      // The writer cannot write while the lock is held, so what follows is
      // still queued: the bound counts queued events.
      WriteLockHolder lock(path.str());
      ASSERT_TRUE(outbox->append("a", R"({"n":1})").ok());
      ASSERT_TRUE(outbox->append("b", R"({"n":2})").ok());
      EXPECT_EQ(*outbox->depth(), 2u);
      EXPECT_EQ(outbox->unwritten(), 2u);  // the writer cannot write yet
    }
    ASSERT_TRUE(outbox->flush().ok());
    EXPECT_EQ(*outbox->depth(), 2u);
    EXPECT_EQ(outbox->unwritten(), 0u);
    ASSERT_TRUE(outbox->append("c", R"({"n":3})").ok());
    EXPECT_EQ(outbox->append("d", "{}").code(), Code::limit_exceeded);
  }
  auto outbox = open_or_die(path.str(), 3);
  ASSERT_TRUE(outbox);
  EXPECT_EQ(*outbox->depth(), 3u);
  auto events = outbox->peek(2);
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].id, "a");
  EXPECT_EQ((*events)[1].body_json, R"({"n":2})");
  ASSERT_TRUE(outbox->acknowledge((*events)[1].seq).ok());
  EXPECT_EQ(*outbox->depth(), 1u);
  auto rest = outbox->peek(10);
  ASSERT_TRUE(rest.has_value());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].id, "c");
}

// An outbox written by the first version (table `outbox`, ids UNIQUE) keeps
// its events, in order, when this version opens it.
TEST(Outbox, CarriesOverTheFirstVersionsEvents) {
  TempPath path("v1");
  ASSERT_EQ(
      run_sql(
          path.str(),
          "PRAGMA journal_mode=WAL;"
          "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
          " body TEXT NOT NULL) STRICT;"
          "INSERT INTO outbox (id, body) VALUES ('old-1', '{\"n\":1}'), ('old-2', '{\"n\":2}');"),
      "");
  auto outbox = open_or_die(path.str(), 100);
  ASSERT_TRUE(outbox);
  auto events = carried_over_plus_one(*outbox, 2);
  ASSERT_EQ(ids_of(events), (std::vector<std::string>{"old-1", "old-2", "new-1"}));
  EXPECT_EQ(events[1].body_json, R"({"n":2})");
}

// The second version kept a row per event in `outbox_events`; each becomes
// a batch of one, with its seq, so an acknowledgement in flight still fits.
TEST(Outbox, CarriesOverTheSecondVersionsEventsWithTheirSeqs) {
  TempPath path("v2");
  ASSERT_EQ(run_sql(path.str(),
                    "PRAGMA journal_mode=WAL;"
                    "CREATE TABLE outbox_events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, body "
                    "TEXT NOT NULL) STRICT;"
                    "INSERT INTO outbox_events (seq, id, body) VALUES (41, 'old-41', "
                    "'{\"p\":\"caf\u00e9, 1:2\"}'),"
                    " (42, 'old-42', '{}');"),
            "");
  auto outbox = open_or_die(path.str(), 100);
  ASSERT_TRUE(outbox);
  auto events = carried_over_plus_one(*outbox, 2);
  ASSERT_EQ(ids_of(events), (std::vector<std::string>{"old-41", "old-42", "new-1"}));
  EXPECT_EQ(events[0].seq, 41);
  EXPECT_EQ(events[0].body_json, "{\"p\":\"caf\u00e9, 1:2\"}");
  EXPECT_GT(events[2].seq, 42);
  ASSERT_TRUE(outbox->acknowledge(41).ok());
  EXPECT_EQ(*outbox->depth(), 2u);
}

// Events are stored a batch to a row; ids and bodies are any bytes.
TEST(Outbox, AnyBytesRoundTripThroughABatch) {
  TempPath path("bytes");
  const std::vector<std::pair<std::string, std::string>> appended = {
      {"a,b:c", "{\"x\":\"1,2:3\"}"},
      {"", ""},
      {std::string("nul\0id", 6), std::string("\0", 1)},
      {"12:", ",,,"},
      {"line\nbreak", "{\"tab\":\"\t\"}"}};
  {
    auto outbox = open_or_die(path.str(), 100);
    ASSERT_TRUE(outbox);
    for (const auto& [id, body] : appended) ASSERT_TRUE(outbox->append(id, body).ok());
  }
  auto outbox = open_or_die(path.str(), 100);
  ASSERT_TRUE(outbox);
  auto events = outbox->peek(100);
  ASSERT_TRUE(events.has_value()) << events.error().to_string();
  ASSERT_EQ(events->size(), appended.size());
  for (size_t i = 0; i < appended.size(); ++i) {
    EXPECT_EQ((*events)[i].id, appended[i].first) << i;
    EXPECT_EQ((*events)[i].body_json, appended[i].second) << i;
  }
}

// Each event is stored as pieces of the one before and new bytes; random
// edits of every size and place (and repeats, records that are a prefix or
// a suffix of the one before, empty ones) must come back byte for byte.
TEST(Outbox, EventsStoredAsChangesComeBackExactly) {
  TempPath path("changes");
  std::mt19937 random(7);
  auto roll = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random); };
  std::vector<std::pair<std::string, std::string>> appended;
  std::string body = "{\"kind\":\"download.completed\",\"account\":\"buyer-1\"}";
  for (int i = 0; i < 5000; ++i) {
    switch (roll(6)) {
      case 0:  // replace a stretch with random bytes
      case 1: {
        size_t at = roll(body.size() + 1),
               length = roll(std::min<size_t>(40, body.size() - at) + 1);
        std::string bytes(roll(40), '\0');
        for (char& c : bytes) c = static_cast<char>(roll(256));
        body.replace(at, length, bytes);
        break;
      }
      case 2:  // the same again
        break;
      case 3:  // cut to a prefix or a suffix
        body = roll(2) ? body.substr(0, roll(body.size() + 1)) : body.substr(roll(body.size() + 1));
        break;
      case 4:  // doubled
        body += body.substr(0, std::min<size_t>(body.size(), 300));
        break;
      default:  // something else entirely
        body = std::string(roll(300), static_cast<char>('a' + roll(26)));
    }
    appended.emplace_back("edge-" + std::to_string(i * 7919 % 100003), body);
  }
  {
    auto outbox = open_or_die(path.str(), 100'000);
    ASSERT_TRUE(outbox);
    for (size_t i = 0; i < appended.size(); ++i) {
      ASSERT_TRUE(outbox->append(appended[i].first, appended[i].second).ok());
      if (i % 1000 == 999) {
        ASSERT_TRUE(outbox->flush().ok());  // several batches
      }
    }
  }
  auto outbox = open_or_die(path.str(), 100'000);
  ASSERT_TRUE(outbox);
  auto events = outbox->peek(100'000);
  ASSERT_TRUE(events.has_value()) << events.error().to_string();
  ASSERT_EQ(events->size(), appended.size());
  for (size_t i = 0; i < appended.size(); ++i) {
    ASSERT_EQ((*events)[i].id, appended[i].first) << i;
    ASSERT_EQ((*events)[i].body_json, appended[i].second) << i;
  }
}

// Download events differ from one to the next in a few places: stored as
// changes they take a fraction of their plain size.
TEST(Outbox, TypicalEventsTakeAFifthOfTheirSize) {
  TempPath path("compact");
  size_t plain_bytes = 0;
  {
    auto outbox = open_or_die(path.str(), 100'000);
    ASSERT_TRUE(outbox);
    for (int i = 1; i <= 2000; ++i) {
      std::string id = "YK-FWjC-oFkxtBVvlnEopQ-" + std::to_string(i);
      std::string body =
          "{\"id\":\"" + id +
          "\",\"kind\":\"download.completed\",\"drop\":\"summer-tape\",\"account\":\"buyer-" +
          std::to_string(i * 37 % 64) + "\",\"at\":\"2026-11-21T07:00:0" + std::to_string(i / 250) +
          "Z\",\"detail\":{\"path\":\"side-a/01.flac\",\"bytes\":4194304}}";
      plain_bytes += id.size() + body.size();
      ASSERT_TRUE(outbox->append(id, body).ok());
    }
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.str().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(
                db, "SELECT SUM(length(events)), MIN(substr(events, 1, 1)) FROM outbox_batches", -1,
                &statement, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
  auto stored_bytes = static_cast<size_t>(sqlite3_column_int64(statement, 0));
  std::string first_byte(reinterpret_cast<const char*>(sqlite3_column_text(statement, 1)));
  sqlite3_finalize(statement);
  sqlite3_close(db);
  EXPECT_EQ(first_byte, "d");  // the delta form's mark
  EXPECT_LT(stored_bytes, plain_bytes / 5) << "plain " << plain_bytes;
}

// Pushing a backlog: a few hundred events at a time out of one large batch,
// each acknowledged before the next peek; every event comes exactly once,
// in order, and nothing is left.
TEST(Outbox, ABigBatchDrainsAFewEventsAtATime) {
  TempPath path("drain");
  auto outbox = open_or_die(path.str(), 100'000);
  ASSERT_TRUE(outbox);
  constexpr int kEvents = 20'000;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(outbox->append("e" + std::to_string(i), "{\"i\":" + std::to_string(i) + "}").ok());
  }
  ASSERT_TRUE(outbox->flush().ok());
  int next = 0;
  for (int round = 0; round < 100 && next < kEvents; ++round) {
    auto events = outbox->peek(300);
    ASSERT_TRUE(events.has_value()) << events.error().to_string();
    ASSERT_FALSE(events->empty());
    ASSERT_LE(events->size(), 300u);
    for (const OutboxEvent& event : *events) {
      ASSERT_EQ(event.id, "e" + std::to_string(next));
      ASSERT_EQ(event.body_json, "{\"i\":" + std::to_string(next) + "}");
      ++next;
    }
    ASSERT_TRUE(outbox->acknowledge(events->back().seq).ok());
    EXPECT_EQ(*outbox->depth(), static_cast<uint32_t>(kEvents - next));
  }
  EXPECT_EQ(next, kEvents);
  auto rest = outbox->peek(300);
  ASSERT_TRUE(rest.has_value());
  EXPECT_TRUE(rest->empty());
}

// Acknowledging into the middle of a stored batch keeps the rest of it,
// across a reopen, and new events are numbered after everything acknowledged.
TEST(Outbox, AcknowledgingPartOfABatchSurvivesReopen) {
  TempPath path("partial");
  int64_t acked_seq = 0;
  {
    auto outbox = open_or_die(path.str(), 100);
    ASSERT_TRUE(outbox);
    {
      WriteLockHolder lock(path.str());  // all ten are queued, then written as one batch
      for (int i = 0; i < 10; ++i) ASSERT_TRUE(outbox->append("e" + std::to_string(i), "{}").ok());
    }
    auto events = outbox->peek(4);
    ASSERT_TRUE(events.has_value());
    ASSERT_EQ(events->size(), 4u);
    acked_seq = events->back().seq;
    ASSERT_TRUE(outbox->acknowledge(acked_seq).ok());
    EXPECT_EQ(*outbox->depth(), 6u);
  }
  // The acknowledgement did land inside a batch, which is still stored whole.
  EXPECT_EQ(
      query_int(path.str(), "SELECT COUNT(*) FROM outbox_batches WHERE first_seq <= ?1", acked_seq),
      1);
  auto outbox = open_or_die(path.str(), 100);
  ASSERT_TRUE(outbox);
  EXPECT_EQ(*outbox->depth(), 6u);
  ASSERT_TRUE(outbox->append("after", "{}").ok());
  auto events = outbox->peek(100);
  ASSERT_TRUE(events.has_value());
  EXPECT_EQ(ids_of(*events),
            (std::vector<std::string>{"e4", "e5", "e6", "e7", "e8", "e9", "after"}));
  EXPECT_EQ(events->front().seq, acked_seq + 1);
  ASSERT_TRUE(outbox->acknowledge(events->back().seq).ok());
  EXPECT_EQ(*outbox->depth(), 0u);
  // Everything acknowledged: the next event still gets a seq never used.
  ASSERT_TRUE(outbox->append("later", "{}").ok());
  auto later = outbox->peek(10);
  ASSERT_TRUE(later.has_value());
  ASSERT_EQ(later->size(), 1u);
  EXPECT_GT(later->front().seq, events->back().seq);
}

// An edge's server and a `dropgate edge preload` may hold the same file: one
// pushes (acknowledges) while the other writes. Seqs never collide.
TEST(Outbox, TwoOpenersOfOneFileShareItsNumbering) {
  TempPath path("two");
  auto serving = open_or_die(path.str(), 100);
  auto preloading = open_or_die(path.str(), 100);
  ASSERT_TRUE(serving && preloading);
  ASSERT_TRUE(serving->append("s1", "{}").ok());
  ASSERT_TRUE(serving->flush().ok());
  auto seen = preloading->peek(10);
  ASSERT_TRUE(seen.has_value());
  ASSERT_EQ(ids_of(*seen), (std::vector<std::string>{"s1"}));
  ASSERT_TRUE(preloading->acknowledge(seen->back().seq).ok());
  ASSERT_TRUE(preloading->append("p1", "{}").ok());
  ASSERT_TRUE(preloading->flush().ok());
  ASSERT_TRUE(serving->append("s2", "{}").ok());
  auto all = serving->peek(10);
  ASSERT_TRUE(all.has_value()) << all.error().to_string();
  EXPECT_EQ(ids_of(*all), (std::vector<std::string>{"p1", "s2"}));
  EXPECT_LT((*all)[0].seq, (*all)[1].seq);
  EXPECT_EQ(*serving->depth(), 2u);
}

// A batch row that does not parse is reported, not guessed at.
TEST(Outbox, AMalformedBatchIsAnError) {
  TempPath path("malformed");
  {
    auto outbox = open_or_die(path.str(), 100);
    ASSERT_TRUE(outbox);
  }
  ASSERT_EQ(
      run_sql(path.str(),
              "INSERT INTO outbox_batches (first_seq, count, events) VALUES (1, 2, X'313A612C'),"
              " (3, 1, CAST('1:a,9:b,' AS BLOB))"),
      "");
  auto outbox = open_or_die(path.str(), 100);
  ASSERT_TRUE(outbox);
  auto events = outbox->peek(10);
  ASSERT_FALSE(events.has_value());
  EXPECT_EQ(events.error().code(), Code::corruption);
  EXPECT_NE(events.error().message().find("seq 1"), std::string::npos)
      << events.error().to_string();
}

// The delta form (docs/formats/sync.md): a piece that does not fit, or a
// record that is no pair of netstrings, is corruption too.
TEST(Outbox, AMalformedDeltaBatchIsAnError) {
  for (const char* events :
       {// a copy reaching past the record before it
        "CAST('d' AS BLOB) || X'0808' || CAST('1:a,1:b,' AS BLOB) || X'08000009'",
        // a copy of nothing
        "CAST('d' AS BLOB) || X'0808' || CAST('1:a,1:b,' AS BLOB) || X'08000000'",
        // new bytes running past the end
        "CAST('d' AS BLOB) || X'0808' || CAST('1:a' AS BLOB)",
        // the text ends inside a record
        "CAST('d' AS BLOB) || X'0803' || CAST('1:a' AS BLOB)",
        // a whole record that is no pair of netstrings
        "CAST('d' AS BLOB) || X'0303' || CAST('1:a' AS BLOB)"}) {
    TempPath path("malformed-delta");
    {
      auto outbox = open_or_die(path.str(), 100);
      ASSERT_TRUE(outbox);
    }
    std::string sql =
        "INSERT INTO outbox_batches (first_seq, count, events) VALUES (10, 2, CAST((" +
        std::string(events) + ") AS BLOB))";
    ASSERT_EQ(run_sql(path.str(), sql.c_str()), "");
    auto outbox = open_or_die(path.str(), 100);
    ASSERT_TRUE(outbox);
    auto events_read = outbox->peek(10);
    ASSERT_FALSE(events_read.has_value()) << events;
    EXPECT_EQ(events_read.error().code(), Code::corruption) << events;
    EXPECT_NE(events_read.error().message().find("seq 10"), std::string::npos)
        << events_read.error().to_string();
  }
  // The same bytes, well formed, are two events.
  TempPath path("delta");
  {
    auto outbox = open_or_die(path.str(), 100);
    ASSERT_TRUE(outbox);
  }
  ASSERT_EQ(
      run_sql(path.str(),
              "INSERT INTO outbox_batches (first_seq, count, events) VALUES (10, 2, "
              "CAST((CAST('d' AS BLOB) || X'0808' || CAST('1:a,1:b,' AS BLOB) || X'0800000602' || "
              "CAST('c,' AS BLOB)) AS BLOB))"),
      "");
  auto outbox = open_or_die(path.str(), 100);
  ASSERT_TRUE(outbox);
  auto events = outbox->peek(10);
  ASSERT_TRUE(events.has_value()) << events.error().to_string();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].id, "a");
  EXPECT_EQ((*events)[0].body_json, "b");
  EXPECT_EQ((*events)[1].id, "a");
  EXPECT_EQ((*events)[1].body_json, "c");
  EXPECT_EQ((*events)[1].seq, 11);
}

TEST(Outbox, FlushMakesEverythingVisibleAndAcknowledgeLowersDepthExactly) {
  TempPath path("flush");
  auto outbox = open_or_die(path.str(), 100);
  ASSERT_TRUE(outbox);
  std::vector<std::string> appended;
  for (int i = 0; i < 10; ++i) {
    appended.push_back("e" + std::to_string(i));
    ASSERT_TRUE(outbox->append(appended.back(), "{\"i\":" + std::to_string(i) + "}").ok());
  }
  ASSERT_TRUE(outbox->flush().ok());
  EXPECT_EQ(*outbox->depth(), 10u);
  auto events = outbox->peek(100);
  ASSERT_TRUE(events.has_value());
  EXPECT_EQ(ids_of(*events), appended);
  EXPECT_EQ((*events)[9].body_json, R"({"i":9})");

  ASSERT_TRUE(outbox->acknowledge((*events)[3].seq).ok());
  EXPECT_EQ(*outbox->depth(), 6u);
  ASSERT_TRUE(outbox->acknowledge((*events)[3].seq).ok());  // again: nothing left to remove
  EXPECT_EQ(*outbox->depth(), 6u);
  auto rest = outbox->peek(100);
  ASSERT_TRUE(rest.has_value());
  EXPECT_EQ(ids_of(*rest), std::vector<std::string>(appended.begin() + 4, appended.end()));

  // peek() flushes first: an event appended just before is already there.
  ASSERT_TRUE(outbox->append("late", "{}").ok());
  auto with_late = outbox->peek(100);
  ASSERT_TRUE(with_late.has_value());
  ASSERT_EQ(with_late->size(), 7u);
  EXPECT_EQ(with_late->back().id, "late");
  ASSERT_TRUE(outbox->acknowledge(with_late->back().seq).ok());
  EXPECT_EQ(*outbox->depth(), 0u);
}

// Many appenders, no flush: destroying the outbox writes everything queued.
// The writer sees thousands of events at a time here, so this is also the
// test of batching.
TEST(Outbox, CleanShutdownLosesNothingAndKeepsOrder) {
  TempPath path("shutdown");
  constexpr int kThreads = 4;
  constexpr int kEventsPerThread = 5000;
  {
    auto outbox = open_or_die(path.str(), 100'000);
    ASSERT_TRUE(outbox);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEventsPerThread; ++i) {
          std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
          EXPECT_TRUE(outbox->append(id, "{\"i\":" + std::to_string(i) + "}").ok());
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  auto outbox = open_or_die(path.str(), 100'000);
  ASSERT_TRUE(outbox);
  EXPECT_EQ(*outbox->depth(), uint32_t{kThreads * kEventsPerThread});
  auto events = outbox->peek(kThreads * kEventsPerThread + 1);
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), size_t{kThreads * kEventsPerThread});
  // Each thread's events are all there, in the order it appended them.
  std::vector<int> next(kThreads, 0);
  int64_t seq_before = 0;
  for (const auto& e : *events) {
    EXPECT_GT(e.seq, seq_before);
    seq_before = e.seq;
    int t = 0, i = 0;
    ASSERT_EQ(std::sscanf(e.id.c_str(), "t%d-%d", &t, &i), 2) << e.id;
    ASSERT_TRUE(t >= 0 && t < kThreads) << e.id;
    EXPECT_EQ(i, next[t]) << e.id;
    EXPECT_EQ(e.body_json, "{\"i\":" + std::to_string(i) + "}");
    next[t] = i + 1;
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(next[t], kEventsPerThread);
}

// More events queued than one batch takes are written in batches, split
// between events, in order. The backlog builds while another connection holds
// the write lock: the writer's first attempt fails (after the 5 s busy
// timeout), and during its 1 s back-off everything else is queued, so its
// next attempt meets 40,000 events. Takes about 6 s.
TEST(Outbox, ABacklogLargerThanABatchIsWrittenWholeAndInOrder) {
  TempPath path("backlog");
  constexpr int kEvents = 40'000;  // one batch takes 32,768
  auto outbox = open_or_die(path.str(), 100'000);
  ASSERT_TRUE(outbox);
  auto append = [&](int i) {
    return outbox->append("e" + std::to_string(i), "{\"i\":" + std::to_string(i) + "}");
  };
  {
    WriteLockHolder lock(path.str());
    ASSERT_TRUE(append(0).ok());
    EXPECT_EQ(outbox->flush().code(), Code::io_error);  // the first attempt failed
    for (int i = 1; i < kEvents; ++i) ASSERT_TRUE(append(i).ok());
    EXPECT_EQ(*outbox->depth(), uint32_t{kEvents});
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!outbox->flush().ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(outbox->flush().ok());
  EXPECT_EQ(outbox->unwritten(), 0u);
  EXPECT_EQ(query_int(path.str(), "SELECT COUNT(*) FROM outbox_batches WHERE count = ?1", 32'768),
            1);
  auto events = outbox->peek(kEvents + 1);
  ASSERT_TRUE(events.has_value()) << events.error().to_string();
  ASSERT_EQ(events->size(), size_t{kEvents});
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_EQ((*events)[i].id, "e" + std::to_string(i));
    ASSERT_EQ((*events)[i].body_json, "{\"i\":" + std::to_string(i) + "}");
    if (i > 0) {
      ASSERT_EQ((*events)[i].seq, (*events)[i - 1].seq + 1);
    }
  }
}

// While the database cannot be written (here: another connection holds its
// write lock past the busy timeout), events stay queued, in order and counted;
// flush() reports the failure instead of waiting for ever; the writer retries
// on its own and everything arrives once the lock is gone. Takes about 6 s
// (the 5 s busy timeout, then the 1 s back-off). What it does not reach: a
// statement failing inside an open transaction, which needs a real full disk.
TEST(Outbox, WriteFailureKeepsEventsQueuedAndRecovers) {
  TempPath path("failure");
  auto outbox = open_or_die(path.str(), 100);
  ASSERT_TRUE(outbox);
  WriteLockHolder lock(path.str());
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(outbox->append(id, "{}").ok());
  Status flushed = outbox->flush();
  EXPECT_EQ(flushed.code(), Code::io_error) << flushed.to_string();
  EXPECT_EQ(*outbox->depth(), 3u);
  ASSERT_TRUE(outbox->append("d", "{}").ok());
  EXPECT_EQ(*outbox->depth(), 4u);
  auto stored = outbox->peek(10);  // the flush fails; what is stored (nothing) is still read
  ASSERT_TRUE(stored.has_value()) << stored.error().to_string();
  EXPECT_TRUE(stored->empty());

  lock.release();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!outbox->flush().ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(outbox->flush().ok());
  EXPECT_EQ(*outbox->depth(), 4u);
  auto events = outbox->peek(10);
  ASSERT_TRUE(events.has_value());
  EXPECT_EQ(ids_of(*events), (std::vector<std::string>{"a", "b", "c", "d"}));
}

// While events keep coming, each written batch's buffer is the queue's
// next one: later, shorter batches must hold exactly their own events,
// nothing left from before. Events arrive for about 0.7 s (several
// commits), their bodies shorter as time goes on.
TEST(Outbox, BatchesWrittenIntoAReusedBufferHoldOnlyTheirEvents) {
  TempPath path("reuse");
  auto outbox = open_or_die(path.str(), 100'000);
  ASSERT_TRUE(outbox);
  std::vector<std::string> ids, bodies;
  constexpr int kEvents = 14'000;
  for (int i = 0; i < kEvents; ++i) {
    ids.push_back("e" + std::to_string(i));
    size_t body_bytes = 1000 - static_cast<size_t>(i) * 900 / kEvents;
    bodies.push_back("{\"b\":\"" + std::string(body_bytes, static_cast<char>('a' + i % 26)) +
                     "\"}");
    ASSERT_TRUE(outbox->append(ids.back(), bodies.back()).ok());
    if (i % 100 == 99) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(outbox->flush().ok());
  auto events = outbox->peek(100'000);
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ((*events)[i].id, ids[i]);
    ASSERT_EQ((*events)[i].body_json, bodies[i]) << ids[i];
  }
}

}  // namespace
}  // namespace dg::store
