// Claim codes in the store, on every backend (as store_conformance_test.cc):
// a batch reserves its serials out of the pool, never more than are unleased;
// a code is used once its serial is claimed, and only once even when two
// redemptions race; revoking returns unused codes' serials to the pool and
// leaves used codes used.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "base/limits.h"
#include "store/store.h"
#include "store_test_support.h"

namespace dg::store {
namespace {

using testing::Backend;
using testing::TestDatabase;

constexpr int64_t kT0 = 1'800'000'000'000;  // a fixed "now", Unix ms

std::vector<std::string> hashes(const std::string& prefix, uint32_t count) {
  std::vector<std::string> out;
  for (uint32_t i = 0; i < count; ++i) out.push_back(prefix + "-" + std::to_string(i));
  return out;
}

class CodeStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    database_ = GetParam().make();
    ASSERT_NE(database_, nullptr) << "no " << GetParam().name << " test database";
    auto store = database_->open(8);
    ASSERT_TRUE(store.has_value()) << store.error().to_string();
    store_ = std::move(*store);
    ASSERT_OK(store_->migrate());
    DropSpec spec;
    spec.slug = "tape";
    spec.title = "Summer Tape";
    spec.edition_size = 10;
    spec.opens_at_ms = kT0;
    spec.per_buyer_limit = 5;
    spec.rights.license = "CC-BY-NC-4.0";
    auto drop = store_->create_drop(spec, kT0);
    ASSERT_TRUE(drop.has_value()) << drop.error().to_string();
    drop_id_ = drop->id;
  }

  // The claim a redemption of `code` writes: its reserved serial, sold under
  // its batch's seller (the lease check is what ties a claim to its code).
  ClaimInsert redemption(const ClaimCodeRecord& code, const std::string& account) {
    ClaimInsert insert;
    insert.drop_id = code.drop_id;
    insert.serial = code.serial;
    insert.account = account;
    insert.source = ClaimSource::code;
    insert.payment_ref = "code:" + std::to_string(code.id);
    insert.cert_id = "cert-" + account + "-" + std::to_string(code.serial);
    insert.cert_token = "v4.public.t";
    insert.per_buyer_limit = 5;
    insert.at_ms = kT0;
    insert.seller_id = code_batch_seller_id(code.batch_id);
    return insert;
  }

  std::unique_ptr<TestDatabase> database_;
  std::unique_ptr<Store> store_;
  int64_t drop_id_ = 0;
};

// Checks that a batch takes its serials out of the pool (the unleased count
// falls by the batch size, each code has its own serial, and no lease the
// origin takes afterwards overlaps them), and that a batch larger than what
// is unleased is refused whole, leaving the pool as it was.
TEST_P(CodeStoreTest, ABatchReservesAtMostTheUnleasedSerials) {
  ASSERT_OK(store_->register_seller("origin-1", SellerKind::origin, "host:1", kT0));
  ASSERT_OK(store_->issue_lease(drop_id_, "origin-1", 3, kT0));  // 1..3
  ASSERT_OK_AND_ASSIGN(CodeBatch batch, store_->create_code_batch(drop_id_, "flyers", "origin",
                                                                  hashes("a", 4), kT0));
  EXPECT_EQ(batch.generated, 4u);
  EXPECT_EQ(store_->unleased_count(drop_id_).value_or(99), 3u);
  std::set<uint32_t> serials;
  for (const std::string& hash : hashes("a", 4)) {
    ASSERT_OK_AND_ASSIGN(ClaimCodeRecord code, store_->find_claim_code(hash));
    EXPECT_EQ(code.batch_id, batch.id);
    EXPECT_EQ(code.redeemer, "origin");
    EXPECT_FALSE(code.used);
    serials.insert(code.serial);
  }
  EXPECT_EQ(serials, (std::set<uint32_t>{4, 5, 6, 7}));

  EXPECT_CODE(store_->create_code_batch(drop_id_, "too many", "origin", hashes("b", 4), kT0),
              Code::conflict);
  EXPECT_CODE(store_->find_claim_code("b-0"), Code::not_found);
  EXPECT_EQ(store_->unleased_count(drop_id_).value_or(99), 3u);
  ASSERT_OK_AND_ASSIGN(Lease lease, store_->issue_lease(drop_id_, "origin-1", 10, kT0));
  EXPECT_EQ(lease.first_serial, 8u);
  EXPECT_EQ(lease.last_serial, 10u);
  EXPECT_CODE(store_->create_code_batch(drop_id_, "none left", "origin", hashes("c", 1), kT0),
              Code::conflict);
}

