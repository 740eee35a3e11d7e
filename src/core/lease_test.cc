// Lease rules: the size a seller asks for, the fresh run a lease gets and
// which lease covers a serial — each at its edges.
#include "core/lease.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace dg::core {
namespace {

// Checks that a lease takes a 1/divisor share of what is unleased, rounded down.
TEST(LeaseSize, IsAShareOfWhatIsUnleased) {
  EXPECT_EQ(lease_size(1600, 16, 1000), 100u);
  EXPECT_EQ(lease_size(1615, 16, 1000), 100u);
  EXPECT_EQ(lease_size(1616, 16, 1000), 101u);
}

// Checks the shrink toward 1 near sell-out: below one divisor's worth the
// share rounds to 0, and a lease still takes one serial (also at 0 left,
// where the store then answers sold out).
TEST(LeaseSize, ShrinksToOneNearSellOut) {
  EXPECT_EQ(lease_size(32, 16, 1000), 2u);
  EXPECT_EQ(lease_size(31, 16, 1000), 1u);
  EXPECT_EQ(lease_size(16, 16, 1000), 1u);
  EXPECT_EQ(lease_size(15, 16, 1000), 1u);
  EXPECT_EQ(lease_size(1, 16, 1000), 1u);
  EXPECT_EQ(lease_size(0, 16, 1000), 1u);
}

// Checks the cap: a share above serials_max asks for serials_max, exactly at
// it for serials_max, one below for one less.
TEST(LeaseSize, NeverAsksForMoreThanTheMaximum) {
  EXPECT_EQ(lease_size(16'000, 16, 1000), 1000u);
  EXPECT_EQ(lease_size(15'999, 16, 1000), 999u);
  EXPECT_EQ(lease_size(1'000'000, 16, 1000), 1000u);
  EXPECT_EQ(lease_size(std::numeric_limits<uint32_t>::max(), 1, 1000), 1000u);
}

// Checks that zero options cannot make a zero-sized lease or divide by zero:
// a divisor of 0 counts as 1 (all of it), a maximum of 0 as 1.
TEST(LeaseSize, ZeroOptionsCountAsOne) {
  EXPECT_EQ(lease_size(50, 0, 1000), 50u);
  EXPECT_EQ(lease_size(50, 1, 1000), 50u);
  EXPECT_EQ(lease_size(50, 16, 0), 1u);
}

// Checks a fresh run in the middle of the edition and one cut at its end.
TEST(FreshLeaseRun, StartsAtNextSerialAndStopsAtTheEdition) {
  EXPECT_EQ(fresh_lease_run(1, 200, 10), (SerialRun{1, 10}));
  EXPECT_EQ(fresh_lease_run(191, 200, 10), (SerialRun{191, 200}));
  EXPECT_EQ(fresh_lease_run(195, 200, 10), (SerialRun{195, 200}));
  EXPECT_EQ(fresh_lease_run(200, 200, 10), (SerialRun{200, 200}));
  EXPECT_EQ(fresh_lease_run(7, 200, 1), (SerialRun{7, 7}));
}

// Checks sold out: one past the edition has nothing left to lease.
TEST(FreshLeaseRun, NothingPastTheEdition) {
  EXPECT_FALSE(fresh_lease_run(201, 200, 10).has_value());
  EXPECT_FALSE(fresh_lease_run(202, 200, 1).has_value());
}

// Checks that a run near the top of uint32 does not wrap round to a small
// last serial.
TEST(FreshLeaseRun, DoesNotWrapAtTheTopOfTheRange) {
  constexpr uint32_t top = std::numeric_limits<uint32_t>::max();
  EXPECT_EQ(fresh_lease_run(top - 1, top, 1000), (SerialRun{top - 1, top}));
}

// Checks coverage at both ends of a lease, inside it, between two leases and
// outside all of them.
TEST(LeaseCovering, FindsTheOneLeaseThatHoldsTheSerial) {
  const std::vector<SerialRun> leases = {{1, 10}, {11, 11}, {20, 29}, {100, 100}};
  EXPECT_EQ(lease_covering(leases, 1), &leases[0]);
  EXPECT_EQ(lease_covering(leases, 5), &leases[0]);
  EXPECT_EQ(lease_covering(leases, 10), &leases[0]);
  EXPECT_EQ(lease_covering(leases, 11), &leases[1]);
  EXPECT_EQ(lease_covering(leases, 12), nullptr);
  EXPECT_EQ(lease_covering(leases, 19), nullptr);
  EXPECT_EQ(lease_covering(leases, 20), &leases[2]);
  EXPECT_EQ(lease_covering(leases, 29), &leases[2]);
  EXPECT_EQ(lease_covering(leases, 30), nullptr);
  EXPECT_EQ(lease_covering(leases, 100), &leases[3]);
  EXPECT_EQ(lease_covering(leases, 101), nullptr);
}

// Checks below the first lease and with no leases at all.
TEST(LeaseCovering, NothingBeforeTheFirstLeaseOrWithoutLeases) {
  const std::vector<SerialRun> leases = {{5, 9}};
  EXPECT_EQ(lease_covering(leases, 4), nullptr);
  EXPECT_EQ(lease_covering({}, 1), nullptr);
}

// Checks SerialRun::contains at its edges.
TEST(SerialRun, ContainsBothEnds) {
  SerialRun run{3, 5};
  EXPECT_FALSE(run.contains(2));
  EXPECT_TRUE(run.contains(3));
  EXPECT_TRUE(run.contains(5));
  EXPECT_FALSE(run.contains(6));
}

}  // namespace
}  // namespace dg::core
