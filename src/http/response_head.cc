// Written by hand rather than with Beast's serializer: this runs for every
// response. No Asio here: this unit stays cheap to compile.
#include "http/response_head.h"

#include <boost/beast/http/status.hpp>
#include <charconv>

#include "http/request_head.h"

namespace dg::http::internal {
namespace {

// Whether a handler's field is one the server writes itself.
bool server_owned_field(const Fields::value_type& field) {
  switch (field.name()) {
    case Field::content_length:
    case Field::transfer_encoding:
    case Field::connection:
    case Field::date:
      return true;
    case Field::unknown:
      return equals_ignoring_case(field.name_string(), "X-Request-Id");
    default:
      return false;
  }
}

void append_decimal(std::string& out, uint64_t value) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, static_cast<size_t>(end - digits));
}

}  // namespace

void serialize_head(const Response& response, const ServerFields& server, std::string& out) {
  namespace bhttp = boost::beast::http;
  out += "HTTP/1.1 ";
  append_decimal(out, response.status);
  out += ' ';
  out += bhttp::obsolete_reason(static_cast<bhttp::status>(response.status));
  out += "\r\n";
  for (const auto& field : response.headers) {
    if (server_owned_field(field)) continue;
    out += field.name_string();
    out += ": ";
    out += field.value();
    out += "\r\n";
  }
  out += "Date: ";
  out += server.date;
  out += "\r\nX-Request-Id: ";
  out += server.request_id;
  out += "\r\n";
  if (server.close) out += "Connection: close\r\n";
  if (status_has_body(response.status)) {
    out += "Content-Length: ";
    append_decimal(out, server.content_length);
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace dg::http::internal
