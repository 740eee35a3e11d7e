// Syncer: brings the edge up to date with its origin (docs/formats/sync.md).
// Everything received is verified before it is used: the keyring against the
// keyring already pinned, manifests against the keyring and the highest
// version seen, blobs against their manifest hashes, the revocation list
// against the keyring. A drop switches to a new version only when every blob
// of it is present and verified. When the origin is unreachable, nothing
// changes and the edge keeps serving what it has.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/metrics.h"
#include "base/status.h"
#include "edge/catalog.h"
#include "edge/config.h"
#include "edge/sales_desk.h"
#include "edge/vault.h"
#include "http/client.h"
#include "store/outbox.h"
#include "store/sales_book.h"

namespace dg::edge {

struct Enrollment {
  std::string origin_url;
  int64_t edge_id = 0;
  std::string secret;
};
Result<Enrollment> load_enrollment(const EdgeConfig& config);

// One line of `dropgate edge preload`'s readiness report.
struct DropReadiness {
  std::string drop;
  int64_t version = 0;
  uint32_t files = 0;
  uint64_t bytes = 0;
  uint32_t files_verified = 0;
  int64_t expires_at_ms = 0;
};

class Syncer {
 public:
  Syncer(const EdgeConfig& config, Catalog& catalog, Vault& vault, store::Outbox& outbox,
         metrics::Registry& metrics, const Clock& clock);

  // One full round: grant, keyring, revocations, manifests and blobs, outbox.
  // `progress` (optional) hears about long transfers: (what, done, total).
  Status sync_once(
      const std::function<void(const std::string&, uint64_t, uint64_t)>& progress = {});
  // Pushes queued events; returns how many the origin acknowledged.
  Result<uint32_t> push_outbox();
  // Offline sales: the desk hears the operator keys of each sync document,
  // and the book's unreported sales are reported each round.
  void attach_sales(SalesDesk& desk, store::SalesBook& book) {
    sales_desk_ = &desk;
    sales_book_ = &book;
  }
  // Reports unacknowledged offline sales (POST /v1/edge/sales); returns how
  // many the origin acknowledged. A sale stays in the book until then.
  Result<uint32_t> push_sales();
  void push_sales_or_warn();  // push_sales, a failure only logged
  // Gives back the unsold serials of the grant's leases past their
  // sell_until by this edge's clock (POST /v1/edge/releases), only once
  // every sale it made was acknowledged: the origin then returns whatever
  // of the lease is not a claim, so nothing sold is ever released. Returns
  // how many serials went back.
  Result<uint32_t> release_expired_leases();

  std::vector<DropReadiness> readiness();

 private:
  http::ClientDeadlines deadlines() const;
  Status fetch_grant(const Enrollment& enrollment);
  Status apply_keyring(const boost::json::object& doc);
  Status apply_grant(const boost::json::object& doc);
  Status apply_revocations(const boost::json::object& doc);
  // The hashes of the operator API keys, for the sales desk.
  void apply_operator_keys(const boost::json::object& doc);
  // Applies every drop the sync document's "drops" offers; the last failure,
  // if any (each is logged; the others are still applied).
  Status apply_drops(const boost::json::array& drops,
                     const std::function<void(const std::string&, uint64_t, uint64_t)>& progress);
  // Removes the drops the current grant no longer names.
  void remove_ungranted_drops();
  Status apply_drop(const std::string& slug, const std::string& manifest,
                    const std::string& minisig,
                    const std::function<void(const std::string&, uint64_t, uint64_t)>& progress);
  Status fetch_blob(const core::Asset& asset,
                    const std::function<void(const std::string&, uint64_t, uint64_t)>& progress);

  const EdgeConfig& config_;
  Catalog& catalog_;
  Vault& vault_;
  store::Outbox& outbox_;
  const Clock& clock_;
  std::string origin_url_;
  SalesDesk* sales_desk_ = nullptr;
  store::SalesBook* sales_book_ = nullptr;
  // Leases released ("slug:first-last"), so each is asked for once.
  std::set<std::string> released_leases_;
  uint32_t events_per_push_;  // see limits::edge_push_events_max
  metrics::Counter& syncs_ok_;
  metrics::Counter& syncs_failed_;
  metrics::Counter& manifests_refused_;
  metrics::Counter& blobs_fetched_;
  metrics::Counter& events_pushed_;
};

}  // namespace dg::edge
