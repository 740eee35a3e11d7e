// Test databases for the store conformance suite: a temp SQLite file, or a
// PostgreSQL database reset to an empty schema. Each test case gets its own.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "base/status.h"
#include "store/store.h"

namespace dg::store::testing {

class TestDatabase {
 public:
  virtual ~TestDatabase() = default;
  // A new Store on this database (call again for a second "process").
  virtual Result<std::unique_ptr<Store>> open(uint32_t connections) = 0;
  // Runs SQL on the database behind the store's back (fault injection).
  virtual void exec_raw(const std::string& sql) = 0;
  // The first column of the first row of `sql`, run behind the store's back
  // ("" when there is no row or it is NULL).
  virtual std::string query_raw(const std::string& sql) = 0;
  // From now on, COMMIT of a transaction that inserted into api_keys fails at
  // commit time — a real failed COMMIT, through the store's real path.
  virtual void arm_commit_failure() = 0;
};

struct Backend {
  std::string name;
  // Returns null after reporting a failure (e.g. PostgreSQL not configured).
  std::function<std::unique_ptr<TestDatabase>()> make;
};

// gtest prints a failing test's parameter; the name is all that says anything.
inline void PrintTo(const Backend& backend, std::ostream* out) {
  *out << backend.name;
}

std::unique_ptr<TestDatabase> make_sqlite_database();
std::unique_ptr<TestDatabase> make_postgres_database();

inline bool is_ok(const Status& status) {
  return status.ok();
}
template <typename T>
bool is_ok(const Result<T>& result) {
  return result.has_value();
}
inline Code code_of(const Status& status) {
  return status.code();
}
template <typename T>
Code code_of(const Result<T>& result) {
  return result ? Code::ok : result.error().code();
}
inline std::string describe(const Status& status) {
  return status.to_string();
}
template <typename T>
std::string describe(const Result<T>& result) {
  return result ? "ok" : result.error().to_string();
}

}  // namespace dg::store::testing

#define DG_TEST_CONCAT_INNER(a, b) a##b
#define DG_TEST_CONCAT(a, b) DG_TEST_CONCAT_INNER(a, b)

#define ASSERT_OK(expr)                                                           \
  do {                                                                            \
    const auto dg_result_ = (expr); /* a copy: expr may refer into a temporary */ \
    ASSERT_TRUE(::dg::store::testing::is_ok(dg_result_))                          \
        << #expr << ": " << ::dg::store::testing::describe(dg_result_);           \
  } while (0)

#define EXPECT_OK(expr)                                                           \
  do {                                                                            \
    const auto dg_result_ = (expr); /* a copy: expr may refer into a temporary */ \
    EXPECT_TRUE(::dg::store::testing::is_ok(dg_result_))                          \
        << #expr << ": " << ::dg::store::testing::describe(dg_result_);           \
  } while (0)

#define EXPECT_CODE(expr, expected)                                               \
  do {                                                                            \
    const auto dg_result_ = (expr); /* a copy: expr may refer into a temporary */ \
    EXPECT_EQ(::dg::store::testing::code_of(dg_result_), (expected))              \
        << #expr << ": " << ::dg::store::testing::describe(dg_result_);           \
  } while (0)

#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                             \
  auto DG_TEST_CONCAT(dg_result_, __LINE__) = (expr);                               \
  ASSERT_TRUE(DG_TEST_CONCAT(dg_result_, __LINE__).has_value())                     \
      << #expr << ": " << DG_TEST_CONCAT(dg_result_, __LINE__).error().to_string(); \
  lhs = std::move(*DG_TEST_CONCAT(dg_result_, __LINE__))
