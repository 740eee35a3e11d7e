// Checkout over a real SQLite store, seller and committer, with an injected
// clock and a fake payment provider: what the HTTP test cannot reach in real
// time — a payment that arrives after its 30-minute hold expired, and the
// refund queue's retries with backoff, driven by the clock.
#include "origin/checkout.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/env.h"
#include "base/limits.h"
#include "base/time.h"
#include "crypto/hmac.h"
#include "crypto/sha256.h"
#include "support/test_origin.h"

namespace dg::origin {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;
constexpr std::string_view kSecret = "whsec_unit";

// Answers like the provider; its refunds fail while refund_failures_ > 0.
class FakeProvider final : public PaymentProvider {
 public:
  Result<CheckoutSession> create_checkout_session(const CheckoutSessionRequest& r) override {
    sessions.push_back(r);
    return CheckoutSession{"cs_" + r.order_id, "https://pay.test/" + r.order_id};
  }
  Result<RefundAnswer> request_refund(const RefundRequest& r) override {
    refunds.push_back(r);
    if (refund_failures > 0) {
      --refund_failures;
      return error(Code::unavailable, "fake provider: refunds are failing");
    }
    return RefundAnswer{"re_" + std::to_string(refunds.size()), "succeeded"};
  }
  std::vector<CheckoutSessionRequest> sessions;
  std::vector<RefundRequest> refunds;
  int refund_failures = 0;
};

class CheckoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    origin_.config.webhook_secrets = std::string(kSecret);
    ASSERT_TRUE(origin_.start(clock_).ok());
    ASSERT_TRUE(origin_.seller().start().ok());
    checkout_.emplace(Checkout::Parts{origin_.store(), service().claims, service().certificates,
                                      service().catalog, service().idempotency, origin_.signer,
                                      origin_.owner_secret, &provider_, origin_.metrics, clock_,
                                      origin_.config});
  }
  OriginService& service() { return origin_.service(); }

  void make_drop(uint32_t edition, std::vector<std::string> territories_allowed = {}) {
    store::DropSpec spec;
    spec.slug = "tape";
    spec.title = "Summer Tape";
    spec.edition_size = edition;
    spec.opens_at_ms = kNow;
    spec.price_minor = 1500;
    spec.rights.license = "CC-BY-NC-4.0";
    spec.rights.territories_allowed = std::move(territories_allowed);
    ASSERT_TRUE(service().drops.create_drop(spec).has_value());
    std::filesystem::path file = origin_.dir() / "a.txt";
    std::ofstream(file) << "side A";
    std::string sha = hex_encode(crypto::sha256(as_bytes("side A")));
    ASSERT_TRUE(service().drops.add_asset("tape", "a.txt", file, 6, sha, "text/plain").has_value());
    ASSERT_TRUE(service().drops.publish("tape").has_value());
  }

  // Starts a checkout for `account`; returns its order id.
  std::string start(const std::string& account, const std::string& territory = "") {
    auto started = checkout_->start(
        "tape", ClaimRequest{account, territory, store::ClaimSource::payment, ""}, "ip");
    EXPECT_TRUE(started.has_value()) << started.error().to_string();
    return started ? json_member(*started, "order") : "";
  }

  // Delivers a paid completion of `order`, signed now; returns the answer's outcome.
  std::string complete(const std::string& order, const std::string& event_id) {
    std::string body = R"({"id":")" + event_id +
                       R"(","type":"checkout.session.completed","data":{"object":{"id":"cs_1",)"
                       R"("client_reference_id":")" +
                       order + R"(","payment_intent":"pi_)" + order +
                       R"(","amount_total":1500,"currency":"eur","payment_status":"paid"}}})";
    std::string t = std::to_string(clock_.now_ms() / 1000);
    std::string header =
        "t=" + t + ",v1=" + hex_encode(crypto::hmac_sha256(kSecret, t + "." + body));
    std::promise<Result<ClaimOutcome>> answered;
    auto future = answered.get_future();
    checkout_->webhook(
        header, body,
        ClaimReply{[&answered](Result<ClaimOutcome> r) { answered.set_value(std::move(r)); },
                   [](std::move_only_function<void()> job) { job(); }});
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) return "timeout";
    auto outcome = future.get();
    if (!outcome) return "refused: " + outcome.error().to_string();
    return json_member(outcome->body_json, "outcome");
  }

  static std::string json_member(const std::string& json, std::string_view key) {
    auto o = boost::json::parse(json).as_object();
    return std::string(o.at(key).as_string());
  }
  store::Order order(const std::string& id) { return *origin_.store().get_order(id); }
  int64_t drop_id() { return origin_.store().get_drop("tape")->id; }

  ManualClock clock_{kNow};
  dg::testing::TestOrigin origin_;
  FakeProvider provider_;
  std::optional<Checkout> checkout_;
};

