// The seller's lease refill against a real SQLite store and a manual clock:
// when it asks the store for serials, how many, what comes back to it (given
// back, expired holds) and what it gives back (stop), and how it recovers
// when the store no longer knows it.
#include "origin/seller.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "core/lease.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace dg::origin {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000;
constexpr char kInstance[] = "host:8080";

using dg::testing::TempDir;

class SellerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << "mkdtemp failed";
    auto opened = store::open_sqlite((dir_.path() / "store.db").string());
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->migrate().ok());
  }

  int64_t make_drop(uint32_t edition_size) {
    store::DropSpec spec;
    spec.slug = "drop-" + std::to_string(++drops_);
    spec.title = "Summer Tape";
    spec.edition_size = edition_size;
    spec.opens_at_ms = kT0;
    spec.per_buyer_limit = 100;
    spec.rights.license = "CC-BY-NC-4.0";
    auto drop = store_->create_drop(spec, kT0);
    EXPECT_TRUE(drop.has_value()) << drop.error().to_string();
    return drop ? drop->id : 0;
  }

  std::unique_ptr<Seller> started_seller(uint32_t lease_serials_max = 1000,
                                         uint32_t lease_share_divisor = 16) {
    auto seller = std::make_unique<Seller>(
        *store_, clock_, SellerOptions{kInstance, lease_serials_max, lease_share_divisor});
    Status started = seller->start();
    EXPECT_TRUE(started.ok()) << started.to_string();
    return seller;
  }

  // The leases the store says `seller` holds, as runs of serials.
  std::vector<core::SerialRun> leases_of(const Seller& seller) {
    std::vector<core::SerialRun> out;
    auto leases = store_->seller_leases(seller.id(), clock_.now_ms());
    EXPECT_TRUE(leases.has_value()) << leases.error().to_string();
    if (leases) {
      for (const auto& l : *leases) out.push_back({l.lease.first_serial, l.lease.last_serial});
    }
    return out;
  }

  uint32_t unleased(int64_t drop_id) {
    auto count = store_->unleased_count(drop_id);
    EXPECT_TRUE(count.has_value()) << count.error().to_string();
    return count.value_or(0);
  }

  Result<store::Claim> sell(int64_t drop_id, uint32_t serial, const Seller& seller) {
    store::ClaimInsert insert;
    insert.drop_id = drop_id;
    insert.serial = serial;
    insert.account = "buyer-" + std::to_string(serial);
    insert.cert_id = "cert-" + std::to_string(serial);
    insert.cert_token = "v4.public.cert";
    insert.per_buyer_limit = 100;
    insert.at_ms = clock_.now_ms();
    insert.seller_id = seller.id();
    auto results = store_->record_claims({insert});
    return results.at(0);
  }

  TempDir dir_;  // first: removed after the store that uses it
  ManualClock clock_{kT0};
  std::unique_ptr<store::Store> store_;
  int drops_ = 0;
};

// Checks the first refill: the seller leases a 1/16 share of the drop's
// unleased serials (160 → 10), lowest first, and hands out the first.
TEST_F(SellerTest, FirstTakeLeasesAShareOfTheUnleasedSerials) {
  int64_t drop = make_drop(160);
  auto seller = started_seller();
  EXPECT_EQ(seller->ready_count(drop), 0u);
  EXPECT_EQ(seller->take(drop), 1u);
  EXPECT_EQ(leases_of(*seller), (std::vector<core::SerialRun>{{1, 10}}));
  EXPECT_EQ(seller->ready_count(drop), 9u);
  EXPECT_EQ(unleased(drop), 150u);
}

// Checks that sales come from the lease without the store until it is used
// up, and that the next take refills with a share of what is left (150 → 9).
TEST_F(SellerTest, RefillsOnlyWhenItsLeaseIsUsedUp) {
  int64_t drop = make_drop(160);
  auto seller = started_seller();
  for (uint32_t expected = 1; expected <= 10; ++expected) {
    EXPECT_EQ(seller->take(drop), expected);
  }
  EXPECT_EQ(leases_of(*seller).size(), 1u);
  EXPECT_EQ(unleased(drop), 150u);
  EXPECT_EQ(seller->ready_count(drop), 0u);
  EXPECT_EQ(seller->take(drop), 11u);
  EXPECT_EQ(leases_of(*seller), (std::vector<core::SerialRun>{{1, 10}, {11, 19}}));
  EXPECT_EQ(unleased(drop), 141u);
}

// Checks try_take: it sells from the lease already held, in the same order
// as take(), under the seller's id, and never leases (nothing before the
// first take, nothing once the lease is used up), so it cannot wait on the store.
TEST_F(SellerTest, TryTakeSellsOnlyFromTheLeaseAlreadyHeld) {
  int64_t drop = make_drop(160);
  auto seller = started_seller();
  EXPECT_FALSE(seller->try_take(drop).has_value());
  EXPECT_TRUE(leases_of(*seller).empty());
  EXPECT_EQ(seller->take(drop), 1u);
  for (uint32_t expected = 2; expected <= 10; ++expected) {
    auto taken = seller->try_take(drop);
    ASSERT_TRUE(taken.has_value()) << "serial " << expected;
    EXPECT_EQ(taken->serial, expected);
    EXPECT_EQ(taken->seller_id, seller->id());
  }
  EXPECT_FALSE(seller->try_take(drop).has_value());
  EXPECT_EQ(leases_of(*seller).size(), 1u);
  seller->give_back(drop, 4);
  EXPECT_EQ(seller->try_take(drop)->serial, 4u);
}

