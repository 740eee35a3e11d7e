// The checks a claim (or a hold, which reserves a serial for a claim) passes
// before a serial is taken for it: the drop is on sale (state, window, a
// signed manifest), the buyer's territory is allowed, and the buyer is within
// the per-buyer limit. Pure rules: no store, no clock (the time is a parameter).
//
// A refusal is a Status naming its problem type (base/problem_types.h), with
// the detail and retry hint the origin sends.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/status.h"
#include "core/drop.h"
#include "core/manifest.h"
#include "core/rights.h"

namespace dg::core {

// Whether a drop in stored state `stored`, with the sale window
// [opens_at, closes_at) and a signed manifest when `published`, sells at
// `now_ms`. In this order:
// - draft: window-not-open; scheduled before opens_at: window-not-open;
//   paused: drop-paused (Retry-After 30 s); closed: window-closed;
// - at or after closes_at: window-closed;
// - no manifest: window-not-open.
// The state comes first: a paused drop whose window has closed says paused.
Status check_on_sale(DropState stored, const SaleWindow& window, bool published, int64_t now_ms);

// Whether a buyer in `territory` (ISO 3166-1 alpha-2, empty when not known)
// may claim a drop with `rights`: territory-required when the drop is sold in
// some territories only and the territory is not known; territory-denied when
// it is not allowed there.
Status check_territory(const Rights& rights, std::string_view territory);

// Everything a claim or a hold is checked against before a serial is taken:
// check_on_sale, then check_territory.
Status check_claimable(DropState stored, const SaleWindow& window, bool published,
                       const Rights& rights, std::string_view territory, int64_t now_ms);

// --- The per-buyer limit. An account's unrevoked claims and its unexpired
// holds of a drop count toward it; a hold that a claim confirms counts once.

// Whether an account with `claims_count` claims and `live_holds_count` other
// unexpired holds of the drop may take one more serial (claim or hold).
bool within_buyer_limit(uint64_t claims_count, uint64_t live_holds_count, uint32_t per_buyer_limit);

// Before a hold takes a serial: per-buyer-limit when the account's claims
// alone reach the limit. (Holds are counted where they are stored, atomically.)
Status check_buyer_limit(uint64_t claims_count, uint32_t per_buyer_limit);

// The refusal of a claim the store found over the limit.
Status claim_over_buyer_limit(uint32_t per_buyer_limit);
// The refusal of a hold the store found over the limit (claims and holds).
Status hold_over_buyer_limit(uint32_t per_buyer_limit);

}  // namespace dg::core
