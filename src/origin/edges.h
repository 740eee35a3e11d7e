// The origin's side of edges: enrolment, approval (an edge-grant token),
// the sync document, blobs by hash, and the event inbox that de-duplicates
// what edges report. The protocol is in docs/formats/sync.md.
#pragma once

#include <boost/json.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/metrics.h"
#include "core/token.h"
#include "crypto/keyring.h"
#include "http/http.h"
#include "origin/blob_store.h"
#include "origin/certificates.h"
#include "origin/config.h"
#include "origin/drop_catalog.h"
#include "store/store.h"

namespace dg::origin {

class EdgeHub {
 public:
  struct Parts {
    store::Store& store;
    BlobStore& blobs;
    const core::TokenSigner& signer;
    const crypto::Keyring& keyring;
    DropCatalog& catalog;        // the drops' current manifests
    Certificates& certificates;  // the signed revocation list
    const Clock& clock;
    const OriginConfig& config;
    metrics::Registry* metrics = nullptr;  // offline sales by channel (none in some tests)
  };
  explicit EdgeHub(Parts parts) : parts_(parts) {}

  // Anonymous: an edge asks to be enrolled with its key and the hash of a secret.
  // Pending enrolments expire (config edge_enrolment_ttl_s); one client address
  // may have limits::edge_enrolments_per_address_max pending (429 beyond); when
  // limits::edge_enrolments_pending_max wait, the oldest is dropped, so a flood
  // of anonymous enrolments can delay but never shut out an operator's edge.
  Result<std::string> enroll(std::string_view body_untrusted, const std::string& client_address);
  // Operator.
  Result<std::string> list_json();
  Result<std::string> approve(int64_t edge_id, std::string_view body_untrusted);
  Result<std::string> revoke(int64_t edge_id);
  // The serials leased to an edge for offline sales, and how many are unsold.
  Result<std::string> leases_json(int64_t edge_id);
  // Declares an edge lost (POST /v1/edges/{id}/lost, edge_lost.cc): revokes
  // it, returns its leased serials that are not claims to the pool, and
  // records who and why (event edge.lost). Its later reports are refused
  // and listed by lost_sales_json.
  Result<std::string> declare_lost(int64_t edge_id, const http::Request& request);
  // The sales a lost edge reported after it was declared lost: buyer,
  // serial, amount, for the operator's follow-up.
  Result<std::string> lost_sales_json(int64_t edge_id);
  // The enrolled edge, proving it knows the secret, fetches its grant.
  Result<std::string> grant(int64_t edge_id, std::string_view secret_untrusted);

  // Everything an edge needs in one document: signed keyring, signed
  // manifests of its drops, signed revocation list, its current grant.
  Result<std::string> sync_document(const http::Request& request);
  // A blob of one of the edge's drops.
  http::Response blob(http::Request& request);
  // Download events reported by an edge; stored once each.
  Result<std::string> ingest_events(const http::Request& request);
  // Offline sales an edge reports (POST /v1/edge/sales; edge_sales.cc):
  // each verified through its grant and recorded as a claim of the edge's
  // lease, once per sale id; refusals are recorded as events, not dropped.
  Result<std::string> ingest_sales(const http::Request& request);
  // An edge gives back the unsold serials of leases past their sell_until
  // (POST /v1/edge/releases, edge_lost.cc), after reporting its sales.
  Result<std::string> release_leases(const http::Request& request);
  // Whether the request carries a grant this origin signed that has not
  // expired: the signature alone, no store (enrolment and approval are
  // checked by the handler). Lets an edge push more than an anonymous body.
  bool carries_signed_grant(const http::Request& request) const;

 private:
  // The edge's grant after topping its leases up to the operator's expected
  // offline sales (re-signed, same life, when serials were added).
  Result<std::string> topped_up_grant(const store::EdgeRecord& edge);
  // A lost edge's report: each sale recorded as edge.lost_sale, then refused
  // (problem edge-lost). An edge not lost gets `refusal` (why authentication failed).
  Result<std::string> refuse_lost_sales(const http::Request& request,
                                        const boost::json::array& sales, const Status& refusal);
  // The edge behind a request's grant: verified token, enrolled, approved.
  Result<store::EdgeRecord> authenticate(const http::Request& request);

  // Whether a pending enrolment has outlived edge_enrolment_ttl_s (it no
  // longer counts, cannot be approved, and is deleted by the next enrolment).
  bool expired_enrolment(const store::EdgeRecord& edge) const;
  // The address's enrolments that are still pending and unexpired.
  uint32_t pending_from(std::vector<int64_t>& edge_ids);

  Parts parts_;
  // Enrolments per client address, for the per-address limit: in memory (a
  // restart forgets them; the global cap and the TTL still hold), bounded by
  // limits::edge_enrolment_addresses_max, oldest address forgotten first.
  std::mutex enrol_mutex_;
  std::map<std::string, std::vector<int64_t>> enrolments_by_address_;
  std::deque<std::string> addresses_in_order_;
};

void add_edge_routes(http::Router& router, EdgeHub& hub);

}  // namespace dg::origin