// Checks the refusals of a bad batch: none or too many codes, a hash used
// before, an unknown drop.
TEST_P(CodeStoreTest, RefusesABadBatch) {
  EXPECT_CODE(store_->create_code_batch(drop_id_, "", "origin", {}, kT0), Code::invalid_argument);
  EXPECT_CODE(store_->create_code_batch(drop_id_, "", "origin",
                                        hashes("x", limits::code_batch_count_max + 1), kT0),
              Code::invalid_argument);
  EXPECT_CODE(store_->create_code_batch(drop_id_ + 100, "", "origin", hashes("x", 1), kT0),
              Code::not_found);
  ASSERT_OK(store_->create_code_batch(drop_id_, "", "origin", hashes("x", 1), kT0));
  EXPECT_CODE(store_->create_code_batch(drop_id_, "", "origin", hashes("x", 2), kT0),
              Code::conflict);
  EXPECT_EQ(store_->unleased_count(drop_id_).value_or(99), 9u);
}

// Checks that a code's serial can be claimed once: the claim under the
// batch's seller makes the code used; a second claim of that serial (a
// reused code) is refused; the listing counts it.
TEST_P(CodeStoreTest, ACodeIsUsedOnce) {
  ASSERT_OK(store_->create_code_batch(drop_id_, "flyers", "origin", hashes("a", 2), kT0));
  ASSERT_OK_AND_ASSIGN(ClaimCodeRecord code, store_->find_claim_code("a-0"));
  auto first = store_->record_claims({redemption(code, "ann")});
  ASSERT_OK(first[0]);
  EXPECT_TRUE(store_->find_claim_code("a-0").value().used);
  auto again = store_->record_claims({redemption(code, "bob")});
  EXPECT_CODE(again[0], Code::conflict);
  ASSERT_OK_AND_ASSIGN(std::vector<CodeBatch> batches, store_->list_code_batches(drop_id_));
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].generated, 2u);
  EXPECT_EQ(batches[0].used, 1u);
  EXPECT_EQ(batches[0].revoked, 0u);
  EXPECT_EQ(batches[0].unused(), 1u);
}

