// Store conformance for payment readers and stall sales, on every backend:
// a reader's key registers once, revocation keeps its first time, a
// (reader, transaction) is recorded at most once, a decline remembered
// before the sale blocks it and one after keeps the sale's serial, cash
// claims are stored under their frozen source name.
#include <gtest/gtest.h>

#include <thread>

#include "store/store.h"
#include "store_test_support.h"

namespace dg::store {
namespace {

using testing::Backend;

constexpr int64_t kT0 = 1'800'000'000'000;

class StoreReaders : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    database_ = GetParam().make();
    ASSERT_NE(database_, nullptr) << "no " << GetParam().name << " test database";
    auto opened = database_->open(4);
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    store_ = std::move(*opened);
    ASSERT_OK(store_->migrate());
    DropSpec spec;
    spec.slug = "summer-tape";
    spec.title = "Summer Tape";
    spec.edition_size = 10;
    spec.opens_at_ms = kT0;
    spec.price_minor = 1200;
    spec.rights.license = "CC-BY-NC-4.0";
    auto drop = store_->create_drop(spec, kT0);
    ASSERT_TRUE(drop.has_value()) << drop.error().to_string();
    drop_id_ = drop->id;
  }

  static ReaderRecord reader(std::string id, std::string key) {
    return ReaderRecord{std::move(id),   "stall till", "k4.public." + key,
                        "k4.pid." + key, kT0,          std::nullopt};
  }
  ReceiptSale sale(std::string txn, uint32_t serial) const {
    ReceiptSale s;
    s.reader_id = "rdr_a";
    s.transaction = std::move(txn);
    s.drop_id = drop_id_;
    s.serial = serial;
    s.amount_minor = 1200;
    s.currency = "EUR";
    s.account = "buyer@example.com";
    s.sold_at_ms = kT0;
    return s;
  }

  std::unique_ptr<testing::TestDatabase> database_;
  std::unique_ptr<Store> store_;
  int64_t drop_id_ = 0;
};

// Checks that a reader is stored and found by id and by key id, that the
// same key cannot be registered twice (even under another id), and that an
// unknown reader is not_found.
TEST_P(StoreReaders, AReaderKeyRegistersOnceAndIsFoundByIdAndKeyId) {
  ASSERT_OK_AND_ASSIGN(ReaderRecord created, store_->create_reader(reader("rdr_a", "AAA")));
  EXPECT_EQ(created.id, "rdr_a");
  EXPECT_FALSE(created.revoked_at_ms.has_value());
  EXPECT_EQ(store_->get_reader_by_key_id("k4.pid.AAA").value_or(ReaderRecord{}).id, "rdr_a");
  EXPECT_EQ(store_->get_reader("rdr_a").value_or(ReaderRecord{}).public_key, "k4.public.AAA");
  EXPECT_CODE(store_->create_reader(reader("rdr_b", "AAA")), Code::conflict);
  EXPECT_CODE(store_->get_reader("rdr_x"), Code::not_found);
  EXPECT_CODE(store_->get_reader_by_key_id("k4.pid.ZZZ"), Code::not_found);
  ASSERT_OK(store_->create_reader(reader("rdr_b", "BBB")));
  EXPECT_EQ(store_->list_readers().value_or(std::vector<ReaderRecord>{}).size(), 2u);
}

// Checks that revoking keeps the first revocation time when repeated, and
// that revoking an unknown reader is not_found.
TEST_P(StoreReaders, RevokingAReaderKeepsTheFirstTime) {
  ASSERT_OK(store_->create_reader(reader("rdr_a", "AAA")));
  ASSERT_OK_AND_ASSIGN(ReaderRecord revoked, store_->revoke_reader("rdr_a", kT0 + 5));
  EXPECT_EQ(revoked.revoked_at_ms, kT0 + 5);
  ASSERT_OK_AND_ASSIGN(ReaderRecord again, store_->revoke_reader("rdr_a", kT0 + 9));
  EXPECT_EQ(again.revoked_at_ms, kT0 + 5);
  EXPECT_CODE(store_->revoke_reader("rdr_x", kT0), Code::not_found);
}

// Checks that a (reader, transaction) is recorded at most once: a second
// record, even with another serial, is conflict and the first row stays.
TEST_P(StoreReaders, ATransactionIsRecordedAtMostOnce) {
  ASSERT_OK_AND_ASSIGN(ReceiptSale first, store_->record_receipt_sale(sale("txn-1", 3)));
  EXPECT_EQ(first.state, SaleState::accepted);
  EXPECT_EQ(first.serial, 3u);
  EXPECT_CODE(store_->record_receipt_sale(sale("txn-1", 4)), Code::conflict);
  EXPECT_EQ(store_->get_receipt_sale("rdr_a", "txn-1").value_or(ReceiptSale{}).serial, 3u);
  EXPECT_CODE(store_->get_receipt_sale("rdr_a", "txn-2"), Code::not_found);
  ReceiptSale no_serial = sale("txn-3", 1);
  no_serial.serial.reset();
  EXPECT_CODE(store_->record_receipt_sale(no_serial), Code::invalid_argument);
}

