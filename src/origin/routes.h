// The origin's HTTP routes: a table on one screen (routes.cc, add_routes),
// each a small function from a parsed request to a response.
#pragma once

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

}  // namespace dg::origin
