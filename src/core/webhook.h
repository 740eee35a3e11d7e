// Payment webhooks in the widely used Stripe scheme (docs/formats/orders.md):
// the provider sends the event's JSON with a header
//
//   Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">[,v1=…][,v0=…]
//
// Pure functions: the secrets and the time are parameters. A webhook is
// verified first (verify_webhook_signature), and only then parsed
// (parse_payment_event): nothing is read from an unverified body.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dg::core {

// Checks the header against the exact bytes of the body. Accepted when any
// `v1` value equals the MAC under any of `secrets` (several during a secret's
// rotation), compared in constant time; other schemes (v0) are ignored. The
// timestamp must lie within `tolerance` of `now_s`, both ways: a stale replay
// and a future-dated one are refused alike. Returns the signed timestamp, or
// webhook-signature (400) saying why: malformed header, no v1, stale, from
// the future, or no match. invalid_argument when `secrets` is empty (a
// configuration error, checked at start).
Result<int64_t> verify_webhook_signature(std::string_view signature_header_untrusted,
                                         std::string_view body_untrusted,
                                         std::span<const std::string> secrets, int64_t now_s,
                                         std::chrono::seconds tolerance);

// The events dropgate acts on; every other type is `other` (answered 200, ignored).
enum class PaymentEventKind { checkout_completed, charge_refunded, dispute_created, other };

// A verified event's fields, as dropgate reads them. Currency is upper-case
// ISO 4217 (Stripe sends lower case).
struct PaymentEvent {
  std::string id;    // evt_…: the de-duplication key
  std::string type;  // as sent, e.g. "checkout.session.completed"
  PaymentEventKind kind = PaymentEventKind::other;
  std::string order_id;        // client_reference_id, else metadata.order_id
  std::string session_id;      // cs_… (checkout_completed)
  std::string payment_intent;  // pi_…
  int64_t amount_minor = 0;    // amount_total, amount_refunded or the dispute's amount
  std::string currency;
  std::string payment_status;  // checkout_completed: "paid", "unpaid", "no_payment_required"
};

// Parses a verified body: invalid_argument (400) when it is not an event of
// the expected shape. An event of another type needs only id and type.
Result<PaymentEvent> parse_payment_event(std::string_view body_untrusted);

}  // namespace dg::core