// Checks that of many concurrent redemptions of one code (two store
// handles, as two origin processes) exactly one gets the serial.
TEST_P(CodeStoreTest, ConcurrentRedemptionsOfOneCodeGiveOneSerial) {
  ASSERT_OK(store_->create_code_batch(drop_id_, "flyers", "origin", hashes("a", 1), kT0));
  ASSERT_OK_AND_ASSIGN(ClaimCodeRecord code, store_->find_claim_code("a-0"));
  auto second = database_->open(8);
  ASSERT_TRUE(second.has_value());
  constexpr int kThreads = 8;
  std::atomic<int> won{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? *store_ : **second;
      auto result = store.record_claims({redemption(code, "buyer-" + std::to_string(t))});
      if (result[0]) {
        ++won;
      } else if (result[0].error().code() == Code::conflict) {
        ++refused;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(refused.load(), kThreads - 1);
  EXPECT_EQ(store_->claim_count(drop_id_).value_or(0), 1u);
}

// Checks revocation: a batch's unused codes are revoked and their serials
// return to the pool (unleased count rises, a new lease gets them); a used
// code stays used; revoking again changes nothing; the revoked code's serial
// can no longer be claimed under the batch's seller.
TEST_P(CodeStoreTest, RevokingReturnsUnusedSerialsAndKeepsUsedCodes) {
  ASSERT_OK_AND_ASSIGN(CodeBatch batch, store_->create_code_batch(drop_id_, "flyers", "origin",
                                                                  hashes("a", 3), kT0));
  ASSERT_OK_AND_ASSIGN(ClaimCodeRecord used, store_->find_claim_code("a-0"));
  ASSERT_OK_AND_ASSIGN(ClaimCodeRecord unused, store_->find_claim_code("a-1"));
  ASSERT_OK(store_->record_claims({redemption(used, "ann")})[0]);
  EXPECT_EQ(store_->unleased_count(drop_id_).value_or(0), 7u);

  ASSERT_OK_AND_ASSIGN(CodeRevocation revoked,
                       store_->revoke_claim_codes(drop_id_, batch.id, "", kT0 + 1));
  EXPECT_EQ(revoked.revoked, 2u);
  EXPECT_EQ(revoked.already_used, 1u);
  EXPECT_EQ(store_->unleased_count(drop_id_).value_or(0), 9u);
  EXPECT_TRUE(store_->find_claim_code("a-0").value().used);
  EXPECT_TRUE(store_->find_claim_code("a-1").value().revoked_at_ms.has_value());
  EXPECT_CODE(store_->record_claims({redemption(unused, "bob")})[0], Code::conflict);

  ASSERT_OK_AND_ASSIGN(CodeRevocation again,
                       store_->revoke_claim_codes(drop_id_, batch.id, "", kT0 + 2));
  EXPECT_EQ(again.revoked, 0u);
  ASSERT_OK_AND_ASSIGN(std::vector<CodeBatch> batches, store_->list_code_batches(drop_id_));
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].used, 1u);
  EXPECT_EQ(batches[0].revoked, 2u);
  EXPECT_EQ(batches[0].unused(), 0u);

  // The returned serials are leased again, lowest first.
  ASSERT_OK(store_->register_seller("origin-1", SellerKind::origin, "host:1", kT0));
  ASSERT_OK_AND_ASSIGN(Lease lease, store_->issue_lease(drop_id_, "origin-1", 5, kT0));
  EXPECT_EQ(lease.first_serial, 2u);
  EXPECT_EQ(lease.last_serial, 3u);
}

// Checks revoking one code by its hash, and the refusals: a code or batch
// of another drop, or naming neither.
TEST_P(CodeStoreTest, RevokesOneCode) {
  ASSERT_OK_AND_ASSIGN(CodeBatch batch, store_->create_code_batch(drop_id_, "flyers", "origin",
                                                                  hashes("a", 2), kT0));
  ASSERT_OK_AND_ASSIGN(CodeRevocation one, store_->revoke_claim_codes(drop_id_, 0, "a-1", kT0));
  EXPECT_EQ(one.revoked, 1u);
  EXPECT_FALSE(store_->find_claim_code("a-0").value().revoked_at_ms.has_value());
  EXPECT_EQ(store_->unleased_count(drop_id_).value_or(0), 9u);
  EXPECT_CODE(store_->revoke_claim_codes(drop_id_ + 1, batch.id, "", kT0), Code::not_found);
  EXPECT_CODE(store_->revoke_claim_codes(drop_id_, 0, "nope", kT0), Code::not_found);
  EXPECT_CODE(store_->revoke_claim_codes(drop_id_, 0, "", kT0), Code::invalid_argument);
}

// Checks that a batch's serials are never reclaimed by timeout: a pass of
// reclaim_dead_sellers long after the batch was made returns nothing.
TEST_P(CodeStoreTest, ReservedSerialsAreNeverReclaimedByTimeout) {
  ASSERT_OK(store_->create_code_batch(drop_id_, "flyers", "origin", hashes("a", 4), kT0));
  EXPECT_EQ(store_->reclaim_dead_sellers(kT0 + 365LL * 86'400'000, 1000).value_or(99), 0u);
  EXPECT_EQ(store_->unleased_count(drop_id_).value_or(0), 6u);
}

std::vector<Backend> backends() {
  return {Backend{"sqlite", testing::make_sqlite_database},
          Backend{"postgres", testing::make_postgres_database}};
}

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Backends, CodeStoreTest, ::testing::ValuesIn(backends()), backend_name);

}  // namespace
}  // namespace dg::store
