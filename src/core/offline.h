// Offline sales at the edge as pure rules (docs/DESIGN.md, "Scarcity: serial
// leases", rule 4): how many serials an edge's lease is topped up by, and
// whether the edge may make one more sale by its own clock and its
// operator's risk caps. The time is a parameter; nothing here reads a clock.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "base/status.h"
#include "core/token.h"

namespace dg::core {

// How many more serials of a drop to lease to an edge that holds
// `unsold_held` unsold leased serials of it when the operator expects
// `expected_sales` offline sales: enough to reach the expectation, never more
// than `serials_max` in one go, 0 when it holds enough. The store bounds the
// lease by the unsold stock (it never leases what is not there).
uint32_t offline_top_up(uint32_t expected_sales, uint32_t unsold_held, uint32_t serials_max);

// The edge's own count of what it sold offline and has not been released
// from: what the caps are judged against.
struct OfflineTally {
  uint32_t sales = 0;
  int64_t value_minor = 0;
};

// Whether an edge may sell `serial` of `drop` for `price_minor` at `now_ms`
// by its own clock: the serial must lie in a lease of the grant for that
// drop, the time must be before the lease's sell_until minus
// `skew_margin_ms` (an edge whose clock runs late must still stop in time),
// and the sale must fit the grant's caps with the tally so far. ok, or a
// Status naming offline-sell-until-passed, offline-cap-reached (its `cap`
// in the message: sales, value, sale_value) or offline-no-lease.
Status check_offline_sale(const EdgeGrantFields& grant, std::string_view drop, uint32_t serial,
                          int64_t price_minor, int64_t now_ms, int64_t skew_margin_ms,
                          const OfflineTally& tally);

// Which cap a refusal from check_offline_sale names ("sales", "value",
// "sale_value"), for the metric label; empty for other refusals.
std::string_view offline_cap_of(const Status& refusal);

// The grant's lease of `drop` that covers `serial`, or null.
const GrantLease* grant_lease_covering(std::span<const GrantLease> leases, std::string_view drop,
                                       uint32_t serial);

}  // namespace dg::core
