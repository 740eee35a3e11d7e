// Fast SQLite-only checks of the store (the unit label, so the sanitizer run
// covers the store). The full contract is tests/store/store_conformance_test.cc.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <set>
#include <thread>

#include "store/schema.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace dg::store {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_.path().empty()) << "no temporary folder";
    path_ = (temp_.path() / "store.db").string();
    store_ = open(4);
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(store_->migrate().ok());
  }
  void TearDown() override { store_.reset(); }

  std::unique_ptr<Store> open(uint32_t read_connections) {
    Result<std::unique_ptr<Store>> store = open_sqlite(path_, read_connections);
    EXPECT_TRUE(store.has_value()) << store.error().to_string();
    return store ? std::move(*store) : nullptr;
  }

  // One value from SQL run on the file directly, as an operator would.
  std::string raw_value(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    std::string value;
    if (sqlite3_step(statement) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(statement, 0);
      value = text == nullptr ? "" : reinterpret_cast<const char*>(text);
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return value;
  }

  void raw_exec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  int64_t make_drop(const std::string& slug, uint32_t edition_size) {
    DropSpec spec;
    spec.slug = slug;
    spec.title = "Tape";
    spec.edition_size = edition_size;
    spec.rights.license = "CC-BY-4.0";
    Result<Drop> drop = store_->create_drop(spec, kT0);
    EXPECT_TRUE(drop.has_value()) << drop.error().to_string();
    return drop ? drop->id : 0;
  }

  dg::testing::TempDir temp_;  // first: removed after what uses it
  std::string path_;
  std::unique_ptr<Store> store_;
};

