// A response's head as it goes on the wire: the status line and the header
// fields, from a Response and the values the server owns. Pure (no socket,
// no clock, no Asio), so its rules are tested without a server.
//
// Not part of the module's contract.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/http.h"

namespace dg::http::internal {

// The fields the server writes into every head itself. A handler's own
// Content-Length, Transfer-Encoding, Connection, Date or X-Request-Id is
// dropped (see Response::headers): the server frames the body and names
// the exchange.
struct ServerFields {
  std::string_view date;        // an IMF-fixdate (http_date_now())
  std::string_view request_id;  // echoed (is_sane_request_id) or made by the server
  bool close = false;           // the connection closes after this response
  // The body's length. For a HEAD request, the length a GET would get: a
  // HEAD response's head is a GET's, and only the body stays home.
  uint64_t content_length = 0;
};

// RFC 9110 §6.4.1: a 1xx, 204 or 304 response ends with its head, whatever
// body the handler gave it; the server sends none.
constexpr bool status_has_body(unsigned status) {
  return status / 100 != 1 && status != 204 && status != 304;
}

// Appends the head of `response` to `out`: the status line; the handler's
// fields in the handler's order, less those the server owns; then Date,
// X-Request-Id, "Connection: close" when `server.close`, and Content-Length
// unless the status has no body (a 1xx or 204 must not carry one, RFC 9110
// §8.6; a 304 need not, and then no cache takes it for the length of the
// 200); then the blank line. Reads response.status and response.headers
// only: the body is the caller's to send.
void serialize_head(const Response& response, const ServerFields& server, std::string& out);

}  // namespace dg::http::internal
