// Webhook signatures (the Stripe scheme) and events: what is accepted, and
// every way a header is refused. The known vector's MAC was computed with
// OpenSSL (`openssl dgst -sha256 -hmac whsec_test_secret`), not with our code.
#include "core/webhook.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/problem_types.h"
#include "crypto/hmac.h"
#include "crypto/keys.h"

namespace dg::core {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kBody = R"({"id":"evt_1","object":"event"})";
constexpr int64_t kSignedAt = 1700000000;
// HMAC-SHA256 of "1700000000.<kBody>" under "whsec_test_secret" (OpenSSL).
constexpr std::string_view kKnownMac =
    "0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd";

class Webhook : public ::testing::Test {
 protected:
  void SetUp() override { crypto::init(); }
  std::vector<std::string> secrets{"whsec_test_secret"};
  static std::string sign(std::string_view secret, int64_t t, std::string_view body) {
    return hex_encode(crypto::hmac_sha256(secret, std::to_string(t) + "." + std::string(body)));
  }
  Result<int64_t> verify(std::string_view header, int64_t now_s = kSignedAt) {
    return verify_webhook_signature(header, kBody, secrets, now_s, 300s);
  }
  static void expect_refused(const Result<int64_t>& r, std::string_view words) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().type(), &problem::webhook_signature);
    EXPECT_NE(r.error().message().find(words), std::string::npos) << r.error().message();
  }
};

// A header signed by another implementation verifies and yields its timestamp.
TEST_F(Webhook, AcceptsTheKnownVectorComputedByOpenSsl) {
  auto r = verify("t=1700000000,v1=" + std::string(kKnownMac));
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(*r, kSignedAt);
}

// The MAC covers the exact body: one changed byte fails.
TEST_F(Webhook, RefusesABodyChangedAfterSigning) {
  auto r = verify_webhook_signature("t=1700000000,v1=" + std::string(kKnownMac),
                                    R"({"id":"evt_2","object":"event"})", secrets, kSignedAt, 300s);
  expect_refused(r, "no v1 signature matches");
}

// Rotation: a header with several v1 values passes when any matches, and a
// configured list of secrets accepts a header made with any of them.
TEST_F(Webhook, AcceptsAnyV1ValueUnderAnyConfiguredSecret) {
  std::string other = sign("whsec_unknown", kSignedAt, kBody);
  EXPECT_TRUE(verify("t=1700000000,v1=" + other + ",v1=" + std::string(kKnownMac)).has_value());
  secrets = {"whsec_new", "whsec_test_secret"};
  EXPECT_TRUE(verify("t=1700000000,v1=" + std::string(kKnownMac)).has_value());
  secrets = {"whsec_new"};
  expect_refused(verify("t=1700000000,v1=" + std::string(kKnownMac)), "no v1 signature matches");
}

// The tolerance holds both ways, inclusive at its edge.
TEST_F(Webhook, RefusesStaleAndFutureDatedSignaturesBeyondTheTolerance) {
  std::string header = "t=1700000000,v1=" + std::string(kKnownMac);
  EXPECT_TRUE(verify(header, kSignedAt + 300).has_value());
  EXPECT_TRUE(verify(header, kSignedAt - 300).has_value());
  expect_refused(verify(header, kSignedAt + 301), "ago");
  expect_refused(verify(header, kSignedAt - 301), "in the future");
}

// v0 (and any other scheme) is ignored: it neither passes nor breaks a header.
TEST_F(Webhook, IgnoresV0ButNeedsAV1) {
  std::string v0 = sign("whsec_test_secret", kSignedAt, kBody);
  expect_refused(verify("t=1700000000,v0=" + v0), "no v1");
  EXPECT_TRUE(verify("t=1700000000,v0=abc,v1=" + std::string(kKnownMac)).has_value());
}

// Malformed headers are refused with a reason, never accepted or crashed on.
TEST_F(Webhook, RefusesMalformedHeadersSayingWhy) {
  std::string mac(kKnownMac);
  expect_refused(verify(""), "missing");
  expect_refused(verify("v1=" + mac), "no timestamp");
  expect_refused(verify("t=abc,v1=" + mac), "t must be");
  expect_refused(verify("t=1700000000,t=1700000000,v1=" + mac), "t must be");
  expect_refused(verify("t=1700000000,v1=" + mac.substr(2)), "64 hex");
  expect_refused(verify("t=1700000000,v1=zz" + mac.substr(2)), "64 hex");
  expect_refused(verify("t=1700000000,garbage"), "scheme=value");
  expect_refused(verify(std::string(3000, 'a')), "longer than");
  std::string many = "t=1700000000";
  for (int i = 0; i < 20; ++i) many += ",v0=x";
  expect_refused(verify(many), "more than");
}

// A checkout completion yields the order, intent, amount and upper-case currency.
TEST_F(Webhook, ParsesACheckoutCompletion) {
  auto e = parse_payment_event(R"({"id":"evt_9","type":"checkout.session.completed",
    "data":{"object":{"id":"cs_1","client_reference_id":"ord_1","payment_intent":"pi_1",
    "amount_total":1500,"currency":"eur","payment_status":"paid","metadata":{"order_id":"x"}}}})");
  ASSERT_TRUE(e.has_value()) << e.error().to_string();
  EXPECT_EQ(e->kind, PaymentEventKind::checkout_completed);
  EXPECT_EQ(e->order_id, "ord_1");
  EXPECT_EQ(e->session_id, "cs_1");
  EXPECT_EQ(e->payment_intent, "pi_1");
  EXPECT_EQ(e->amount_minor, 1500);
  EXPECT_EQ(e->currency, "EUR");
  EXPECT_EQ(e->payment_status, "paid");
}

// A refund names its order through metadata; an unknown type needs nothing more.
TEST_F(Webhook, ParsesARefundAndLeavesOtherTypesAlone) {
  auto e = parse_payment_event(R"({"id":"evt_r","type":"charge.refunded","data":{"object":
    {"id":"ch_1","payment_intent":"pi_1","amount_refunded":700,"currency":"usd",
     "metadata":{"order_id":"ord_1"}}}})");
  ASSERT_TRUE(e.has_value()) << e.error().to_string();
  EXPECT_EQ(e->kind, PaymentEventKind::charge_refunded);
  EXPECT_EQ(e->order_id, "ord_1");
  EXPECT_EQ(e->amount_minor, 700);
  auto other = parse_payment_event(R"({"id":"evt_o","type":"invoice.paid"})");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->kind, PaymentEventKind::other);
  EXPECT_FALSE(parse_payment_event(R"({"type":"charge.refunded"})").has_value());
  EXPECT_FALSE(parse_payment_event(R"({"id":"e","type":"charge.refunded","data":{}})").has_value());
}

}  // namespace
}  // namespace dg::core
