// Serial leases of edges that sell offline, against a real SQLite store: the
// lease is sized by the operator's expected offline sales and bounded by
// unsold stock, topped up when the edge's unsold serials fall, never
// reclaimed by timeout, and named in the grant with the drop's close as
// sell_until when that comes first.
#include "origin/edge_leases.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>

#include "store/store.h"
#include "support/temp_dir.h"

namespace dg::origin {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000;
constexpr int64_t kDay = 86'400'000;

class EdgeLeasesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << "mkdtemp failed";
    auto opened = store::open_sqlite((dir_.path() / "store.db").string());
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->migrate().ok());
  }

  store::Drop make_drop(const std::string& slug, uint32_t edition_size,
                        std::optional<int64_t> closes_at_ms = std::nullopt) {
    store::DropSpec spec;
    spec.slug = slug;
    spec.title = "Summer Tape";
    spec.edition_size = edition_size;
    spec.opens_at_ms = kT0;
    spec.closes_at_ms = closes_at_ms;
    spec.per_buyer_limit = 100;
    spec.rights.license = "CC-BY-NC-4.0";
    auto drop = store_->create_drop(spec, kT0);
    EXPECT_TRUE(drop.has_value()) << drop.error().to_string();
    return drop.value_or(store::Drop{});
  }

  uint32_t leased_serials(const std::vector<core::GrantLease>& leases) {
    uint32_t n = 0;
    for (const auto& l : leases) n += l.last_serial - l.first_serial + 1;
    return n;
  }

  uint32_t unsold_at_origin(int64_t edge_id, int64_t now_ms) {
    auto held = store_->seller_leases(edge_seller_id(edge_id), now_ms);
    EXPECT_TRUE(held.has_value());
    uint32_t n = 0;
    for (const auto& l : *held) n += static_cast<uint32_t>(l.available_serials.size());
    return n;
  }

  dg::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
};

// Checks the first lease takes exactly the expected offline sales, names the
// grant's drop and sell_until, and that an edge without expected sales gets
// no lease (and no seller).
TEST_F(EdgeLeasesTest, LeaseIsSizedByTheExpectedOfflineSales) {
  make_drop("summer-tape", 100);
  OfflineSettings settings{core::OfflineCaps{5, 5000, 1000}, {{"summer-tape", 12}}};
  uint32_t leased = 0;
  auto leases =
      top_up_edge_leases(*store_, 7, {"summer-tape"}, settings, kT0 + kDay, kT0, 1000, &leased);
  ASSERT_TRUE(leases.has_value()) << leases.error().to_string();
  EXPECT_EQ(leased, 12u);
  EXPECT_EQ(leased_serials(*leases), 12u);
  EXPECT_EQ((*leases)[0].drop, "summer-tape");
  EXPECT_EQ((*leases)[0].sell_until_ms, kT0 + kDay);
  auto none = top_up_edge_leases(*store_, 8, {"summer-tape"}, {}, kT0 + kDay, kT0, 1000, &leased);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(leased, 0u);
}

// Checks the lease never takes more than the unsold stock: with 3 serials
// left unleased, an expectation of 10 leases 3, and asking again leases none.
TEST_F(EdgeLeasesTest, LeaseIsBoundedByUnsoldStock) {
  auto drop = make_drop("tiny", 5);
  ASSERT_TRUE(store_->register_seller("origin:1", store::SellerKind::origin, "h:1", kT0).ok());
  ASSERT_TRUE(store_->issue_lease(drop.id, "origin:1", 2, kT0).has_value());
  OfflineSettings settings{std::nullopt, {{"tiny", 10}}};
  uint32_t leased = 0;
  auto leases = top_up_edge_leases(*store_, 1, {"tiny"}, settings, kT0 + kDay, kT0, 1000, &leased);
  ASSERT_TRUE(leases.has_value()) << leases.error().to_string();
  EXPECT_EQ(leased, 3u);
  auto again = top_up_edge_leases(*store_, 1, {"tiny"}, settings, kT0 + kDay, kT0, 1000, &leased);
  ASSERT_TRUE(again.has_value()) << again.error().to_string();
  EXPECT_EQ(leased, 0u);
  EXPECT_EQ(leased_serials(*again), 3u);
}