// Checks the shrink near sell-out: with fewer unleased serials than the
// divisor, every lease holds one serial, and the drop sells to its last
// serial, then answers conflict (sold out).
TEST_F(SellerTest, LeasesShrinkToOneSerialNearSellOutThenSoldOut) {
  int64_t drop = make_drop(5);
  auto seller = started_seller();
  for (uint32_t expected = 1; expected <= 5; ++expected) {
    EXPECT_EQ(seller->take(drop), expected);
    EXPECT_EQ(seller->ready_count(drop), 0u) << "lease " << expected << " held more than one";
  }
  EXPECT_EQ(leases_of(*seller).size(), 5u);
  auto sold_out = seller->take(drop);
  ASSERT_FALSE(sold_out.has_value());
  EXPECT_EQ(sold_out.error().code(), Code::conflict);
}

// Checks the cap: however much stock is left, a lease holds at most
// lease_serials_max serials.
TEST_F(SellerTest, ALeaseHoldsAtMostLeaseSerialsMax) {
  int64_t drop = make_drop(10'000);
  auto seller = started_seller(/*lease_serials_max=*/5);
  EXPECT_EQ(seller->take(drop), 1u);
  EXPECT_EQ(leases_of(*seller), (std::vector<core::SerialRun>{{1, 5}}));
}

// Checks give_back: a serial whose claim failed is sold next (lowest first),
// before the rest of the lease, and without a new lease.
TEST_F(SellerTest, AGivenBackSerialIsSoldNext) {
  int64_t drop = make_drop(160);
  auto seller = started_seller();
  for (uint32_t expected = 1; expected <= 3; ++expected) EXPECT_EQ(seller->take(drop), expected);
  seller->give_back(drop, 2);
  EXPECT_EQ(seller->take(drop), 2u);
  EXPECT_EQ(seller->take(drop), 4u);
  EXPECT_EQ(leases_of(*seller).size(), 1u);
}

// Checks that tick() returns the serials of this seller's expired holds to
// its ready serials: the next take sells the expired hold's serial again.
TEST_F(SellerTest, TickGivesBackTheSerialsOfExpiredHolds) {
  int64_t drop = make_drop(160);
  auto seller = started_seller();
  auto serial = seller->take(drop);
  ASSERT_TRUE(serial.has_value());
  auto hold = store_->create_hold(drop, *serial, "buyer-1", seller->id(), kT0 + 1000, kT0, 1);
  ASSERT_TRUE(hold.has_value()) << hold.error().to_string();
  auto nothing = seller->tick();
  ASSERT_TRUE(nothing.has_value());
  EXPECT_TRUE(nothing->empty());  // not expired yet
  clock_.advance_ms(1000);
  auto expired = seller->tick();
  ASSERT_TRUE(expired.has_value()) << expired.error().to_string();
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ((*expired)[0].serial, *serial);
  EXPECT_EQ(seller->take(drop), *serial);
}

// Checks recovery when the store no longer knows this seller (another
// process registered its instance): with nothing left to sell, take() says
// unavailable, not sold out; the next tick registers a new id and the
// seller leases and sells again.
TEST_F(SellerTest, AReplacedSellerRegistersAgainOnTickAndSellsOn) {
  int64_t drop = make_drop(5);  // leases of one serial: nothing stays ready
  auto seller = started_seller();
  EXPECT_EQ(seller->take(drop), 1u);
  std::string first_id = seller->id();
  auto replacement = started_seller();  // the same instance: supersedes the first

  auto refused = seller->take(drop);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), Code::unavailable);

  ASSERT_TRUE(seller->tick().has_value());
  EXPECT_NE(seller->id(), first_id);
  auto serial = seller->take(drop);
  ASSERT_TRUE(serial.has_value()) << serial.error().to_string();
  EXPECT_EQ(leases_of(*seller), (std::vector<core::SerialRun>{{*serial, *serial}}));
}

// Checks graceful stop: the seller's unsold serials return to the pool, the
// sold one stays sold, and nothing stays ready.
TEST_F(SellerTest, StopReturnsUnsoldSerialsToThePool) {
  int64_t drop = make_drop(160);
  auto seller = started_seller();
  auto serial = seller->take(drop);
  ASSERT_TRUE(serial.has_value());
  ASSERT_TRUE(sell(drop, *serial, *seller).has_value());
  EXPECT_EQ(unleased(drop), 150u);
  ASSERT_TRUE(seller->stop().ok());
  EXPECT_EQ(unleased(drop), 159u);
  EXPECT_EQ(seller->ready_count(drop), 0u);
  EXPECT_TRUE(leases_of(*seller).empty());
}

// Checks a restart after kill -9: a new seller of the same instance reclaims
// the dead one's unsold serials at start, and leases them again first.
TEST_F(SellerTest, StartReclaimsTheLeasesOfAnEarlierIncarnation) {
  int64_t drop = make_drop(160);
  auto killed = started_seller();
  auto serial = killed->take(drop);
  ASSERT_TRUE(serial.has_value());
  ASSERT_TRUE(sell(drop, *serial, *killed).has_value());
  EXPECT_EQ(unleased(drop), 150u);

  auto restarted = started_seller();  // no stop(): the first died
  EXPECT_EQ(unleased(drop), 159u);
  EXPECT_EQ(restarted->take(drop), 2u);
}

}  // namespace
}  // namespace dg::origin
