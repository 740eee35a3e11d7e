// Serial leases of edges that sell offline (docs/formats/sync.md, "Offline
// sales"): the origin leases serials to an edge's seller (`edge:<id>`,
// SellerKind::edge, never reclaimed by timeout), sized by the offline sales
// the operator expects per drop and bounded by unsold stock, and names them
// in the edge's grant with the operator's risk caps. While the edge syncs,
// its leases are topped up back to that expectation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/token.h"
#include "store/store.h"

namespace dg::origin {

// The seller id an edge sells offline under.
std::string edge_seller_id(int64_t edge_id);

// What the operator set for an edge's offline sales (approval body members
// "offline_sales" and "caps"; carried in the grant, signed).
struct OfflineSettings {
  std::optional<core::OfflineCaps> caps;
  std::vector<core::OfflineTarget> targets;  // per drop; only drops the edge is granted
  bool sells_offline() const { return !targets.empty(); }
};

// Reads "offline_sales" ({"slug": n}) and "caps" from an approval body;
// every target must name one of `drops`. Absent members: no offline sales.
Result<OfflineSettings> parse_offline_settings(const boost::json::object& body,
                                               const std::vector<std::string>& drops);

// Leases the edge more serials of every targeted drop until its unsold
// leased serials reach the target (core::offline_top_up), within unsold stock,
// and returns the grant's leases: every lease the edge holds of `drops`,
// each selling until `sell_until_ms` or the drop's close, whichever is first.
// `leased` (optional) receives how many serials were newly leased.
Result<std::vector<core::GrantLease>> top_up_edge_leases(store::Store& store, int64_t edge_id,
                                                         const std::vector<std::string>& drops,
                                                         const OfflineSettings& settings,
                                                         int64_t sell_until_ms, int64_t now_ms,
                                                         uint32_t lease_serials_max,
                                                         uint32_t* leased = nullptr);

// The price of every drop the edge sells offline, as the grant names it.
Result<std::vector<core::OfflinePrice>> offline_prices(store::Store& store,
                                                       const OfflineSettings& settings);

// The edge's leases as JSON for GET /v1/edges/{id}/leases: drop, first,
// last, and the serials in them neither claimed nor held (unsold as the
// origin knows it; sales not yet reported count as unsold here).
Result<std::string> edge_leases_json(store::Store& store, int64_t edge_id, int64_t now_ms);

}  // namespace dg::origin
