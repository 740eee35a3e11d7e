#include "store_test_support.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>

#include "support/temp_dir.h"

namespace dg::store::testing {
namespace {

constexpr const char* kPostgresHowTo =
    "DG_TEST_POSTGRES is not set, so the PostgreSQL half of the store conformance suite "
    "cannot run (it never skips). Run it through ctest, which starts a throwaway cluster:\n"
    "  ctest --test-dir <build> -R 'pg_cluster|store' --output-on-failure\n"
    "or start one yourself and point the test at it:\n"
    "  tests/support/pg_cluster.sh start /tmp/dg-pg 55432\n"
    "  DG_TEST_POSTGRES=postgresql://postgres@127.0.0.1:55432/dropgate_test "
    "<build>/tests/store/store_conformance_test\n"
    "  tests/support/pg_cluster.sh stop /tmp/dg-pg";

class SqliteTestDatabase final : public TestDatabase {
 public:
  SqliteTestDatabase() {
    if (dir_.path().empty()) {
      ADD_FAILURE() << "no temporary folder";
      return;
    }
    path_ = (dir_.path() / "store.db").string();
  }

  Result<std::unique_ptr<Store>> open(uint32_t connections) override {
    return open_sqlite(path_, connections);
  }

  void exec_raw(const std::string& sql) override {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10'000);
    char* message = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    EXPECT_EQ(rc, SQLITE_OK) << (message != nullptr ? message : "") << "\n" << sql;
    sqlite3_free(message);
    sqlite3_close(db);
  }

  std::string query_raw(const std::string& sql) override {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    std::string out;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db) << "\n"
        << sql;
    if (statement != nullptr && sqlite3_step(statement) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(statement, 0);
      if (text != nullptr) out = reinterpret_cast<const char*>(text);
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return out;
  }

  // A row that violates a DEFERRABLE INITIALLY DEFERRED foreign key: the
  // insert succeeds, the COMMIT fails (the store's connections enable
  // foreign keys, as production does).
  void arm_commit_failure() override {
    exec_raw(
        "CREATE TABLE commit_bomb_parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE commit_bomb (parent INTEGER REFERENCES commit_bomb_parent (id) "
        "DEFERRABLE INITIALLY DEFERRED);"
        "CREATE TRIGGER commit_bomb_on_api_key AFTER INSERT ON api_keys BEGIN "
        "INSERT INTO commit_bomb (parent) VALUES (1); END;");
  }

 private:
  dg::testing::TempDir dir_;
  std::string path_;
};

class PostgresTestDatabase final : public TestDatabase {
 public:
  explicit PostgresTestDatabase(std::string conninfo) : conninfo_(std::move(conninfo)) {
    // Every test case starts from an empty schema.
    exec_raw("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;");
  }

  Result<std::unique_ptr<Store>> open(uint32_t connections) override {
    return open_postgres(conninfo_, connections);
  }

  void exec_raw(const std::string& sql) override {
    PGconn* connection = PQconnectdb(conninfo_.c_str());
    ASSERT_EQ(PQstatus(connection), CONNECTION_OK) << PQerrorMessage(connection);
    PQsetNoticeProcessor(
        connection, [](void*, const char*) {}, nullptr);
    PGresult* result = PQexec(connection, sql.c_str());
    ExecStatusType status = PQresultStatus(result);
    EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        << PQresultErrorMessage(result) << "\n"
        << sql;
    PQclear(result);
    PQfinish(connection);
  }

  std::string query_raw(const std::string& sql) override {
    PGconn* connection = PQconnectdb(conninfo_.c_str());
    EXPECT_EQ(PQstatus(connection), CONNECTION_OK) << PQerrorMessage(connection);
    PGresult* result = PQexec(connection, sql.c_str());
    EXPECT_EQ(PQresultStatus(result), PGRES_TUPLES_OK) << PQresultErrorMessage(result) << "\n"
                                                       << sql;
    std::string out;
    if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) > 0 &&
        PQnfields(result) > 0 && !PQgetisnull(result, 0, 0)) {
      out = PQgetvalue(result, 0, 0);
    }
    PQclear(result);
    PQfinish(connection);
    return out;
  }

  // A deferred constraint trigger that raises: it runs at COMMIT.
  void arm_commit_failure() override {
    exec_raw(
        "CREATE FUNCTION commit_bomb() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'commit bomb'; END $$;"
        "CREATE CONSTRAINT TRIGGER commit_bomb_on_api_key AFTER INSERT ON api_keys "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION commit_bomb();");
  }

 private:
  std::string conninfo_;
};

}  // namespace

std::unique_ptr<TestDatabase> make_sqlite_database() {
  return std::make_unique<SqliteTestDatabase>();
}

std::unique_ptr<TestDatabase> make_postgres_database() {
  const char* conninfo = std::getenv("DG_TEST_POSTGRES");
  if (conninfo == nullptr || *conninfo == '\0') {
    ADD_FAILURE() << kPostgresHowTo;
    return nullptr;
  }
  return std::make_unique<PostgresTestDatabase>(conninfo);
}

}  // namespace dg::store::testing