// Checks that of many concurrent records of one transaction exactly one
// succeeds and every other is conflict.
TEST_P(StoreReaders, ConcurrentRecordsOfOneTransactionStoreOne) {
  constexpr int kThreads = 6;
  std::atomic<int> ok{0}, conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto recorded = store_->record_receipt_sale(sale("txn-race", static_cast<uint32_t>(i + 1)));
      if (recorded) {
        ++ok;
      } else if (recorded.error().code() == Code::conflict) {
        ++conflicts;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
}

// Checks that a decline before the sale is remembered (declined, no serial),
// so a later record of it is conflict; and that the decline fills in the
// serial and account it did not know when given them later.
TEST_P(StoreReaders, ADeclineBeforeTheSaleIsRememberedAndBlocksIt) {
  ReceiptSale decline = sale("txn-1", 0);
  decline.serial.reset();
  decline.account = "";
  decline.decline_reason = "card declined";
  ASSERT_OK_AND_ASSIGN(ReceiptSale declined, store_->decline_receipt_sale(decline, kT0 + 1));
  EXPECT_EQ(declined.state, SaleState::declined);
  EXPECT_FALSE(declined.serial.has_value());
  EXPECT_EQ(declined.declined_at_ms, kT0 + 1);
  EXPECT_CODE(store_->record_receipt_sale(sale("txn-1", 2)), Code::conflict);
  ASSERT_OK_AND_ASSIGN(ReceiptSale filled, store_->decline_receipt_sale(sale("txn-1", 2), kT0 + 7));
  EXPECT_EQ(filled.serial, 2u);
  EXPECT_EQ(filled.account, "buyer@example.com");
  EXPECT_EQ(filled.declined_at_ms, kT0 + 1);
  EXPECT_EQ(filled.decline_reason, "card declined");
}

// Checks that a decline after the sale keeps the sale's serial and account
// (the buyer to follow up) and marks it declined once; listing by state
// shows it with declined sales only.
TEST_P(StoreReaders, ADeclineAfterTheSaleKeepsItsSerialAndIsListedByState) {
  ASSERT_OK(store_->record_receipt_sale(sale("txn-1", 3)));
  ASSERT_OK(store_->record_receipt_sale(sale("txn-2", 4)));
  ReceiptSale decline = sale("txn-1", 9);
  decline.account = "someone-else";
  decline.decline_reason = "chargeback";
  ASSERT_OK_AND_ASSIGN(ReceiptSale declined, store_->decline_receipt_sale(decline, kT0 + 1));
  EXPECT_EQ(declined.serial, 3u);
  EXPECT_EQ(declined.account, "buyer@example.com");
  EXPECT_EQ(declined.sold_at_ms, kT0);
  ASSERT_OK_AND_ASSIGN(auto declined_only,
                       store_->list_receipt_sales(drop_id_, SaleState::declined, 0, 100));
  ASSERT_EQ(declined_only.size(), 1u);
  EXPECT_EQ(declined_only[0].transaction, "txn-1");
  ASSERT_OK_AND_ASSIGN(auto all, store_->list_receipt_sales(drop_id_, std::nullopt, 0, 100));
  EXPECT_EQ(all.size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto after_first,
                       store_->list_receipt_sales(drop_id_, std::nullopt, all[0].id, 100));
  ASSERT_EQ(after_first.size(), 1u);
  EXPECT_EQ(after_first[0].transaction, "txn-2");
}

// Checks that a cash sale is stored with its channel and reference, and
// that a claim may carry the source "cash" (the schema's CHECK allows it).
TEST_P(StoreReaders, CashSalesAndCashClaimsAreStored) {
  ReceiptSale cash = sale("idem-key-1", 5);
  cash.reader_id = "";
  cash.channel = SaleChannel::cash;
  cash.reference = "till slip 17";
  ASSERT_OK_AND_ASSIGN(ReceiptSale stored, store_->record_receipt_sale(cash));
  EXPECT_EQ(stored.channel, SaleChannel::cash);
  EXPECT_EQ(stored.reference, "till slip 17");
  ClaimInsert insert;
  insert.drop_id = drop_id_;
  insert.serial = 5;
  insert.account = "buyer@example.com";
  insert.source = ClaimSource::cash;
  insert.payment_ref = "cash:idem-key-1";
  insert.cert_id = "cert-5";
  insert.cert_token = "v4.public.cert";
  insert.at_ms = kT0;
  auto claims = store_->record_claims({insert});
  ASSERT_EQ(claims.size(), 1u);
  ASSERT_OK(claims[0]);
  EXPECT_EQ(store_->get_claim(drop_id_, 5).value_or(Claim{}).source, ClaimSource::cash);
  EXPECT_EQ(database_->query_raw("SELECT source FROM claims WHERE serial = 5"), "cash");
}

std::vector<Backend> backends() {
  return {Backend{"sqlite", testing::make_sqlite_database},
          Backend{"postgres", testing::make_postgres_database}};
}

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreReaders, ::testing::ValuesIn(backends()), backend_name);

}  // namespace
}  // namespace dg::store
