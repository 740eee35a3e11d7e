// SalesDesk: offline sales at the edge (docs/formats/sync.md, "Offline
// sales"). The edge sells only serials its grant leases it, until the
// lease's sell_until less its clock-skew margin by its own clock and within
// the operator's risk caps (core/offline.h); it writes each sale durably
// (store/sales_book.h) before it answers, and signs the certificate and the
// download token with its own key, verifiable offline through the grant
// (core::verify_edge_cert). The answer is the origin's claim JSON plus
// "channel", "sale_id" and "grant".
//
// Operators prove themselves to the edge with their usual API key: the
// origin's sync document carries the SHA-256 hashes of the operator keys,
// which the edge keeps (state/operator_keys.json) and checks offline.
//
// Thread safety: all methods are safe to call concurrently; sales are made
// one at a time.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/env.h"
#include "base/metrics.h"
#include "core/token.h"
#include "edge/catalog.h"
#include "edge/config.h"
#include "http/http.h"
#include "store/sales_book.h"

namespace dg::edge {

class SalesDesk {
 public:
  SalesDesk(const EdgeConfig& config, Catalog& catalog, store::SalesBook& book,
            const core::TokenSigner& edge_signer, metrics::Registry& metrics, const Clock& clock);

  // POST /v1/drops/{slug}/cash: operator-authenticated, Idempotency-Key required.
  http::Response cash(http::Request& request);

  // The operator key hashes from the origin's sync document; persisted.
  Status set_operator_keys(std::vector<std::string> hashes);
  // Reads the persisted hashes at start (none yet: no operator can sell).
  Status load_operator_keys();
  // Updates dropgate_offline_sales_pending.
  void refresh_metrics();

 private:
  struct SaleRequest {
    std::string drop;
    std::string channel;
    std::string sale_key;
    std::string account;
    int64_t amount_minor = 0;
    std::string currency;
    std::string reference;
  };
  bool is_operator(std::string_view key) const;
  http::Response sell(const SaleRequest& sale);
  // The lowest serial of a lease of `drop` in the grant this edge has not sold.
  Result<uint32_t> free_serial(const core::EdgeGrantFields& grant, const std::string& drop);
  Result<store::EdgeSale> make_sale(const SaleRequest& sale, const Catalog::Serving& serving,
                                    const std::string& grant_token, uint32_t serial,
                                    int64_t now_ms);

  const EdgeConfig& config_;
  Catalog& catalog_;
  store::SalesBook& book_;
  const core::TokenSigner& signer_;
  metrics::Registry& metrics_;
  const Clock& clock_;
  std::mutex sale_mutex_;  // one sale at a time: picking a serial and recording it
  mutable std::mutex keys_mutex_;
  std::unordered_set<std::string> operator_key_hashes_;
  metrics::Gauge& pending_;
};

void add_edge_sales_routes(http::Router& router, SalesDesk& desk);

}  // namespace dg::edge
