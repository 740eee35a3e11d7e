// The claim-code routes (docs/api/openapi.yaml, "Claim codes"): generate,
// list and revoke (operator), redeem (public, rate-limited). Registered by
// add_routes, which sets the router's operator authenticator.
#pragma once

#include "http/http.h"
#include "origin/claim_codes.h"

namespace dg::origin {

void add_code_routes(http::Router& router, ClaimCodes& codes);

}  // namespace dg::origin
