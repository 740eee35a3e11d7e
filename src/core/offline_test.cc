// Offline sales at the edge: the lease top-up rule, the stop rules an edge
// applies by its own clock (sell_until less the skew margin, risk caps), and
// the chain of two signatures (origin → grant → edge certificate) any
// verifier checks.
#include "core/offline.h"

#include <gtest/gtest.h>

#include "base/problem_types.h"
#include "core/token.h"

namespace dg::core {
namespace {

constexpr int64_t kNow = 1'790'000'000'000;  // 2026-09-21
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kMargin = 180'000;  // the default 3 min of clock skew
const Rights kRights{"CC-BY-4.0", std::nullopt, {}, {}};

EdgeGrantFields grant_fields(std::optional<OfflineCaps> caps = std::nullopt) {
  EdgeGrantFields fields;
  fields.drops = {"summer-tape"};
  fields.leases = {{"summer-tape", 11, 20, kNow + kHour}};
  fields.caps = caps;
  return fields;
}

// Checks that a lease is topped up to what the operator expects, never past
// the per-lease maximum, and not at all while the edge holds enough.
TEST(OfflineTopUp, FillsUpToTheExpectedSales) {
  EXPECT_EQ(offline_top_up(50, 0, 1000), 50u);
  EXPECT_EQ(offline_top_up(50, 49, 1000), 1u);
  EXPECT_EQ(offline_top_up(50, 50, 1000), 0u);
  EXPECT_EQ(offline_top_up(50, 80, 1000), 0u);
  EXPECT_EQ(offline_top_up(5000, 10, 1000), 1000u);
  EXPECT_EQ(offline_top_up(0, 0, 1000), 0u);
}

// Checks that a sale inside the lease, before sell_until less the margin and
// without caps, is allowed.
TEST(OfflineSale, InsideTheLeaseAndBeforeSellUntilIsAllowed) {
  EXPECT_TRUE(check_offline_sale(grant_fields(), "summer-tape", 11, 500, kNow, kMargin, {}).ok());
  EXPECT_TRUE(check_offline_sale(grant_fields(), "summer-tape", 20, 500, kNow, kMargin, {}).ok());
}

// Checks that a serial outside every lease of the drop (or of another drop)
// is refused: an edge sells only what it was leased.
TEST(OfflineSale, OutsideTheLeaseIsRefused) {
  auto fields = grant_fields();
  EXPECT_EQ(check_offline_sale(fields, "summer-tape", 10, 0, kNow, kMargin, {}).type(),
            &problem::offline_no_lease);
  EXPECT_EQ(check_offline_sale(fields, "summer-tape", 21, 0, kNow, kMargin, {}).type(),
            &problem::offline_no_lease);
  EXPECT_EQ(check_offline_sale(fields, "winter-tape", 11, 0, kNow, kMargin, {}).type(),
            &problem::offline_no_lease);
}

// Clock skew: the edge stops at sell_until less the margin by its own clock.
// Whichever way its clock is off by up to the margin, no sale is made at or
// after the true sell_until: an edge whose clock runs `skew` behind true time
// reads true time T as T - skew, and refuses from its reading
// sell_until - margin, i.e. from true sell_until - margin + skew <= sell_until.
TEST(OfflineSale, StopsAtSellUntilLessTheMarginWhateverTheClockSkew) {
  auto fields = grant_fields();
  const int64_t sell_until = kNow + kHour;
  for (int64_t skew : {-kMargin, -kMargin / 2, int64_t{0}, kMargin / 2, kMargin}) {
    // Walk true time across the end in 1 s steps; the edge reads true + skew.
    int64_t last_sale_true_ms = 0;
    for (int64_t true_ms = sell_until - 3 * kMargin; true_ms <= sell_until + kMargin;
         true_ms += 1000) {
      if (check_offline_sale(fields, "summer-tape", 12, 0, true_ms + skew, kMargin, {}).ok())
        last_sale_true_ms = true_ms;
    }
    EXPECT_LT(last_sale_true_ms, sell_until) << "skew " << skew;
    // And the edge still sells until its own reading reaches the margin.
    EXPECT_EQ(last_sale_true_ms, sell_until - kMargin - skew - 1000) << "skew " << skew;
  }
  Status refused =
      check_offline_sale(fields, "summer-tape", 12, 0, sell_until - kMargin, kMargin, {});
  EXPECT_EQ(refused.type(), &problem::offline_sell_until_passed);
  EXPECT_NE(refused.message().find("margin"), std::string::npos) << refused.message();
}

// Checks each risk cap at its edge: the count, the value of one sale, the
// total value; and that the refusal names which cap.
TEST(OfflineSale, RiskCapsRefuseAtTheirEdges) {
  auto fields = grant_fields(OfflineCaps{3, 1000, 400});
  EXPECT_TRUE(check_offline_sale(fields, "summer-tape", 11, 400, kNow, kMargin, {2, 600}).ok());
  Status count = check_offline_sale(fields, "summer-tape", 11, 100, kNow, kMargin, {3, 300});
  EXPECT_EQ(count.type(), &problem::offline_cap_reached);
  EXPECT_EQ(offline_cap_of(count), "sales");
  Status per_sale = check_offline_sale(fields, "summer-tape", 11, 401, kNow, kMargin, {0, 0});
  EXPECT_EQ(offline_cap_of(per_sale), "sale_value");
  Status total = check_offline_sale(fields, "summer-tape", 11, 400, kNow, kMargin, {2, 601});
  EXPECT_EQ(offline_cap_of(total), "value");
  EXPECT_EQ(offline_cap_of(Status(problem::offline_no_lease, "x")), "");
}

class EdgeCertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::init();
    origin_ = std::make_unique<TokenSigner>(crypto::SecretKey::generate(), "origin.test");
    edge_ = std::make_unique<TokenSigner>(crypto::SecretKey::generate(), "origin.test");
    ASSERT_TRUE(origin_keyring_.add(origin_->key().public_key(), crypto::KeyStatus::current).ok());
    auto fields = grant_fields(OfflineCaps{10, 10'000, 1000});
    fields.edge_key = edge_->key().public_key().to_paserk();
    fields.offline_sales = {{"summer-tape", 10}};
    fields.prices = {{"summer-tape", 1500, "EUR"}};
    grant_ = issue_edge_grant(*origin_, fields, kNow, 86'400).value();
    grant_id_ = verify_edge_grant(origin_keyring_, grant_, {kNow})->common.token_id;
  }
  std::string cert(uint32_t serial, int64_t at_ms, std::string grant_id = "") {
    CertFields fields{"own_x", "summer-tape", serial, 100, std::string(64, 'a'), kRights, {}};
    fields.grant_id = grant_id.empty() ? grant_id_ : grant_id;
    return issue_cert(*edge_, fields, at_ms).value();
  }
  std::unique_ptr<TokenSigner> origin_;
  std::unique_ptr<TokenSigner> edge_;
  crypto::Keyring origin_keyring_;
  std::string grant_;
  std::string grant_id_;
};

// Checks the grant carries caps and offline_sales through a round trip.
TEST_F(EdgeCertTest, GrantCarriesCapsAndExpectedSales) {
  auto grant = verify_edge_grant(origin_keyring_, grant_, {kNow});
  ASSERT_TRUE(grant.has_value()) << grant.error().to_string();
  ASSERT_TRUE(grant->fields.caps.has_value());
  EXPECT_EQ(*grant->fields.caps, (OfflineCaps{10, 10'000, 1000}));
  ASSERT_EQ(grant->fields.offline_sales.size(), 1u);
  EXPECT_EQ(grant->fields.offline_sales[0], (OfflineTarget{"summer-tape", 10}));
  ASSERT_EQ(grant->fields.prices.size(), 1u);
  EXPECT_EQ(grant->fields.prices[0], (OfflinePrice{"summer-tape", 1500, "EUR"}));
}

// Checks a certificate the edge signed inside its lease verifies through the
// grant, also long after the grant itself expired (certificates live for ever).
TEST_F(EdgeCertTest, EdgeCertificateVerifiesThroughTheGrant) {
  std::string token = cert(12, kNow + 1000);
  auto verified = verify_edge_cert(origin_keyring_, grant_, token, {kNow + 2000});
  ASSERT_TRUE(verified.has_value()) << verified.error().to_string();
  EXPECT_EQ(verified->cert.fields.serial, 12u);
  auto years_later = verify_edge_cert(origin_keyring_, grant_, token, {kNow + 1000 * 86'400'000LL});
  EXPECT_TRUE(years_later.has_value()) << years_later.error().to_string();
}

// Checks each link of the chain is needed: a certificate by another key, one
// naming another grant, a serial outside the lease, one issued after
// sell_until, and a grant not signed by the origin are all refused.
TEST_F(EdgeCertTest, EveryLinkOfTheChainIsChecked) {
  EXPECT_FALSE(verify_edge_cert(origin_keyring_, grant_, cert(21, kNow), {kNow}).has_value());
  EXPECT_FALSE(
      verify_edge_cert(origin_keyring_, grant_, cert(12, kNow, "other-grant"), {kNow}).has_value());
  auto late = verify_edge_cert(origin_keyring_, grant_, cert(12, kNow + kHour + kMargin + 1000),
                               {kNow + 2 * kHour});
  ASSERT_FALSE(late.has_value());
  EXPECT_NE(late.error().message().find("sell_until"), std::string::npos);
  CertFields fields{"own_x", "summer-tape", 12, 100, std::string(64, 'a'), kRights, grant_id_};
  std::string by_origin = issue_cert(*origin_, fields, kNow).value();
  EXPECT_FALSE(verify_edge_cert(origin_keyring_, grant_, by_origin, {kNow}).has_value());
  crypto::Keyring stranger;
  ASSERT_TRUE(
      stranger.add(crypto::SecretKey::generate().public_key(), crypto::KeyStatus::current).ok());
  EXPECT_FALSE(verify_edge_cert(stranger, grant_, cert(12, kNow), {kNow}).has_value());
}

}  // namespace
}  // namespace dg::core
