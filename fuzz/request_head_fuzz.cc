// The request head's fast path (http/request_head.h), side by side with
// Beast's parser: any head the fast path takes must mean to it exactly what
// it means to Beast, as request_head_test checks on generated heads. Heads
// Beast takes also go through refuse_head, which judges every head the
// server reads.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/assert.h"
#include "base/limits.h"
#include "http/request_head.h"

namespace {

namespace bhttp = boost::beast::http;
using dg::http::Fields;
using dg::http::internal::SimpleRequestHead;

using FieldList = std::vector<std::pair<std::string, std::string>>;

FieldList field_list(const Fields& fields) {
  FieldList list;
  for (const auto& field : fields) list.emplace_back(field.name_string(), field.value());
  return list;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  bhttp::request_parser<bhttp::empty_body> parser;
  parser.header_limit(dg::limits::request_header_bytes_max);
  boost::system::error_code ec;
  const size_t beast_used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  const bool beast_took = !ec && parser.is_header_done();
  if (beast_took) {
    const auto& message = parser.get();
    (void)dg::http::internal::refuse_head(message.base(), message.version());
  }

  SimpleRequestHead head;
  if (!dg::http::internal::parse_simple_request_head(bytes, head)) return 0;
  DG_ASSERT(head.head_bytes <= bytes.size());
  DG_ASSERT(head.field_count <= SimpleRequestHead::fields_max);
  DG_ASSERT(head.target.starts_with('/'));
  DG_ASSERT(beast_took);
  DG_ASSERT(parser.is_done());  // no body
  const auto& message = parser.get();
  DG_ASSERT(beast_used == head.head_bytes);
  DG_ASSERT(message.method() == head.method);
  DG_ASSERT(message.method_string() == head.method_text);
  DG_ASSERT(message.target() == head.target);
  DG_ASSERT(message.version() == head.version);
  DG_ASSERT(message.keep_alive() == head.keep_alive);
  // The server inserts the fields into a Request's Fields, which groups
  // fields of one name, as Beast's parser does: the two must match.
  Fields fields;
  for (size_t i = 0; i < head.field_count; ++i)
    fields.insert(head.fields[i].first, head.fields[i].second);
  DG_ASSERT(field_list(fields) == field_list(message.base()));
  return 0;
}
