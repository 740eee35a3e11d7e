#include "crypto/jcs.h"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <set>
#include <vector>

#include "base/assert.h"
#include "base/limits.h"

namespace dg::crypto {
namespace {

namespace json = boost::json;

// 2^53: the largest magnitude below which every integer is exactly a double.
constexpr int64_t kExactIntegerMagnitudeMax = int64_t{1} << 53;

Status invalid(std::string message) {
  return Status(Code::invalid_argument, std::move(message));
}

// Decodes the code point at text[*pos] and advances *pos past it. Refuses what
// RFC 3629 §4 calls ill-formed (overlong forms, surrogates, values above
// U+10FFFF, truncated sequences): two spellings of one string would otherwise
// canonicalise differently, or a verifier would read replacement characters.
std::optional<char32_t> next_code_point(std::string_view text, size_t* pos) {
  const size_t at = *pos;
  const uint8_t lead = static_cast<uint8_t>(text[at]);
  if (lead < 0x80) {
    *pos = at + 1;
    return lead;
  }
  size_t length = 0;
  char32_t code_point = 0;
  uint8_t second_min = 0x80;
  uint8_t second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0F;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return std::nullopt;
  }
  if (text.size() - at < length) return std::nullopt;
  for (size_t i = 1; i < length; ++i) {
    const uint8_t byte = static_cast<uint8_t>(text[at + i]);
    const uint8_t min = i == 1 ? second_min : 0x80;
    const uint8_t max = i == 1 ? second_max : 0xBF;
    if (byte < min || byte > max) return std::nullopt;
    code_point = (code_point << 6) | (byte & 0x3F);
  }
  *pos = at + length;
  return code_point;
}

// RFC 8785 §3.2.3 orders members by their keys' UTF-16 code units, because
// that is how ECMAScript compares strings; UTF-8 byte order differs from it
// for U+E000..U+FFFF against supplementary characters.
std::optional<std::u16string> utf16_sort_key(std::string_view utf8) {
  std::u16string units;
  units.reserve(utf8.size());
  for (size_t pos = 0; pos < utf8.size();) {  // bounded: pos advances every step
    std::optional<char32_t> code_point = next_code_point(utf8, &pos);
    if (!code_point) return std::nullopt;
    if (*code_point < 0x10000) {
      units += static_cast<char16_t>(*code_point);
    } else {
      const char32_t offset = *code_point - 0x10000;
      units += static_cast<char16_t>(0xD800 + (offset >> 10));
      units += static_cast<char16_t>(0xDC00 + (offset & 0x3FF));
    }
  }
  return units;
}

// The two-character escapes JSON.stringify uses; empty for other characters.
std::string_view short_escape(char32_t code_point) {
  switch (code_point) {
    case '\b':
      return "\\b";
    case '\t':
      return "\\t";
    case '\n':
      return "\\n";
    case '\f':
      return "\\f";
    case '\r':
      return "\\r";
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
  }
  return {};
}

void append_escape(char32_t code_point, std::string* out) {
  if (std::string_view escape = short_escape(code_point); !escape.empty()) {
    *out += escape;
    return;
  }
  static constexpr char kHexDigits[] = "0123456789abcdef";
  DG_ASSERT(code_point < 0x20);
  *out += "\\u00";
  *out += kHexDigits[code_point >> 4];
  *out += kHexDigits[code_point & 0xF];
}

// RFC 8785 §3.2.2.2: JSON.stringify's escaping; everything else, U+2028 and
// U+007F included, is copied as raw UTF-8.
Status append_string(std::string_view utf8, std::string* out) {
  *out += '"';
  for (size_t pos = 0; pos < utf8.size();) {  // bounded: pos advances every step
    const size_t start = pos;
    std::optional<char32_t> code_point = next_code_point(utf8, &pos);
    if (!code_point) return invalid("string is not valid UTF-8");
    if (*code_point < 0x20 || *code_point == '"' || *code_point == '\\') {
      append_escape(*code_point, out);
    } else {
      out->append(utf8.substr(start, pos - start));
    }
  }
  *out += '"';
  return Status();
}

// ECMAScript Number::toString (ECMA-262 §6.1.6.1.20, RFC 8785 §3.2.2.3).
// std::to_chars gives the shortest digits that round-trip, choosing the one
// closest to the value as ECMAScript requires; only the layout is ours.
Status append_number(double number, std::string* out) {
  if (!std::isfinite(number)) return invalid("NaN and Infinity have no JSON form");
  if (number == 0) {  // both +0 and -0
    *out += '0';
    return Status();
  }
  char buffer[64];
  auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof(buffer), number, std::chars_format::scientific);
  DG_ASSERT(ec == std::errc());
  std::string_view scientific(buffer, end);  // "-d.ddde-07" or "de+21"
  if (scientific.front() == '-') {
    *out += '-';
    scientific.remove_prefix(1);
  }
  const size_t e_pos = scientific.find('e');
  DG_ASSERT(e_pos != std::string_view::npos);
  std::string digits(1, scientific[0]);
  if (e_pos > 1) digits += scientific.substr(2, e_pos - 2);
  std::string_view exponent_text = scientific.substr(e_pos + 1);
  if (exponent_text.front() == '+') exponent_text.remove_prefix(1);  // from_chars takes no '+'
  int exponent = 0;
  auto exponent_parsed =
      std::from_chars(exponent_text.data(), exponent_text.data() + exponent_text.size(), exponent);
  DG_ASSERT(exponent_parsed.ec == std::errc());
  // ECMAScript's names: value = 0.digits × 10^n, with k digits.
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  if (k <= n && n <= 21) {
    *out += digits;
    out->append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    *out += std::string_view(digits).substr(0, static_cast<size_t>(n));
    *out += '.';
    *out += std::string_view(digits).substr(static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    *out += "0.";
    out->append(static_cast<size_t>(-n), '0');
    *out += digits;
  } else {
    *out += digits[0];
    if (k > 1) {
      *out += '.';
      *out += std::string_view(digits).substr(1);
    }
    *out += n - 1 < 0 ? "e-" : "e+";
    *out += std::to_string(std::abs(n - 1));
  }
  return Status();
}

Status append_integer(int64_t number, std::string* out) {
  if (number > kExactIntegerMagnitudeMax || number < -kExactIntegerMagnitudeMax) {
    return invalid("integer " + std::to_string(number) + " is beyond ±2^53 and cannot be exact");
  }
  *out += std::to_string(number);
  return Status();
}

Status append_unsigned(uint64_t number, std::string* out) {
  if (number > static_cast<uint64_t>(kExactIntegerMagnitudeMax)) {
    return invalid("integer " + std::to_string(number) + " is beyond 2^53 and cannot be exact");
  }
  *out += std::to_string(number);
  return Status();
}

Status append_value(const json::value& value, uint32_t depth, std::string* out);

Status append_array(const json::array& array, uint32_t depth, std::string* out) {
  *out += '[';
  bool first = true;
  for (const json::value& element : array) {
    if (!first) *out += ',';
    first = false;
    DG_RETURN_IF_ERROR(append_value(element, depth, out));
  }
  *out += ']';
  return Status();
}

Status append_object(const json::object& object, uint32_t depth, std::string* out) {
  struct Member {
    std::u16string sort_key;
    const json::key_value_pair* pair;
  };
  std::vector<Member> members;
  members.reserve(object.size());
  for (const json::key_value_pair& pair : object) {
    std::optional<std::u16string> sort_key = utf16_sort_key(pair.key());
    if (!sort_key) return invalid("object key is not valid UTF-8");
    members.push_back({std::move(*sort_key), &pair});
  }
  // A json::object never holds two equal keys, so the order is total.
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.sort_key < b.sort_key; });
  *out += '{';
  bool first = true;
  for (const Member& member : members) {
    if (!first) *out += ',';
    first = false;
    DG_RETURN_IF_ERROR(append_string(member.pair->key(), out));
    *out += ':';
    DG_RETURN_IF_ERROR(append_value(member.pair->value(), depth, out));
  }
  *out += '}';
  return Status();
}

