// PaymentProvider: the payment service behind online checkout, as dropgate
// needs it — a hosted checkout session for a hold, and a refund. Events come
// back as webhooks (core/webhook.h). make_stripe_provider speaks Stripe's
// REST API (form-encoded requests, JSON answers) at a configurable base URL,
// so tests point it at a local stand-in (tests/support/stripe_standin.mjs).
//
// Thread safety: every method is safe to call from many threads; a call
// blocks for at most limits::payment_api_call_max.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace dg::origin {

struct CheckoutSessionRequest {
  std::string order_id;  // client_reference_id, and metadata on the session and its payment
  int64_t hold_id = 0;
  std::string drop_slug;
  std::string product_name;  // the drop's title
  int64_t amount_minor = 0;
  std::string currency;  // ISO 4217, upper case
  std::string account;   // sent as customer_email when it is one
  std::string success_url;
  std::string cancel_url;
  int64_t expires_at_s = 0;  // no later than the hold
};

struct CheckoutSession {
  std::string id;   // cs_…
  std::string url;  // where the buyer pays
};

struct RefundRequest {
  std::string payment_intent;
  int64_t amount_minor = 0;
  std::string order_id;
  std::string reason;           // dropgate's ("sold_out"), sent as metadata
  std::string idempotency_key;  // the same for every attempt: one refund, however often retried
};

struct RefundAnswer {
  std::string id;      // re_…
  std::string status;  // "succeeded", "pending", "requires_action", "failed", "canceled"
};

class PaymentProvider {
 public:
  virtual ~PaymentProvider() = default;
  // payment-provider (502) when the provider refuses or cannot be reached.
  virtual Result<CheckoutSession> create_checkout_session(
      const CheckoutSessionRequest& request) = 0;
  virtual Result<RefundAnswer> request_refund(const RefundRequest& request) = 0;
};

struct StripeOptions {
  std::string api_base;  // "https://api.stripe.com", or a stand-in's URL
  std::string secret_key;
};
std::unique_ptr<PaymentProvider> make_stripe_provider(StripeOptions options);

}  // namespace dg::origin
