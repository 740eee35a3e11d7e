// The origin's HTTP routes: a table on one screen (routes.cc, add_routes),
// each a small function from a parsed request to a response.
#pragma once

#include <functional>

#include "base/metrics.h"
#include "http/http.h"
#include "origin/operator_keys.h"
#include "origin/service.h"

namespace dg::origin {

// Registers every origin route and the operator authenticator on `router`.
// The authenticator checks bearer values against `keys` (memory only).
// /metrics answers loopback clients, operators, and `metrics_token` bearers.
void add_routes(http::Router& router, OriginService& service, store::Store& store,
                metrics::Registry& metrics, const OperatorKeys& keys,
                std::string metrics_token = "");

// The request's Idempotency-Key (operator scope) and its fingerprint (method,
// path, body); a key longer than the limit is refused, never cut.
Result<Idempotency> idempotency_of(const http::Request& request);
// Runs a mutating POST under its Idempotency-Key: of concurrent requests
// with one key exactly one acts, a 2xx answer is replayed to retries.
http::Response idempotent(IdempotencyRecords& records, const http::Request& request,
                          const std::function<http::Response()>& run);

// The stall-sale routes: readers, receipts, declines, cash, sales (stall_routes.cc);
// add_routes registers them.
void add_stall_routes(http::Router& router, StallSales& sales, IdempotencyRecords& idempotency);

}  // namespace dg::origin
