// Pieces the http module's translation units share; not part of its contract.
// They live in the light translation units (no Asio) so the server's heavy
// units (session_internal.h) stay as small as they can.
#pragma once

#include <string_view>

#include "http/http.h"

namespace dg::http::internal {

// The Date header value, an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT");
// formatted once per second per thread.
std::string_view http_date_now();

// Adds "instance": `request_id` to an application/problem+json body that has
// none, so a client's bug report names the log line to look for.
void add_problem_instance(Response& response, std::string_view request_id);

// 1 to limits::request_id_bytes_max of [A-Za-z0-9._:-]: safe to echo and to log.
bool is_sane_request_id(std::string_view id_untrusted);

// Whether a request carries a credential: an Authorization field, or a
// `token` query parameter (how download links carry theirs).
bool presents_credentials(const Request& request);

// RFC 6750 §3: problem() gives every 401 "WWW-Authenticate: Bearer"; when
// the request presented a credential, it was refused, and the challenge
// says so with error="invalid_token". A challenge a handler wrote itself is
// left alone.
void add_bearer_error(Response& response, bool credentials_presented);

// The problem for a refusal made by the server itself (404, 413, 503, …):
// the standard reason phrase as title and a slug derived from it as type;
// a 500 is problem::internal, as every other 500.
Response server_problem(unsigned status, std::string_view detail);

// parse_target() for a target already known to be in origin form (the fast
// head parser checked it: SimpleRequestHead::target_checked), whose query
// starts at `query_start` (or which has none: target.size()). The same
// result, without scanning the target a second time.
Status parse_checked_target(std::string_view target, size_t query_start, Request& request);

}  // namespace dg::http::internal
