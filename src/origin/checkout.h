// Checkout: online sales through a payment provider (docs/formats/orders.md).
//
//   start()    POST /v1/drops/{slug}/checkout: a hold first (Claims::hold,
//              rate-limited, lasting checkout_hold_ttl), then an order, then
//              the provider's hosted checkout session, which expires no
//              later than the hold.
//   webhook()  POST /v1/webhooks/stripe: signature checked on the exact body
//              bytes, events de-duplicated by id; a completed checkout
//              confirms the hold into a claim (the one claim path,
//              Claims), or — the hold gone — claims any free serial, or —
//              none left — queues a refund. A refund or dispute revokes the
//              claim's certificate.
//   order_json()  GET /v1/orders/{id}: the buyer's view of one order.
//   tick()     retries due refunds (backoff on the injected clock).
//
// Thread safety: every method is safe to call from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/metrics.h"
#include "base/status.h"
#include "core/token.h"
#include "core/webhook.h"
#include "origin/certificates.h"
#include "origin/claims.h"
#include "origin/config.h"
#include "origin/drop_catalog.h"
#include "origin/idempotency.h"
#include "origin/payment_provider.h"
#include "store/store.h"

namespace dg::origin {

class Checkout {
 public:
  struct Parts {
    store::Store& store;
    Claims& claims;
    Certificates& certificates;
    DropCatalog& catalog;
    IdempotencyRecords& idempotency;
    const core::TokenSigner& signer;        // an order's fresh download token
    const core::OwnerSecret& owner_secret;  // an order's certificate owner
    PaymentProvider* provider;              // null: checkout is off (503)
    metrics::Registry& metrics;
    const Clock& clock;
    const OriginConfig& config;
  };
  explicit Checkout(Parts parts);

  // 201 {"order","checkout_url","expires_at"}. checkout-unavailable without a
  // provider; payment-provider when the session cannot be made (the hold is
  // then left to expire and the order stays pending, never charged).
  Result<std::string> start(std::string_view slug, const ClaimRequest& request,
                            std::string_view client_address);
  // not_found for an unknown id: an order shows nothing to anyone else.
  Result<std::string> order_json(std::string_view order_id);
  // Answers through `reply` exactly once: 200 for an event handled, ignored
  // or seen before; webhook-signature (400) for a bad signature; 503 when it
  // could not be handled now (the provider delivers it again).
  void webhook(std::string_view signature_header, std::string body, ClaimReply reply);
  // GET /v1/refunds, newest first.
  Result<std::string> refunds_json(uint32_t count_max);
  // Tries a queued refund now, whatever its next attempt time (operator).
  Result<std::string> retry_refund(int64_t refund_id);
  // Retries refunds whose next attempt is due; refreshes the queue gauge.
  void tick();

 private:
  struct Completion;  // a checkout.session.completed on its way (checkout.cc)
  void completed(const core::PaymentEvent& event, ClaimReply reply);
  void claim_for(std::shared_ptr<Completion> c, bool confirm_hold);
  void on_claim(std::shared_ptr<Completion> c, bool from_hold, Result<ClaimOutcome> outcome);
  void claimed(std::shared_ptr<Completion> c, uint32_t serial);
  void refund_instead(std::shared_ptr<Completion> c, const Status& refusal);
  void finish(std::shared_ptr<Completion> c, std::string outcome);
  // Refund and dispute: the order's certificate is revoked.
  Result<std::string> reversed(const core::PaymentEvent& event);
  Result<store::Order> find_order(const core::PaymentEvent& event);
  // One refund attempt; records its result (backoff on failure).
  Result<store::Refund> attempt_refund(const store::Refund& refund);
  Status revoke_order_claim(const store::Order& order, std::string_view reason);
  Result<std::string> claimed_json(const store::Order& order);
  void record_event(const core::PaymentEvent& event, std::string_view order_id,
                    std::string_view outcome);
  Idempotency claim_key(std::string_view order_id) const;

  Parts parts_;
  std::vector<std::string> secrets_;
  struct Metrics {
    metrics::Counter& sessions;
    metrics::Counter& sales;
    metrics::Gauge& refunds_queued;
  } metrics_;
};

}  // namespace dg::origin
