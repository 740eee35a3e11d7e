// The checks a claim passes, each at its edges: the state, the sale window
// (exactly at opens_at and closes_at), the manifest, the territory lists and
// the per-buyer limit (reached, and one below). Refusals are compared by
// problem type, detail and retry hint: what the origin sends.
#include "core/claim.h"

#include <gtest/gtest.h>

#include "base/problem_types.h"
#include "base/time.h"

namespace dg::core {
namespace {

constexpr int64_t kOpensAt = 1'800'000'000'000;
constexpr int64_t kClosesAt = kOpensAt + 86'400'000;
const SaleWindow kWindow{kOpensAt, kClosesAt};
const SaleWindow kOpenEnded{kOpensAt, std::nullopt};

void expect_refused(const Status& s, const ProblemType& type, const std::string& detail,
                    uint32_t retry_after_s = 0) {
  EXPECT_EQ(s.type(), &type) << s.to_string();
  EXPECT_EQ(s.code(), type.code);
  EXPECT_EQ(s.message(), detail);
  EXPECT_EQ(s.retry_after_s(), retry_after_s);
}

// Checks that a published live drop inside its window sells.
TEST(CheckOnSale, LiveAndPublishedInsideTheWindowSells) {
  EXPECT_TRUE(check_on_sale(DropState::live, kWindow, true, kOpensAt + 1).ok());
  EXPECT_TRUE(check_on_sale(DropState::live, kOpenEnded, true, kClosesAt * 2).ok());
}

// Checks the opening edge: a scheduled drop refuses a millisecond before
// opens_at (saying when it opens) and sells at opens_at exactly.
TEST(CheckOnSale, ScheduledOpensExactlyAtOpensAt) {
  expect_refused(check_on_sale(DropState::scheduled, kWindow, true, kOpensAt - 1),
                 problem::window_not_open, "sales open at " + format_rfc3339(kOpensAt));
  EXPECT_TRUE(check_on_sale(DropState::scheduled, kWindow, true, kOpensAt).ok());
}

// Checks the closing edge: the window is half-open, so a claim a millisecond
// before closes_at sells and one at closes_at is refused.
TEST(CheckOnSale, WindowClosesExactlyAtClosesAt) {
  EXPECT_TRUE(check_on_sale(DropState::live, kWindow, true, kClosesAt - 1).ok());
  expect_refused(check_on_sale(DropState::live, kWindow, true, kClosesAt), problem::window_closed,
                 "sales closed at " + format_rfc3339(kClosesAt));
  // A scheduled drop that opened and closed since its last write is closed too.
  expect_refused(check_on_sale(DropState::scheduled, kWindow, true, kClosesAt),
                 problem::window_closed, "sales closed at " + format_rfc3339(kClosesAt));
}

// Checks every state that does not sell, each with its own refusal; paused
// asks the buyer to come back in 30 s.
TEST(CheckOnSale, EachStateThatDoesNotSellSaysWhy) {
  int64_t inside = kOpensAt + 1;
  expect_refused(check_on_sale(DropState::draft, kWindow, false, inside), problem::window_not_open,
                 "this drop is not published");
  expect_refused(check_on_sale(DropState::paused, kWindow, true, inside), problem::drop_paused,
                 "the seller paused this drop; try again shortly", 30);
  expect_refused(check_on_sale(DropState::closed, kWindow, true, inside), problem::window_closed,
                 "this drop is closed");
}

// Checks the order of the checks: the state speaks before the window, so a
// paused drop whose window has closed says paused, and a closed one closed.
TEST(CheckOnSale, StateComesBeforeTheWindow) {
  expect_refused(check_on_sale(DropState::paused, kWindow, true, kClosesAt), problem::drop_paused,
                 "the seller paused this drop; try again shortly", 30);
  expect_refused(check_on_sale(DropState::closed, kWindow, true, kClosesAt), problem::window_closed,
                 "this drop is closed");
  expect_refused(check_on_sale(DropState::draft, kWindow, false, kClosesAt),
                 problem::window_not_open, "this drop is not published");
}

// Checks that a live drop without a signed manifest does not sell, and that
// a closed window is reported before the missing manifest.
TEST(CheckOnSale, NoManifestNoSale) {
  expect_refused(check_on_sale(DropState::live, kWindow, false, kOpensAt), problem::window_not_open,
                 "this drop has no manifest");
  expect_refused(check_on_sale(DropState::live, kWindow, false, kClosesAt), problem::window_closed,
                 "sales closed at " + format_rfc3339(kClosesAt));
}

// Checks that a drop with no territory lists sells everywhere, with or
// without a territory.
TEST(CheckTerritory, UnrestrictedDropSellsEverywhere) {
  Rights rights;
  EXPECT_TRUE(check_territory(rights, "").ok());
  EXPECT_TRUE(check_territory(rights, "FR").ok());
}

// Checks an allow list: listed territories buy, others get 451, and an
// unknown territory is asked for.
TEST(CheckTerritory, AllowListAdmitsOnlyItsTerritories) {
  Rights rights;
  rights.territories_allowed = {"FR", "BE"};
  EXPECT_TRUE(check_territory(rights, "FR").ok());
  EXPECT_TRUE(check_territory(rights, "BE").ok());
  expect_refused(check_territory(rights, "DE"), problem::territory_denied,
                 "this drop is not offered in DE");
  expect_refused(check_territory(rights, ""), problem::territory_required,
                 "this drop is sold only in some territories; give the buyer's territory");
}

// Checks a deny list: listed territories get 451, others buy, and an unknown
// territory is asked for (it might be a denied one).
TEST(CheckTerritory, DenyListRefusesItsTerritories) {
  Rights rights;
  rights.territories_denied = {"US"};
  expect_refused(check_territory(rights, "US"), problem::territory_denied,
                 "this drop is not offered in US");
  EXPECT_TRUE(check_territory(rights, "JP").ok());
  expect_refused(check_territory(rights, ""), problem::territory_required,
                 "this drop is sold only in some territories; give the buyer's territory");
}

// Checks that a territory on both lists is denied: denial wins.
TEST(CheckTerritory, DenialWinsOverAllowance) {
  Rights rights;
  rights.territories_allowed = {"FR", "US"};
  rights.territories_denied = {"US"};
  EXPECT_TRUE(check_territory(rights, "FR").ok());
  expect_refused(check_territory(rights, "US"), problem::territory_denied,
                 "this drop is not offered in US");
}

// Checks the composition: on-sale refusals come before territory ones, and a
// drop that sells checks the territory.
TEST(CheckClaimable, SaleFirstThenTerritory) {
  Rights rights;
  rights.territories_allowed = {"FR"};
  expect_refused(check_claimable(DropState::scheduled, kWindow, true, rights, "DE", kOpensAt - 1),
                 problem::window_not_open, "sales open at " + format_rfc3339(kOpensAt));
  expect_refused(check_claimable(DropState::live, kWindow, true, rights, "DE", kOpensAt),
                 problem::territory_denied, "this drop is not offered in DE");
  EXPECT_TRUE(check_claimable(DropState::live, kWindow, true, rights, "FR", kOpensAt).ok());
}

// Checks the limit's arithmetic: one more is allowed while claims and holds
// together are below the limit, and not once they reach it.
TEST(BuyerLimit, OneMoreWhileClaimsAndHoldsAreBelowTheLimit) {
  EXPECT_TRUE(within_buyer_limit(0, 0, 1));
  EXPECT_FALSE(within_buyer_limit(1, 0, 1));
  EXPECT_FALSE(within_buyer_limit(0, 1, 1));
  EXPECT_TRUE(within_buyer_limit(1, 1, 3));
  EXPECT_FALSE(within_buyer_limit(2, 1, 3));
  EXPECT_FALSE(within_buyer_limit(1, 2, 3));
  EXPECT_FALSE(within_buyer_limit(5, 0, 3));  // over already (the limit was lowered)
  EXPECT_FALSE(within_buyer_limit(0, 0, 0));  // a limit of 0 sells nothing
}

// Checks that counts past uint32 do not wrap into "below the limit".
TEST(BuyerLimit, LargeCountsDoNotWrap) {
  EXPECT_FALSE(within_buyer_limit(UINT64_MAX, 1, 3));
  EXPECT_FALSE(within_buyer_limit(uint64_t{1} << 32, 0, 3));
}

// Checks the hold's pre-check at one below the limit and at the limit.
TEST(BuyerLimit, CheckRefusesAtTheLimitNotOneBelow) {
  EXPECT_TRUE(check_buyer_limit(1, 2).ok());
  expect_refused(check_buyer_limit(2, 2), problem::per_buyer_limit,
                 "this account already holds its share of this drop");
}

// Checks the details of the two refusals the store's limit becomes.
TEST(BuyerLimit, StoreRefusalsNameTheLimit) {
  expect_refused(claim_over_buyer_limit(2), problem::per_buyer_limit,
                 "this account already holds 2 of this drop");
  expect_refused(hold_over_buyer_limit(3), problem::per_buyer_limit,
                 "this account's claims and holds already reach the limit of 3 for this drop");
}

}  // namespace
}  // namespace dg::core