TEST_F(SqliteStoreTest, TheFileIsInWalModeWithItsMigrationRecorded) {
  EXPECT_EQ(raw_value("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw_value("SELECT MAX(version) FROM schema_migrations"),
            std::to_string(latest_schema_version()));
  EXPECT_EQ(raw_value("SELECT name FROM schema_migrations WHERE version = 1"), "initial schema");
  EXPECT_EQ(store_->schema_version().value_or(-1), latest_schema_version());
}

TEST_F(SqliteStoreTest, ForeignKeysAreEnforced) {
  Status status = store_->put_asset(12345, {"a.flac", 1, "sha", "audio/flac"});
  EXPECT_EQ(status.code(), Code::not_found) << status.to_string();
}

TEST_F(SqliteStoreTest, AcknowledgedWritesSurviveClosingAndReopening) {
  int64_t drop_id = make_drop("tape", 10);
  ASSERT_TRUE(store_->register_seller("origin-1", SellerKind::origin, "slot", kT0).ok());
  ASSERT_TRUE(store_->issue_lease(drop_id, "origin-1", 4, kT0).has_value());
  ClaimInsert insert;
  insert.drop_id = drop_id;
  insert.serial = 2;
  insert.account = "alice";
  insert.at_ms = kT0;
  ASSERT_TRUE(store_->record_claims({insert})[0].has_value());
  store_.reset();
  store_ = open(4);
  ASSERT_NE(store_, nullptr);
  ASSERT_TRUE(store_->migrate().ok());  // a restart migrates again: a no-op
  EXPECT_EQ(store_->get_claim(drop_id, 2).value().account, "alice");
  auto leases = store_->seller_leases("origin-1", kT0);
  ASSERT_TRUE(leases.has_value());
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_EQ((*leases)[0].available_serials, (std::vector<uint32_t>{1, 3, 4}));
}

TEST_F(SqliteStoreTest, ReadsShareTheWriterWhenThereAreNoReadConnections) {
  std::unique_ptr<Store> single = open(0);
  ASSERT_NE(single, nullptr);
  int64_t drop_id = make_drop("tape", 10);
  EXPECT_EQ(single->get_drop_by_id(drop_id).value().spec.slug, "tape");
  EXPECT_EQ(single->unleased_count(drop_id).value_or(0), 10u);
}

TEST_F(SqliteStoreTest, ReadsGoOnWhileAnotherProcessHoldsTheWriteLock) {
  make_drop("tape", 10);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE; UPDATE drops SET title = 'uncommitted';", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  auto drop = store_->get_drop("tape");  // WAL: a reader sees the last commit, unblocked
  ASSERT_TRUE(drop.has_value()) << drop.error().to_string();
  EXPECT_EQ(drop->spec.title, "Tape");
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_EQ(store_->get_drop("tape").value().spec.title, "uncommitted");
}

TEST_F(SqliteStoreTest, ADamagedRowIsCorruptionNotACrash) {
  make_drop("tape", 10);
  raw_exec("UPDATE drops SET rights_json = 'not json' WHERE slug = 'tape'");
  EXPECT_EQ(store_->get_drop("tape").error().code(), Code::corruption);
  EXPECT_EQ(store_->list_drops("", 10).error().code(), Code::corruption);
}

TEST_F(SqliteStoreTest, AFailedCommitMakesTheStoreRefuseWrites) {
  int64_t drop_id = make_drop("tape", 10);
  raw_exec(
      "CREATE TABLE bomb_parent (id INTEGER PRIMARY KEY);"
      "CREATE TABLE bomb (parent INTEGER REFERENCES bomb_parent (id) "
      "DEFERRABLE INITIALLY DEFERRED);"
      "CREATE TRIGGER bomb_on_key AFTER INSERT ON api_keys BEGIN "
      "INSERT INTO bomb (parent) VALUES (1); END;");
  EXPECT_EQ(store_->add_api_key("k", "label", kT0).code(), Code::unavailable);
  EXPECT_EQ(store_->create_drop(DropSpec{"x", "x", 1}, kT0).error().code(), Code::unavailable);
  EXPECT_FALSE(store_->api_key_exists("k").value_or(true));
  EXPECT_TRUE(store_->get_drop_by_id(drop_id).has_value());
}

TEST_F(SqliteStoreTest, ThreadsLeasingAtOnceNeverShareASerial) {
  constexpr int kThreads = 4;
  constexpr uint32_t kEdition = 100;
  int64_t drop_id = make_drop("tape", kEdition);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(store_
                    ->register_seller("s" + std::to_string(t), SellerKind::origin,
                                      "slot" + std::to_string(t), kT0)
                    .ok());
  }
  std::vector<std::vector<uint32_t>> serials(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (;;) {
        auto lease = store_->issue_lease(drop_id, "s" + std::to_string(t), 3, kT0);
        if (!lease) return;
        for (uint32_t s = lease->first_serial; s <= lease->last_serial; ++s) {
          serials[t].push_back(s);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::multiset<uint32_t> all;
  for (const auto& per_thread : serials) all.insert(per_thread.begin(), per_thread.end());
  ASSERT_EQ(all.size(), kEdition);
  for (uint32_t s = 1; s <= kEdition; ++s) EXPECT_EQ(all.count(s), 1u) << s;
}

TEST(SqliteStoreOpen, RefusesWhatCannotBeDurable) {
  EXPECT_EQ(open_sqlite(":memory:").error().code(), Code::invalid_argument);
  EXPECT_EQ(open_sqlite("").error().code(), Code::invalid_argument);
  EXPECT_EQ(open_sqlite("/nonexistent-dir/x/store.db").error().code(), Code::io_error);
  EXPECT_EQ(open_sqlite("/tmp/never-created.db", limits::store_connections_max + 1).error().code(),
            Code::invalid_argument);
}

TEST(OpenStore, PicksPostgresByScheme) {
  // Port 1 on loopback refuses at once: the PostgreSQL driver was chosen.
  auto store = open_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", 2);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), Code::unavailable);
  EXPECT_NE(store.error().message().find("PostgreSQL"), std::string::npos)
      << store.error().message();
  EXPECT_EQ(open_store("postgres://x@127.0.0.1:1/y", 0).error().code(), Code::invalid_argument);
}

}  // namespace
}  // namespace dg::store