// `depth` counts the arrays and objects that enclose `value`.
Status append_value(const json::value& value, uint32_t depth, std::string* out) {
  const bool is_container = value.is_array() || value.is_object();
  if (is_container && depth >= limits::json_depth_max) {
    return Status(Code::limit_exceeded,
                  "JSON nests deeper than " + std::to_string(limits::json_depth_max) + " levels");
  }
  switch (value.kind()) {
    case json::kind::null:
      *out += "null";
      return Status();
    case json::kind::bool_:
      *out += value.get_bool() ? "true" : "false";
      return Status();
    case json::kind::int64:
      return append_integer(value.get_int64(), out);
    case json::kind::uint64:
      return append_unsigned(value.get_uint64(), out);
    case json::kind::double_:
      return append_number(value.get_double(), out);
    case json::kind::string:
      return append_string(value.get_string(), out);
    case json::kind::array:
      return append_array(value.get_array(), depth + 1, out);
    case json::kind::object:
      return append_object(value.get_object(), depth + 1, out);
  }
  DG_ASSERT(!"unknown json::kind");
  return Status();
}

bool is_integer_literal(std::string_view number_text) {
  return number_text.find_first_of(".eE") == std::string_view::npos;
}

// Reads a number from its JSON text with correct rounding, as RFC 8785 reads
// every number: as an IEEE 754 double.
Result<double> parse_double_exactly(std::string_view number_text) {
  double number = 0;
  const char* end = number_text.data() + number_text.size();
  auto [ptr, ec] = std::from_chars(number_text.data(), end, number);
  // result_out_of_range covers overflow and underflow (1e400, 1e-400): I-JSON
  // numbers must fit a double, and silently reading 0 or Infinity would sign
  // a value the author did not write.
  if (ec != std::errc() || ptr != end) {
    return std::unexpected(invalid("number is outside the range of a double"));
  }
  if (!is_integer_literal(number_text)) return number;
  // Only integer literals beyond ±2^53 get here. Reading one as a double may
  // silently change it (9007199254740993 becomes ...992), which is what the
  // int64 rule in jcs_canonicalize refuses; but canonical output itself holds
  // such literals (2^68 is written 295147905179352830000), and a verifier must
  // accept what a signer produced. So accept exactly the ECMAScript spelling.
  std::string spelling;
  const Status spelled = append_number(number, &spelling);  // finite: from_chars succeeded
  DG_ASSERT(spelled.ok());
  if (spelling != number_text) {
    return std::unexpected(
        invalid("integer literal beyond ±2^53 would not survive as a double; "
                "the nearest double is written " +
                spelling));
  }
  return number;
}