// The session the provider is asked for ends no later than the hold, and the
// hold lasts the configured checkout lifetime (at least 30 minutes).
TEST_F(CheckoutTest, TheSessionEndsNoLaterThanTheHoldOfAtLeastThirtyMinutes) {
  make_drop(3);
  std::string id = start("ann");
  ASSERT_EQ(provider_.sessions.size(), 1u);
  store::Order o = order(id);
  EXPECT_EQ(o.expires_at_ms, kNow + to_ms(origin_.config.checkout_hold_ttl));
  EXPECT_GE(o.expires_at_ms - kNow, to_ms(limits::checkout_hold_ttl_min));
  EXPECT_LE(provider_.sessions[0].expires_at_s * 1000, o.expires_at_ms);
  EXPECT_EQ(provider_.sessions[0].amount_minor, 1500);
  EXPECT_EQ(provider_.sessions[0].order_id, id);
}

// Paid after the hold expired, with serials left: the buyer still gets one,
// through the normal claim path.
TEST_F(CheckoutTest, APaymentAfterTheHoldExpiredClaimsAnotherFreeSerial) {
  make_drop(3);
  std::string id = start("ann");
  clock_.advance_ms(to_ms(origin_.config.checkout_hold_ttl) + 1000);
  EXPECT_EQ(complete(id, "evt_1"), "claimed");
  EXPECT_EQ(order(id).state, store::OrderState::claimed);
  ASSERT_TRUE(order(id).serial.has_value());
  EXPECT_EQ(origin_.store().claim_count(drop_id()).value_or(0), 1u);
  EXPECT_TRUE(provider_.refunds.empty());
}

// The late claim is made for the territory the buyer gave at checkout, so a
// drop sold in some territories only still sells to them.
TEST_F(CheckoutTest, ALatePaymentIsClaimedForTheTerritoryGivenAtCheckout) {
  make_drop(3, {"FR"});
  std::string id = start("ann", "FR");
  clock_.advance_ms(to_ms(origin_.config.checkout_hold_ttl) + 1000);
  EXPECT_EQ(complete(id, "evt_1"), "claimed");
  EXPECT_EQ(order(id).state, store::OrderState::claimed);
  EXPECT_TRUE(provider_.refunds.empty());
}

// Paid after the hold expired and the last serial was sold meanwhile: a
// refund is queued; failed requests are retried when the backoff says, by
// the clock (30 s, then 60 s), with one idempotency key; then the order is refunded.
TEST_F(CheckoutTest, ALatePaymentForASoldOutDropIsRefundedWithRetriesOnTheClock) {
  make_drop(1);
  std::string id = start("ann");
  clock_.advance_ms(to_ms(origin_.config.checkout_hold_ttl) + 1000);
  service().claims.tick();  // the origin's periodic work: the expired hold's serial is free again
  std::promise<bool> sold;
  service().claims.claim(
      "tape", ClaimRequest{"bob", "", store::ClaimSource::operator_grant, ""}, Idempotency{},
      ClaimReply{[&sold](Result<ClaimOutcome> r) { sold.set_value(r.has_value()); },
                 [](std::move_only_function<void()> job) { job(); }});
  ASSERT_TRUE(sold.get_future().get()) << "bob could not buy the last serial";
  provider_.refund_failures = 2;
  EXPECT_EQ(complete(id, "evt_1"), "refund_queued");
  EXPECT_EQ(order(id).state, store::OrderState::refund_pending);
  EXPECT_EQ(provider_.refunds.size(), 1u);
  clock_.advance_ms(29'000);
  checkout_->tick();
  EXPECT_EQ(provider_.refunds.size(), 1u) << "retried before its backoff";
  clock_.advance_ms(1'000);
  checkout_->tick();
  EXPECT_EQ(provider_.refunds.size(), 2u);
  EXPECT_EQ(order(id).state, store::OrderState::refund_pending);
  clock_.advance_ms(59'000);
  checkout_->tick();
  EXPECT_EQ(provider_.refunds.size(), 2u) << "the backoff did not double";
  clock_.advance_ms(1'000);
  checkout_->tick();
  ASSERT_EQ(provider_.refunds.size(), 3u);
  EXPECT_EQ(order(id).state, store::OrderState::refunded);
  for (const RefundRequest& r : provider_.refunds) {
    EXPECT_EQ(r.idempotency_key, provider_.refunds[0].idempotency_key);
    EXPECT_EQ(r.amount_minor, 1500);
    EXPECT_EQ(r.payment_intent, "pi_" + id);
    EXPECT_EQ(r.reason, "sold-out");
  }
  EXPECT_EQ(origin_.store().claim_count(drop_id()).value_or(0), 1u);  // bob's only
}

}  // namespace
}  // namespace dg::origin
