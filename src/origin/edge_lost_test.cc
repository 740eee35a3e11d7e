// Edges giving serials back, against a real SQLite store with the time
// driven by the test: a lease past its sell_until returns only its unsold
// serials, and a sale reported afterwards for one of them is refused by the
// claim path; an edge declared lost is revoked, its unsold serials return to
// the pool, who and why are recorded, and its later sales are listed once.
#include "origin/edge_lost.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>

#include "origin/edge_leases.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace dg::origin {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000;
constexpr int64_t kDay = 86'400'000;
constexpr int64_t kSkew = 120'000;

class EdgeLostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << "mkdtemp failed";
    auto opened = store::open_sqlite((dir_.path() / "store.db").string());
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->migrate().ok());
    store::DropSpec spec;
    spec.slug = "summer-tape";
    spec.title = "Summer Tape";
    spec.edition_size = 100;
    spec.opens_at_ms = kT0;
    spec.per_buyer_limit = 100;
    spec.rights.license = "CC-BY-NC-4.0";
    auto drop = store_->create_drop(spec, kT0);
    ASSERT_TRUE(drop.has_value()) << drop.error().to_string();
    drop_ = *drop;
  }

  // An approved edge with `expected` serials leased until kT0 + kDay.
  core::GrantLease lease_to(int64_t* edge_id, uint32_t expected, const std::string& name) {
    store::EdgeRecord record;
    record.name = name;
    record.edge_key = "k4.public." + name;
    record.key_id = "k4.pid." + name;
    record.secret_sha256 = std::string(64, 'a');
    record.created_at_ms = kT0;
    auto edge = store_->create_edge(record, 100, 0);
    EXPECT_TRUE(edge.has_value()) << edge.error().to_string();
    *edge_id = edge->id;
    auto approved = store_->update_edge(edge->id, store::EdgeState::approved, {"summer-tape"},
                                        "v4.public.grant", kT0);
    EXPECT_TRUE(approved.has_value());
    OfflineSettings settings{std::nullopt, {{"summer-tape", expected}}};
    auto leases =
        top_up_edge_leases(*store_, edge->id, {"summer-tape"}, settings, kT0 + kDay, kT0, 1000);
    EXPECT_TRUE(leases.has_value() && leases->size() == 1u);
    return leases.value_or(std::vector<core::GrantLease>{{}}).at(0);
  }

  // A sale of the edge recorded through the claim path (lease checked).
  Result<store::Claim> sell(int64_t edge_id, uint32_t serial, int64_t at_ms) {
    store::ClaimInsert sale;
    sale.drop_id = drop_.id;
    sale.serial = serial;
    sale.account = "buyer-" + std::to_string(serial);
    sale.source = store::ClaimSource::operator_grant;
    sale.payment_ref = "edge:" + std::to_string(edge_id) + ":sale-" + std::to_string(serial);
    sale.cert_id = "cert-" + std::to_string(serial);
    sale.cert_token = "v4.public.x";
    sale.per_buyer_limit = 100;
    sale.at_ms = at_ms;
    sale.seller_id = edge_seller_id(edge_id);
    return store_->record_claims({sale}).at(0);
  }

  uint32_t unleased() {
    auto n = store_->unleased_count(drop_.id);
    EXPECT_TRUE(n.has_value());
    return n.value_or(0);
  }

  dg::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  store::Drop drop_;
};

// Checks the release rule: before sell_until (less the skew margin) the
// origin refuses; after it, only the unsold serials go back (the sold one
// stays a claim), the lease is gone, and a sale of it reported afterwards is
// refused by the claim path instead of selling a released serial.
TEST_F(EdgeLostTest, ReleaseAfterSellUntilReturnsOnlyUnsoldSerials) {
  int64_t edge = 0;
  core::GrantLease lease = lease_to(&edge, 10, "north");
  ASSERT_TRUE(sell(edge, lease.first_serial, kT0 + 1000).has_value());
  EXPECT_EQ(unleased(), 90u);

  auto early = release_edge_lease(*store_, edge, lease, kT0 + kDay - kSkew - 1, kSkew);
  ASSERT_FALSE(early.has_value());
  EXPECT_EQ(early.error().code(), Code::conflict);
  EXPECT_EQ(unleased(), 90u);

  auto released = release_edge_lease(*store_, edge, lease, kT0 + kDay, kSkew);
  ASSERT_TRUE(released.has_value()) << released.error().to_string();
  EXPECT_EQ(*released, 9u);
  EXPECT_EQ(unleased(), 99u);
  EXPECT_TRUE(store_->get_claim(drop_.id, lease.first_serial).has_value());
  auto held = store_->seller_leases(edge_seller_id(edge), kT0 + kDay);
  ASSERT_TRUE(held.has_value());
  EXPECT_TRUE(held->empty());

  auto late = sell(edge, lease.first_serial + 1, kT0 + kDay - kSkew - 5000);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code(), Code::conflict);

  // A repeat (the edge did not hear the answer) returns nothing more.
  auto again = release_edge_lease(*store_, edge, lease, kT0 + kDay + 1, kSkew);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, 0u);
  EXPECT_EQ(unleased(), 99u);
}