// A Boost.JSON parse handler that builds a json::value like Boost's own
// parser, but refuses duplicate keys (RFC 8785 §3.1 requires I-JSON; Boost
// 1.81 silently keeps the last) and re-reads doubles with correct rounding
// (Boost 1.81 reads 333333333.33333329 one unit in the last place too low).
class StrictHandler {
 public:
  static constexpr size_t max_object_size = json::object::max_size();
  static constexpr size_t max_array_size = json::array::max_size();
  static constexpr size_t max_key_size = json::string::max_size();
  static constexpr size_t max_string_size = json::string::max_size();

  StrictHandler() { stack_.reset(); }

  const Status& failure() const { return failure_; }
  json::value release() { return stack_.release(); }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    // The parser's max_depth (limits::json_depth_max) bounds this stack.
    open_object_keys_.emplace_back();
    return true;
  }
  bool on_object_end(size_t member_count, json::error_code&) {
    open_object_keys_.pop_back();
    stack_.push_object(member_count);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(size_t element_count, json::error_code&) {
    stack_.push_array(element_count);
    return true;
  }
  bool on_key_part(json::string_view part, size_t, json::error_code&) {
    key_.append(part.data(), part.size());
    stack_.push_chars(part);
    return true;
  }
  bool on_key(json::string_view last_part, size_t, json::error_code& ec);
  bool on_string_part(json::string_view part, size_t, json::error_code&) {
    stack_.push_chars(part);
    return true;
  }
  bool on_string(json::string_view last_part, size_t, json::error_code&) {
    stack_.push_string(last_part);
    return true;
  }
  bool on_number_part(json::string_view part, json::error_code&) {
    number_text_.append(part.data(), part.size());
    return true;
  }
  bool on_int64(int64_t number, json::string_view last_part, json::error_code& ec) {
    if (number > kExactIntegerMagnitudeMax || number < -kExactIntegerMagnitudeMax) {
      return push_number_text(last_part, ec);
    }
    number_text_.clear();
    stack_.push_int64(number);
    return true;
  }
  bool on_uint64(uint64_t number, json::string_view last_part, json::error_code& ec) {
    if (number > static_cast<uint64_t>(kExactIntegerMagnitudeMax)) {
      return push_number_text(last_part, ec);
    }
    number_text_.clear();
    stack_.push_uint64(number);
    return true;
  }
  bool on_double(double, json::string_view last_part, json::error_code& ec) {
    return push_number_text(last_part, ec);
  }
  bool on_bool(bool flag, json::error_code&) {
    stack_.push_bool(flag);
    return true;
  }
  bool on_null(json::error_code&) {
    stack_.push_null();
    return true;
  }
  // Comments are off in the parse options; Boost never calls these.
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  // Pushes the number whose text ends with `last_part` as a double read by
  // parse_double_exactly, ignoring Boost's own reading of it.
  bool push_number_text(json::string_view last_part, json::error_code& ec);

  bool fail(Status status, json::error_code& ec) {
    failure_ = std::move(status);
    ec = json::error::syntax;  // stops the parser; failure_ says what went wrong
    return false;
  }

  json::value_stack stack_;
  // Keys seen so far in each open object, innermost last. An ordered set, so
  // that chosen colliding keys cannot make duplicate detection quadratic.
  std::vector<std::set<std::string, std::less<>>> open_object_keys_;
  std::string key_;          // the key being read, when Boost hands it over in parts
  std::string number_text_;  // likewise for a number
  Status failure_;
};

