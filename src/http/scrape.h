// Who may read an operator's endpoint (e.g. /metrics) that is served on a
// public listener: an edge listens on every interface of the venue's Wi-Fi.
#pragma once

#include <optional>
#include <string_view>

#include "http/http.h"

namespace dg::http {

// nullopt when `request` may read the endpoint:
// - it passed the router's authenticator (e.g. an operator API key), or
// - `token` is not empty and the request carries "Authorization: Bearer
//   <token>" (compared in constant time), or
// - it came from a loopback address and no proxy forwarded it (no Forwarded,
//   X-Forwarded-For or X-Real-IP field): a reverse proxy on the same host
//   reaches us over loopback on behalf of anyone.
// Otherwise the refusal: 401 (a Bearer challenge) when a token is set, else
// 403 (nobody off this host can read it).
std::optional<Response> refuse_scrape(const Request& request, std::string_view token);

// 127.0.0.0/8, ::1, or an IPv4-mapped 127.x address, as Request::remote_address writes them.
bool is_loopback_address(std::string_view address);

}  // namespace dg::http