// Checks the top-up: once the edge's sales are recorded (claims under its
// seller id) its unsold serials fall below the expectation and the next call
// leases exactly the difference.
TEST_F(EdgeLeasesTest, SalesRecordedForTheEdgeTriggerATopUp) {
  auto drop = make_drop("summer-tape", 100);
  OfflineSettings settings{std::nullopt, {{"summer-tape", 4}}};
  auto leases = top_up_edge_leases(*store_, 3, {"summer-tape"}, settings, kT0 + kDay, kT0, 1000);
  ASSERT_TRUE(leases.has_value());
  ASSERT_EQ(leases->size(), 1u);
  std::vector<store::ClaimInsert> sales;
  for (uint32_t serial : {(*leases)[0].first_serial, (*leases)[0].first_serial + 1}) {
    store::ClaimInsert sale;
    sale.drop_id = drop.id;
    sale.serial = serial;
    sale.account = "buyer-" + std::to_string(serial);
    sale.source = store::ClaimSource::receipt;
    sale.cert_id = "cert-" + std::to_string(serial);
    sale.cert_token = "v4.public.x";
    sale.per_buyer_limit = 1;
    sale.at_ms = kT0 + 1000;
    sale.seller_id = edge_seller_id(3);
    sales.push_back(sale);
  }
  for (const auto& r : store_->record_claims(sales))
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(unsold_at_origin(3, kT0 + 2000), 2u);
  uint32_t leased = 0;
  auto topped = top_up_edge_leases(*store_, 3, {"summer-tape"}, settings, kT0 + kDay, kT0 + 2000,
                                   1000, &leased);
  ASSERT_TRUE(topped.has_value()) << topped.error().to_string();
  EXPECT_EQ(leased, 2u);
  EXPECT_EQ(unsold_at_origin(3, kT0 + 2000), 4u);
  EXPECT_EQ(leased_serials(*topped), 6u);
}

// Checks DESIGN.md rule 4: an edge's leased serials are never reclaimed by
// timeout, however long it stays silent; origin sellers' are.
TEST_F(EdgeLeasesTest, EdgeLeasesAreNeverReclaimedByTimeout) {
  make_drop("summer-tape", 100);
  OfflineSettings settings{std::nullopt, {{"summer-tape", 5}}};
  ASSERT_TRUE(
      top_up_edge_leases(*store_, 2, {"summer-tape"}, settings, kT0 + kDay, kT0, 1000).has_value());
  const int64_t much_later = kT0 + 365 * kDay;
  auto reclaimed = store_->reclaim_dead_sellers(much_later, 15'000);
  ASSERT_TRUE(reclaimed.has_value());
  EXPECT_EQ(*reclaimed, 0u);
  EXPECT_EQ(unsold_at_origin(2, much_later), 5u);
}

// Checks a lease sells until the drop closes when that comes before the
// grant's own end, and that drops not granted are left out of the grant.
TEST_F(EdgeLeasesTest, SellUntilIsTheDropsCloseWhenEarlier) {
  make_drop("closing", 100, kT0 + kDay / 2);
  make_drop("other", 100);
  OfflineSettings settings{std::nullopt, {{"closing", 2}, {"other", 2}}};
  auto leases =
      top_up_edge_leases(*store_, 4, {"closing", "other"}, settings, kT0 + kDay, kT0, 1000);
  ASSERT_TRUE(leases.has_value()) << leases.error().to_string();
  ASSERT_EQ(leases->size(), 2u);
  for (const auto& l : *leases)
    EXPECT_EQ(l.sell_until_ms, l.drop == "closing" ? kT0 + kDay / 2 : kT0 + kDay);
  auto only_other = top_up_edge_leases(*store_, 4, {"other"}, {}, kT0 + kDay, kT0, 1000);
  ASSERT_TRUE(only_other.has_value());
  ASSERT_EQ(only_other->size(), 1u);
  EXPECT_EQ((*only_other)[0].drop, "other");
}

// Checks the approval body: targets must name granted drops, counts and
// caps are checked, zero targets are left out.
TEST_F(EdgeLeasesTest, ApprovalSettingsAreChecked) {
  auto parse = [](std::string_view text) {
    auto body = boost::json::parse(text).as_object();
    return parse_offline_settings(body, {"a-drop"});
  };
  auto ok = parse(
      R"({"offline_sales":{"a-drop":3},"caps":{"sales_max":2,"value_minor_max":900,"sale_value_minor_max":500}})");
  ASSERT_TRUE(ok.has_value()) << ok.error().to_string();
  EXPECT_EQ(ok->targets.size(), 1u);
  EXPECT_EQ(ok->caps->sales_max, 2u);
  EXPECT_FALSE(parse(R"({"offline_sales":{"b-drop":3}})").has_value());
  EXPECT_FALSE(parse(R"({"offline_sales":{"a-drop":-1}})").has_value());
  EXPECT_FALSE(parse(R"({"caps":{"sales_max":2}})").has_value());
  EXPECT_TRUE(parse(R"({"offline_sales":{"a-drop":0}})")->targets.empty());
}

}  // namespace
}  // namespace dg::origin
