// The online checkout's HTTP routes (origin/checkout.h): the buyer's checkout
// and order, the payment provider's webhook, the operator's refund queue.
#pragma once

#include "http/http.h"
#include "origin/checkout.h"

namespace dg::origin {

// Registers POST /v1/drops/{slug}/checkout, GET /v1/orders/{id},
// POST /v1/webhooks/stripe, GET /v1/refunds and POST /v1/refunds/{id}/retry.
// The operator routes use the router's authenticator (add_routes sets it).
void add_checkout_routes(http::Router& router, Checkout& checkout);

}  // namespace dg::origin