bool StrictHandler::on_key(json::string_view last_part, size_t, json::error_code& ec) {
  key_.append(last_part.data(), last_part.size());
  DG_ASSERT(!open_object_keys_.empty());
  const bool inserted = open_object_keys_.back().insert(std::move(key_)).second;
  key_.clear();
  if (!inserted) return fail(invalid("object has a duplicate key"), ec);
  stack_.push_key(last_part);
  return true;
}

bool StrictHandler::push_number_text(json::string_view last_part, json::error_code& ec) {
  number_text_.append(last_part.data(), last_part.size());
  Result<double> number = parse_double_exactly(number_text_);
  number_text_.clear();
  if (!number) return fail(number.error(), ec);
  stack_.push_double(*number);
  return true;
}

}  // namespace

Result<std::string> jcs_canonicalize(const json::value& value) {
  std::string out;
  Status status = append_value(value, 0, &out);
  if (!status.ok()) return error(std::move(status));
  return out;
}

Result<std::string> jcs_canonicalize_text(std::string_view json_untrusted, size_t bytes_max) {
  if (json_untrusted.size() > bytes_max) {
    return error(Code::limit_exceeded,
                 "JSON text is larger than " + std::to_string(bytes_max) + " bytes");
  }
  json::parse_options options;
  options.max_depth = limits::json_depth_max;
  json::basic_parser<StrictHandler> parser(options);
  json::error_code ec;
  const size_t consumed =
      parser.write_some(false, json_untrusted.data(), json_untrusted.size(), ec);
  if (!parser.handler().failure().ok()) return error(parser.handler().failure());
  if (ec == json::error::too_deep) {
    return error(Code::limit_exceeded,
                 "JSON nests deeper than " + std::to_string(limits::json_depth_max) + " levels");
  }
  if (ec) return error(Code::invalid_argument, "JSON text is not valid: " + ec.message());
  if (consumed != json_untrusted.size()) {
    return error(Code::invalid_argument, "JSON text has data after its value");
  }
  return jcs_canonicalize(parser.handler().release());
}

}  // namespace dg::crypto
