#include "store/sql.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "store/schema.h"
#include "store/store.h"

namespace dg::store {
namespace {

class FakeConnection final : public sql::Connection {
 public:
  explicit FakeConnection(std::atomic<int>* closed) : closed_(closed) {}
  ~FakeConnection() override { closed_->fetch_add(1); }
  Result<sql::Rows> run(std::string_view, std::span<const sql::Value>) override {
    return sql::Rows(0);
  }
  Status exec(std::string_view) override { return Status(); }
  bool reusable() override { return reusable_; }
  void break_it() { reusable_ = false; }

 private:
  std::atomic<int>* closed_;
  bool reusable_ = true;
};

struct FakeFactory {
  std::atomic<int> opened{0};
  std::atomic<int> closed{0};
  bool fail = false;
  sql::ConnectionPool::Factory make() {
    return [this]() -> Result<std::unique_ptr<sql::Connection>> {
      if (fail) return error(Code::unavailable, "refused");
      opened++;
      return std::unique_ptr<sql::Connection>(std::make_unique<FakeConnection>(&closed));
    };
  }
};

TEST(ConnectionPool, ReusesConnectionsAndOpensAtMostItsSize) {
  FakeFactory factory;
  sql::ConnectionPool pool("test", 2, factory.make(), 1000);
  {
    auto a = pool.checkout();
    auto b = pool.checkout();
    ASSERT_TRUE(a && b);
  }
  auto c = pool.checkout();
  ASSERT_TRUE(c);
  EXPECT_EQ(factory.opened.load(), 2);
}

TEST(ConnectionPool, CheckoutWaitsABoundedTimeThenIsUnavailable) {
  FakeFactory factory;
  sql::ConnectionPool pool("test", 1, factory.make(), 50);
  auto held = pool.checkout();
  ASSERT_TRUE(held);
  auto start = std::chrono::steady_clock::now();
  auto second = pool.checkout();
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Code::unavailable);
  EXPECT_GE(waited, std::chrono::milliseconds(45));
  EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST(ConnectionPool, AWaitingCheckoutGetsTheReturnedConnection) {
  FakeFactory factory;
  sql::ConnectionPool pool("test", 1, factory.make(), 5000);
  std::optional<sql::ConnectionPool::Handle> held;
  held.emplace(*pool.checkout());
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    held.reset();
  });
  auto second = pool.checkout();
  releaser.join();
  EXPECT_TRUE(second);
  EXPECT_EQ(factory.opened.load(), 1);
}

TEST(ConnectionPool, ABrokenConnectionIsReplacedOnTheNextCheckout) {
  FakeFactory factory;
  sql::ConnectionPool pool("test", 1, factory.make(), 1000);
  {
    auto handle = pool.checkout();
    ASSERT_TRUE(handle);
    static_cast<FakeConnection&>(**handle).break_it();
  }
  EXPECT_EQ(factory.closed.load(), 1);
  auto again = pool.checkout();
  ASSERT_TRUE(again);
  EXPECT_EQ(factory.opened.load(), 2);
}

TEST(ConnectionPool, AFailedConnectFreesItsSlot) {
  FakeFactory factory;
  factory.fail = true;
  sql::ConnectionPool pool("test", 1, factory.make(), 1000);
  EXPECT_EQ(pool.checkout().error().code(), Code::unavailable);
  factory.fail = false;
  EXPECT_TRUE(pool.checkout());  // not stuck waiting for the failed slot
}

TEST(RowReader, ReadsTypedColumnsInOrder) {
  sql::Rows rows(4);
  for (auto cell : {std::optional<std::string>("-42"), std::optional<std::string>("7"),
                    std::optional<std::string>(), std::optional<std::string>("text")}) {
    rows.add_cell(cell);
  }
  sql::RowReader reader(rows, 0);
  EXPECT_EQ(reader.int64(), -42);
  EXPECT_EQ(reader.uint32(), 7u);
  EXPECT_FALSE(reader.optional_int64().has_value());
  EXPECT_EQ(reader.text(), "text");
  EXPECT_TRUE(reader.status().ok()) << reader.status().to_string();
}

TEST(RowReader, ABadCellIsCorruptionNamingItsColumn) {
  sql::Rows rows(3);
  rows.add_cell("1");
  rows.add_cell("12abc");
  rows.add_cell(std::nullopt);
  sql::RowReader reader(rows, 0);
  reader.int64();
  reader.int64();
  reader.text();
  EXPECT_EQ(reader.status().code(), Code::corruption);
  EXPECT_NE(reader.status().message().find("column 1"), std::string::npos)
      << reader.status().message();

  rows = sql::Rows(1);
  rows.add_cell("-1");
  sql::RowReader out_of_range(rows, 0);
  out_of_range.uint32();
  EXPECT_EQ(out_of_range.status().code(), Code::corruption);

  sql::RowReader null_required(rows, 0);
  null_required.int64();
  null_required.text();  // past the last column
  EXPECT_EQ(null_required.status().code(), Code::corruption);
}

TEST(Schema, BothBackendsHaveTheSameNumberedMigrations) {
  auto sqlite = sqlite_migrations();
  auto postgres = postgres_migrations();
  ASSERT_EQ(sqlite.size(), postgres.size());
  for (size_t i = 0; i < sqlite.size(); ++i) {
    EXPECT_EQ(sqlite[i].version, static_cast<int>(i + 1));
    EXPECT_EQ(postgres[i].version, sqlite[i].version);
    EXPECT_EQ(postgres[i].name, sqlite[i].name);
  }
  EXPECT_EQ(latest_schema_version(), static_cast<int>(sqlite.size()));
}

TEST(Names, RoundTripAndRefuseUnknown) {
  for (DropState state : {DropState::draft, DropState::scheduled, DropState::live,
                          DropState::paused, DropState::closed}) {
    EXPECT_EQ(parse_drop_state(drop_state_name(state)), state);
  }
  for (ClaimSource source :
       {ClaimSource::free, ClaimSource::payment, ClaimSource::receipt, ClaimSource::code,
        ClaimSource::entitlement, ClaimSource::operator_grant, ClaimSource::cash}) {
    EXPECT_EQ(parse_claim_source(claim_source_name(source)), source);
  }
  EXPECT_EQ(parse_seller_kind("edge"), SellerKind::edge);
  EXPECT_EQ(seller_kind_name(SellerKind::origin), "origin");
  EXPECT_FALSE(parse_drop_state("Live").has_value());
  EXPECT_FALSE(parse_claim_source("").has_value());
  EXPECT_EQ(claim_source_name(ClaimSource::cash), "cash");  // frozen: stored, and in CHECKs
  EXPECT_FALSE(parse_seller_kind("cdn").has_value());
}

}  // namespace
}  // namespace dg::store