// Checks a lease released at the drop's close is not leased again by the
// next sync's top-up (it would only be released again, each round).
TEST_F(EdgeLostTest, ClosedDropIsNotLeasedAgainAfterRelease) {
  store::DropSpec spec = drop_.spec;
  spec.slug = "closing";
  spec.closes_at_ms = kT0 + kDay / 2;
  auto closing = store_->create_drop(spec, kT0);
  ASSERT_TRUE(closing.has_value()) << closing.error().to_string();
  OfflineSettings settings{std::nullopt, {{"closing", 3}}};
  auto leases = top_up_edge_leases(*store_, 5, {"closing"}, settings, kT0 + kDay, kT0, 1000);
  ASSERT_TRUE(leases.has_value() && leases->size() == 1u);
  const int64_t after_close = kT0 + kDay / 2;
  auto released = release_edge_lease(*store_, 5, (*leases)[0], after_close, kSkew);
  ASSERT_TRUE(released.has_value()) << released.error().to_string();
  EXPECT_EQ(*released, 3u);
  uint32_t leased = 99;
  auto again =
      top_up_edge_leases(*store_, 5, {"closing"}, settings, kT0 + kDay, after_close, 1000, &leased);
  ASSERT_TRUE(again.has_value()) << again.error().to_string();
  EXPECT_EQ(leased, 0u);
  EXPECT_TRUE(again->empty());
}

// Checks an edge can release only its own leases: naming another edge's
// lease returns nothing and leaves that lease whole.
TEST_F(EdgeLostTest, AnEdgeCannotReleaseAnotherEdgesLease) {
  int64_t north = 0, south = 0;
  core::GrantLease lease = lease_to(&north, 5, "north");
  lease_to(&south, 5, "south");
  auto released = release_edge_lease(*store_, south, lease, kT0 + kDay, kSkew);
  ASSERT_TRUE(released.has_value());
  EXPECT_EQ(*released, 0u);
  auto held = store_->seller_leases(edge_seller_id(north), kT0 + kDay);
  ASSERT_TRUE(held.has_value());
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ((*held)[0].available_serials.size(), 5u);
}

// Checks the documented choice for revoked edges: revocation alone keeps the
// leases (the edge may still report sales, and they count).
TEST_F(EdgeLostTest, RevokedEdgeKeepsItsLeases) {
  int64_t edge = 0;
  core::GrantLease lease = lease_to(&edge, 6, "north");
  ASSERT_TRUE(store_->update_edge(edge, store::EdgeState::revoked, {}, "", kT0 + 10).has_value());
  EXPECT_EQ(unleased(), 94u);
  EXPECT_TRUE(sell(edge, lease.first_serial, kT0 + 5).has_value());
}

// Checks declaring an edge lost: it is revoked, its unsold serials (not the
// reported sale) return to the pool at once, who/why/when are recorded,
// its unreported sale can no longer become a claim, and a second
// declaration is refused.
TEST_F(EdgeLostTest, LostEdgeIsRevokedAndItsUnsoldSerialsReturn) {
  int64_t edge = 0;
  core::GrantLease lease = lease_to(&edge, 8, "north");
  ASSERT_TRUE(sell(edge, lease.first_serial, kT0 + 1000).has_value());
  EXPECT_EQ(unleased(), 92u);

  const int64_t now = kT0 + 3600'000;
  auto returned = declare_edge_lost(*store_, edge, "stolen at the fair", "key:0123abcd", now);
  ASSERT_TRUE(returned.has_value()) << returned.error().to_string();
  EXPECT_EQ(*returned, 7u);
  EXPECT_EQ(unleased(), 99u);
  auto record = store_->get_edge(edge);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->state, store::EdgeState::revoked);
  auto lost = edge_lost_record(*store_, edge);
  ASSERT_TRUE(lost.has_value() && lost->has_value());
  EXPECT_EQ((*lost)->at_ms, now);
  auto detail = boost::json::parse((*lost)->detail_json).as_object();
  EXPECT_EQ(detail["by"].as_string(), "key:0123abcd");
  EXPECT_EQ(detail["reason"].as_string(), "stolen at the fair");

  EXPECT_FALSE(sell(edge, lease.first_serial + 1, kT0 + 2000).has_value());
  auto twice = declare_edge_lost(*store_, edge, "again", "key:0123abcd", now + 1);
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code(), Code::conflict);
  EXPECT_EQ(unleased(), 99u);
}

// Checks a lost edge's refused sales are listed with buyer, serial and
// amount, once per sale id however often reported, and only under their edge.
TEST_F(EdgeLostTest, LostSalesAreListedOncePerSale) {
  int64_t north = 0, south = 0;
  lease_to(&north, 4, "north");
  lease_to(&south, 4, "south");
  ASSERT_TRUE(declare_edge_lost(*store_, north, "gone", "key:aa", kT0 + 10).has_value());
  LostSale sale{"s-1", "summer-tape", 3, "cash", "ada@example.com", 1500, "EUR"};
  ASSERT_TRUE(record_lost_sales(*store_, north, {sale}, kT0 + 20).ok());
  ASSERT_TRUE(record_lost_sales(*store_, north, {sale}, kT0 + 30).ok());
  LostSale other{"s-9", "summer-tape", 40, "cash", "bob@example.com", 1500, "EUR"};
  ASSERT_TRUE(record_lost_sales(*store_, south, {other}, kT0 + 20).ok());

  auto listed = lost_sales_json(*store_, north);
  ASSERT_TRUE(listed.has_value()) << listed.error().to_string();
  auto doc = boost::json::parse(*listed).as_object();
  EXPECT_TRUE(doc["lost"].as_bool());
  EXPECT_EQ(doc["reason"].as_string(), "gone");
  const auto& sales = doc["sales"].as_array();
  ASSERT_EQ(sales.size(), 1u);
  const auto& s = sales[0].as_object();
  EXPECT_EQ(s.at("account").as_string(), "ada@example.com");
  EXPECT_EQ(s.at("serial").as_int64(), 3);
  EXPECT_EQ(s.at("amount").as_int64(), 1500);
  EXPECT_EQ(s.at("sale_id").as_string(), "s-1");
}

}  // namespace
}  // namespace dg::origin
