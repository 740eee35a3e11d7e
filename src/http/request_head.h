// The request head's fast path: most requests a server sees (a browser's or
// a download manager's GET) have a plain head that arrives in one read. This
// parses exactly that form in one pass over bytes already received, with no
// allocation, and declines everything else, which then goes to Beast's
// general parser as before. A declined head costs one failed scan; an
// accepted one must mean what Beast would make of it (request_head_test
// checks the two side by side).
//
// Not part of the module's contract; no Asio or Beast parser here.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

#include "http/http.h"

namespace dg::http::internal {

// A head taken by the fast path. Views point into the bytes parsed.
struct SimpleRequestHead {
  // Beyond this many fields the general parser takes the head.
  static constexpr size_t fields_max = 48;

  Verb method = Verb::get;  // GET or HEAD
  std::string_view method_text;
  std::string_view target;  // starts with '/'; characters of origin form only
  // Where the target's query starts (its first '?'), or target.size().
  size_t query_start = 0;
  // Every '%' in the target starts a two-hex-digit escape: the target is in
  // origin form (parse_checked_target() may skip that check).
  bool target_checked = false;
  unsigned version = 11;   // 10 or 11
  bool keep_alive = true;  // from the version and a Connection field
  size_t head_bytes = 0;   // through the blank line
  // Names as sent; values without surrounding spaces or tabs.
  std::array<std::pair<std::string_view, std::string_view>, fields_max> fields;
  size_t field_count = 0;

  // The first field of that name (ASCII case-insensitive), or empty.
  std::string_view field(std::string_view name) const;
};

// Parses the head at the start of `bytes` when all of it is there and it has
// the plain form: a GET or HEAD request line with an origin-form target
// (RFC 3986 characters only) and HTTP/1.0 or HTTP/1.1; lines ended by CRLF;
// field names of token characters followed at once by ':'; values of
// visible ASCII, spaces and tabs; at most fields_max fields and
// limits::request_header_bytes_max bytes; no Content-Length or
// Transfer-Encoding (no body); a Connection field, if any, of exactly
// "close" or "keep-alive". Returns false for anything else, including a
// head not yet complete, and then `head` is meaningless.
bool parse_simple_request_head(std::string_view bytes, SimpleRequestHead& head);

// Origin-form "plain" characters (RFC 3986 unreserved, sub-delims, ':',
// '@' and '/'; not '%' or '?'): the router's target grammar builds on them.
constexpr bool is_plain_target_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("-._~!$&'()*+,;=:@/").find(static_cast<char>(c)) !=
         std::string_view::npos;
}

// How many bytes at the start of `text` are plain characters. Sixteen at a
// time where the CPU allows.
size_t plain_target_run(std::string_view text);

// ASCII case-insensitive equality (field names, tokens such as "close").
bool equals_ignoring_case(std::string_view a, std::string_view b);

// RFC 9112's rules on a request head that neither parser enforces, checked
// whichever parser read the head (`version` 10 or 11):
// - an HTTP/1.1 request has a Host field, and no request has two (§3.2): 400;
// - a body is framed by Content-Length or by chunked alone (§6.1, §6.3):
//   Transfer-Encoding in an HTTP/1.0 request, beside Content-Length, or
//   whose last coding is not chunked leaves the body's end unknowable, and
//   what follows could be read as a smuggled request: 400. Codings before a
//   final chunked are framed, but we decode none of them: 501.
// Returns the refusal. After one the connection must close: its body, if
// any, is unread and its end may be unknown.
std::optional<Response> refuse_head(const Fields& fields, unsigned version);

}  // namespace dg::http::internal
