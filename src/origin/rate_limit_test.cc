#include "origin/rate_limit.h"

#include <gtest/gtest.h>

namespace dg::origin {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000;

// A burst of the whole minute's allowance passes, the next event is refused
// with the seconds until one more is allowed, and the allowance comes back
// one event per interval (here 3 per minute: one every 20 s).
TEST(RateLimiter, AllowsABurstOfTheMinutesAllowanceThenOneEventPerInterval) {
  RateLimiter limiter(3, 100);
  EXPECT_EQ(limiter.take("alice", kT0), 0u);
  EXPECT_EQ(limiter.take("alice", kT0), 0u);
  EXPECT_EQ(limiter.take("alice", kT0), 0u);
  EXPECT_EQ(limiter.take("alice", kT0), 20u);
  EXPECT_EQ(limiter.take("alice", kT0 + 19'001), 1u);  // a refusal counts nothing
  EXPECT_EQ(limiter.take("alice", kT0 + 20'000), 0u);
  EXPECT_EQ(limiter.take("alice", kT0 + 20'000), 20u);
  EXPECT_EQ(limiter.take("bob", kT0), 0u);  // keys are independent
}

// Bounded memory: a key whose allowance is back in full is forgotten first;
// when every key still carries state, the one that frees soonest goes, so a
// flood of new keys cannot grow the map past keys_max.
TEST(RateLimiter, NeverHoldsMoreThanKeysMax) {
  RateLimiter limiter(2, 3);
  EXPECT_EQ(limiter.take("a", kT0), 0u);
  EXPECT_EQ(limiter.take("b", kT0 + 1), 0u);
  EXPECT_EQ(limiter.take("c", kT0 + 2), 0u);
  EXPECT_EQ(limiter.take("d", kT0 + 3), 0u);
  EXPECT_EQ(limiter.key_count(), 3u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(limiter.take("k" + std::to_string(i), kT0 + 4), 0u);
  EXPECT_EQ(limiter.key_count(), 3u);
  // A key kept at its limit is refused still (it was the most recently used).
  EXPECT_EQ(limiter.take("k999", kT0 + 4), 0u);
  EXPECT_GT(limiter.take("k999", kT0 + 4), 0u);
}

}  // namespace
}  // namespace dg::origin
