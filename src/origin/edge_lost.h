// Edges giving serials back (issue #13; DESIGN.md "Scarcity", rule 4;
// docs/formats/sync.md "Releases" and "Lost edges"): an edge releases the
// unsold serials of leases past their sell_until, and an operator declares
// an edge lost, which returns its unsold serials and refuses (and lists) what
// it reports afterwards. EdgeHub (edge_lost.cc) serves these over HTTP.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/token.h"
#include "store/store.h"

namespace dg::origin {

// Gives back the serials of one of the edge's leases that are not claims,
// once its sell_until less `skew_ms` has passed by `now_ms` (conflict
// before). 0 when the edge no longer holds the lease (released before).
Result<uint32_t> release_edge_lease(store::Store& store, int64_t edge_id,
                                    const core::GrantLease& lease, int64_t now_ms, int64_t skew_ms);

// The edge.lost event of an edge, if an operator declared it lost.
Result<std::optional<store::Event>> edge_lost_record(store::Store& store, int64_t edge_id);

// Declares the edge lost: revokes it, returns every serial of its leases
// that is not a claim to the pool, and records who (`by`), why and when
// (event edge.lost). Returns how many serials went back; conflict when it is
// lost already, not_found for an unknown edge.
Result<uint32_t> declare_edge_lost(store::Store& store, int64_t edge_id, const std::string& reason,
                                   const std::string& by, int64_t now_ms);

// A sale a lost edge reported: refused, and kept for the operator.
struct LostSale {
  std::string id;
  std::string drop;
  std::optional<uint32_t> serial;  // as the edge signed it; none if it did not verify
  std::string channel;
  std::string account;
  int64_t amount_minor = 0;
  std::string currency;
};
// Records the sales as edge.lost_sale events, once per sale id.
Status record_lost_sales(store::Store& store, int64_t edge_id, const std::vector<LostSale>& sales,
                         int64_t now_ms);
// GET /v1/edges/{id}/lost-sales: whether and when the edge was declared
// lost, and the buyers of its refused sales.
Result<std::string> lost_sales_json(store::Store& store, int64_t edge_id);

}  // namespace dg::origin
