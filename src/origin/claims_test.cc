// Claims::claim on the thread that calls it (an I/O thread, for the HTTP
// route): a claim whose drop is cached and whose serial this origin already
// holds is signed and handed to the committer right there; every claim that
// needs the store first (to load its drop, to lease serials) goes through
// the reply's run_blocking. Over a real SQLite store, committer and seller,
// with an injected clock that expires the drop cache.
#include "origin/claims.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <future>
#include <string>

#include "base/encoding.h"
#include "base/env.h"
#include "base/limits.h"
#include "base/time.h"
#include "crypto/sha256.h"
#include "support/test_origin.h"

namespace dg::origin {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

class ClaimsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(origin_.start(clock_).ok());
    ASSERT_TRUE(origin_.seller().start().ok());
    store::DropSpec spec;
    spec.slug = "tape";
    spec.title = "Summer Tape";
    spec.edition_size = 100;
    spec.opens_at_ms = kNow;
    spec.per_buyer_limit = 1;
    spec.rights.license = "CC-BY-NC-4.0";
    ASSERT_TRUE(origin_.service().drops.create_drop(spec).has_value());
    std::filesystem::path file = origin_.dir() / "side-a.txt";
    std::string content = "side A";
    std::ofstream(file) << content;
    std::string sha256 = hex_encode(
        crypto::sha256({reinterpret_cast<const uint8_t*>(content.data()), content.size()}));
    ASSERT_TRUE(
        origin_.service()
            .drops.add_asset("tape", "side-a.txt", file, content.size(), sha256, "text/plain")
            .has_value());
    ASSERT_TRUE(origin_.service().drops.publish("tape").has_value());
  }

  // Claims for `account` and waits (bounded) for the answer: its status, or
  // 0 for a refusal (its code in last_refusal_). Counts the jobs the claim
  // gave to run_blocking, which runs them inline.
  unsigned claim(const std::string& account) {
    std::promise<unsigned> status;
    std::future<unsigned> answered = status.get_future();
    ClaimReply reply{[this, &status](Result<ClaimOutcome> outcome) {
                       if (!outcome) last_refusal_ = outcome.error().code();
                       status.set_value(outcome ? outcome->status : 0u);
                     },
                     [this](std::move_only_function<void()> job) {
                       ++blocking_jobs_;
                       job();
                     }};
    origin_.service().claims.claim(
        "tape", ClaimRequest{account, "", store::ClaimSource::operator_grant, ""}, Idempotency{},
        std::move(reply));
    if (answered.wait_for(std::chrono::seconds(30)) != std::future_status::ready) return 0;
    return answered.get();
  }

  ManualClock clock_{kNow};
  dg::testing::TestOrigin origin_;
  int blocking_jobs_ = 0;
  Code last_refusal_ = Code::ok;
};

// The first claim must load the drop (publish forgot it) and lease serials:
// both need the store, so it runs through run_blocking. The next ones find
// the drop cached and a serial in hand, and run no blocking job at all.
TEST_F(ClaimsTest, AClaimWithItsDropCachedAndASerialInHandRunsNoBlockingJob) {
  EXPECT_EQ(claim("alice"), 201u);
  EXPECT_EQ(blocking_jobs_, 1);
  EXPECT_EQ(claim("bob"), 201u);
  EXPECT_EQ(claim("carol"), 201u);
  EXPECT_EQ(blocking_jobs_, 1);
}

// Once the cached drop expired (and no other claim is reloading it), the
// claim that meets the expiry reloads it on a thread that may block; the
// claim after it is back on the calling thread.
TEST_F(ClaimsTest, AClaimMeetingAnExpiredDropReloadsItThroughRunBlocking) {
  EXPECT_EQ(claim("alice"), 201u);
  EXPECT_EQ(blocking_jobs_, 1);
  clock_.advance_ms(to_ms(limits::drop_cache_ttl));
  EXPECT_EQ(claim("bob"), 201u);
  EXPECT_EQ(blocking_jobs_, 2);
  EXPECT_EQ(claim("carol"), 201u);
  EXPECT_EQ(blocking_jobs_, 2);
}

// A refusal is answered through run_blocking even when the drop is cached
// and a serial is in hand, since its answer may read the store (a stored
// Idempotency-Key answer): alice at her limit of one, and a bad account.
TEST_F(ClaimsTest, ARefusalIsAnsweredThroughRunBlocking) {
  EXPECT_EQ(claim("alice"), 201u);
  EXPECT_EQ(claim("bob"), 201u);
  int before = blocking_jobs_;
  EXPECT_EQ(claim("alice"), 0u);  // per-buyer limit: refused after the batch
  EXPECT_EQ(last_refusal_, Code::limit_exceeded);
  EXPECT_EQ(blocking_jobs_, before + 1);
  EXPECT_EQ(claim("not an account!"), 0u);
  EXPECT_EQ(last_refusal_, Code::invalid_argument);
  EXPECT_EQ(blocking_jobs_, before + 2);
}

}  // namespace
}  // namespace dg::origin
