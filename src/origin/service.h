// OriginService: the origin's domain operations, independent of HTTP, as one
// part per concern, assembled here so that the composition root (app.cc) and
// tests build one thing. The routes in routes.cc parse requests, call the
// part they need, and render the results:
//
//   catalog       drops read through a short-lived cache; the public drop
//                 page and manifest (drop_catalog.h)
//   drops         operator administration of drops and files (drop_admin.h)
//   idempotency   answers stored under Idempotency-Keys (idempotency.h)
//   certificates  certificates, revocation, the revocation list (certificates.h)
//   claims        holds and claims through the seller and committer (claims.h)
//   downloads     download tokens checked, files found, sends recorded (downloads.h)
//   checkout      online sales: orders, payment webhooks, refunds (checkout.h)
//   stall_sales   payment readers, receipts, declines and cash (stall_sales.h)
//   codes         claim codes: batches of reserved serials, redemption (claim_codes.h)
//
// Each part is given only what it uses; the parts it depends on are declared
// before it, so they are built first and destroyed last.
//
// Thread safety: every part is safe to call from many handler threads.
#pragma once

#include "base/env.h"
#include "base/metrics.h"
#include "core/token.h"
#include "crypto/keyring.h"
#include "origin/blob_store.h"
#include "origin/certificates.h"
#include "origin/checkout.h"
#include "origin/claim_codes.h"
#include "origin/claims.h"
#include "origin/committer.h"
#include "origin/config.h"
#include "origin/downloads.h"
#include "origin/drop_admin.h"
#include "origin/drop_catalog.h"
#include "origin/idempotency.h"
#include "origin/seller.h"
#include "origin/stall_sales.h"
#include "store/store.h"

namespace dg::origin {

class OriginService {
 public:
  struct Parts {
    store::Store& store;
    BlobStore& blobs;
    const core::TokenSigner& signer;
    const crypto::Keyring& keyring;
    Seller& seller;
    ClaimCommitter& committer;
    metrics::Registry& metrics;
    const Clock& clock;
    const OriginConfig& config;
    const core::OwnerSecret& owner_secret;  // certificates name owners by core::owner_id
    // The payment provider behind online checkout; null: checkout is off.
    PaymentProvider* payment_provider = nullptr;
  };
  explicit OriginService(Parts parts);
  OriginService(const OriginService&) = delete;
  OriginService& operator=(const OriginService&) = delete;

  const OriginConfig& config() const { return config_; }
  // The injected clock, for the routes' own times (a drop's default opens_at).
  const Clock& clock() const { return clock_; }

  DropCatalog catalog;
  DropAdmin drops;
  IdempotencyRecords idempotency;
  Certificates certificates;
  Claims claims;
  Downloads downloads;
  Checkout checkout;
  StallSales stall_sales;
  ClaimCodes codes;

 private:
  const OriginConfig& config_;
  const Clock& clock_;
};

}  // namespace dg::origin
