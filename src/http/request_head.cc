#include "http/request_head.h"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/limits.h"
#include "http/internal.h"

namespace dg::http::internal {
namespace {

// RFC 9110 token characters (field names, methods).
constexpr bool is_token_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

template <bool (*Predicate)(unsigned char)>
constexpr std::array<bool, 256> make_table() {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) table[c] = Predicate(static_cast<unsigned char>(c));
  return table;
}

constexpr std::array<bool, 256> plain_target_chars = make_table<is_plain_target_char>();
constexpr std::array<bool, 256> token_chars = make_table<is_token_char>();

char lower_ascii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Field values: visible ASCII, space and tab. (The general parser also takes
// obs-text, bytes from 0x80; such a head is declined.)
bool is_value_char(unsigned char c) {
  return (c >= 0x20 && c < 0x7f) || c == '\t';
}

bool is_space_or_tab(char c) {
  return c == ' ' || c == '\t';
}

}  // namespace

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower_ascii(a[i]) != lower_ascii(b[i])) return false;
  }
  return true;
}

size_t plain_target_run(std::string_view text) {
  size_t i = 0;
#if defined(__SSE2__)
  // The plain set is three ranges and five single characters, all within
  // 0x21..0x7e: a byte from 0x80 is negative to the signed compares, so it
  // falls in no range.
  const __m128i below_26 = _mm_set1_epi8(0x25), above_3b = _mm_set1_epi8(0x3c);
  const __m128i below_40 = _mm_set1_epi8(0x3f), above_5a = _mm_set1_epi8(0x5b);
  const __m128i below_61 = _mm_set1_epi8(0x60), above_7a = _mm_set1_epi8(0x7b);
  const __m128i bang = _mm_set1_epi8('!'), dollar = _mm_set1_epi8('$'), equals = _mm_set1_epi8('=');
  const __m128i underscore = _mm_set1_epi8('_'), tilde = _mm_set1_epi8('~');
  for (; i + 16 <= text.size(); i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
    __m128i ok = _mm_and_si128(_mm_cmpgt_epi8(v, below_26), _mm_cmplt_epi8(v, above_3b));
    ok = _mm_or_si128(ok, _mm_and_si128(_mm_cmpgt_epi8(v, below_40), _mm_cmplt_epi8(v, above_5a)));
    ok = _mm_or_si128(ok, _mm_and_si128(_mm_cmpgt_epi8(v, below_61), _mm_cmplt_epi8(v, above_7a)));
    ok = _mm_or_si128(ok, _mm_or_si128(_mm_cmpeq_epi8(v, bang), _mm_cmpeq_epi8(v, dollar)));
    ok = _mm_or_si128(ok, _mm_or_si128(_mm_cmpeq_epi8(v, equals), _mm_cmpeq_epi8(v, underscore)));
    ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, tilde));
    unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(ok));
    if (mask != 0xffff) return i + static_cast<size_t>(__builtin_ctz(~mask));
  }
#endif
  while (i < text.size() && plain_target_chars[static_cast<unsigned char>(text[i])]) ++i;
  return i;
}

std::string_view SimpleRequestHead::field(std::string_view name) const {
  for (size_t i = 0; i < field_count; ++i) {
    if (equals_ignoring_case(fields[i].first, name)) return fields[i].second;
  }
  return {};
}

namespace {

constexpr size_t kNoMatch = std::string_view::npos;

// The request line, METHOD SP target SP HTTP/1.x CRLF, of a GET or HEAD with a
// plain origin-form target: fills method, target (with query_start and
// target_checked) and version; returns where the fields start, or kNoMatch.
bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

size_t parse_simple_request_line(std::string_view bytes, SimpleRequestHead& head) {
  size_t at;
  if (bytes.starts_with("GET /")) {
    head.method = Verb::get;
    at = 4;
  } else if (bytes.starts_with("HEAD /")) {
    head.method = Verb::head;
    at = 5;
  } else {
    return kNoMatch;
  }
  head.method_text = bytes.substr(0, at - 1);
  const size_t target_start = at;
  size_t query_at = kNoMatch;
  head.target_checked = true;
  while (true) {
    at += plain_target_run(bytes.substr(at));
    if (at == bytes.size()) return kNoMatch;
    char c = bytes[at];
    if (c == ' ') break;
    if (c == '?') {
      query_at = std::min(query_at, at);
    } else if (c == '%') {
      // A bad escape is parse_target's to refuse (400), as from Beast's parser.
      if (at + 2 >= bytes.size() || !is_hex_digit(bytes[at + 1]) || !is_hex_digit(bytes[at + 2]))
        head.target_checked = false;
    } else {
      return kNoMatch;
    }
    ++at;
  }
  head.target = bytes.substr(target_start, at - target_start);
  head.query_start = std::min(query_at, at) - target_start;
  std::string_view rest = bytes.substr(at + 1);
  if (rest.starts_with("HTTP/1.1\r\n")) {
    head.version = 11;
  } else if (rest.starts_with("HTTP/1.0\r\n")) {
    head.version = 10;
  } else {
    return kNoMatch;
  }
  return at + 1 + 10;
}

// One field line starting at `at`, name ":" value CRLF, with the value's
// surrounding blanks trimmed; returns where the next line starts, or kNoMatch.
size_t parse_simple_field_line(std::string_view bytes, size_t at, std::string_view& name,
                               std::string_view& value) {
  size_t name_start = at;
  while (at < bytes.size() && token_chars[static_cast<unsigned char>(bytes[at])]) ++at;
  if (at == name_start || at == bytes.size() || bytes[at] != ':') return kNoMatch;
  name = bytes.substr(name_start, at - name_start);
  ++at;
  const void* cr = std::memchr(bytes.data() + at, '\r', bytes.size() - at);
  if (cr == nullptr) return kNoMatch;
  size_t value_end = static_cast<size_t>(static_cast<const char*>(cr) - bytes.data());
  if (value_end + 1 == bytes.size() || bytes[value_end + 1] != '\n') return kNoMatch;
  for (size_t i = at; i < value_end; ++i) {
    if (!is_value_char(static_cast<unsigned char>(bytes[i]))) return kNoMatch;
  }
  size_t value_start = at;
  while (value_start < value_end && is_space_or_tab(bytes[value_start])) ++value_start;
  size_t value_stop = value_end;
  while (value_stop > value_start && is_space_or_tab(bytes[value_stop - 1])) --value_stop;
  value = bytes.substr(value_start, value_stop - value_start);
  return value_end + 2;
}

}  // namespace

bool parse_simple_request_head(std::string_view bytes, SimpleRequestHead& head) {
  if (bytes.size() > limits::request_header_bytes_max)
    bytes = bytes.substr(0, limits::request_header_bytes_max);
  size_t at = parse_simple_request_line(bytes, head);
  if (at == kNoMatch) return false;

  // Fields, then the blank line.
  head.field_count = 0;
  bool connection_close = false, connection_keep_alive = false;
  while (true) {
    if (at + 2 > bytes.size()) return false;
    if (bytes[at] == '\r') {
      if (bytes[at + 1] != '\n') return false;
      at += 2;
      break;
    }
    std::string_view name, value;
    at = parse_simple_field_line(bytes, at, name, value);
    if (at == kNoMatch) return false;
    if (head.field_count == SimpleRequestHead::fields_max) return false;
    if (equals_ignoring_case(name, "content-length") ||
        equals_ignoring_case(name, "transfer-encoding")) {
      return false;
    }
    if (equals_ignoring_case(name, "connection")) {
      // Beast reads the first Connection field only; two go to it.
      if (connection_close || connection_keep_alive) return false;
      if (equals_ignoring_case(value, "close")) {
        connection_close = true;
      } else if (equals_ignoring_case(value, "keep-alive")) {
        connection_keep_alive = true;
      } else {
        return false;
      }
    }
    head.fields[head.field_count++] = {name, value};
  }
  head.keep_alive = head.version >= 11 ? !connection_close : connection_keep_alive;
  head.head_bytes = at;
  return true;
}

std::optional<Response> refuse_head(const Fields& fields, unsigned version) {
  size_t hosts = fields.count(Field::host);
  if (hosts == 0 && version >= 11) {
    return server_problem(400, "an HTTP/1.1 request must carry a Host field");
  }
  if (hosts > 1) return server_problem(400, "a request carries one Host field, not several");
  if (fields.find(Field::transfer_encoding) == fields.end()) return std::nullopt;
  if (version < 11) {
    return server_problem(400, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
  }
  if (fields.find(Field::content_length) != fields.end()) {
    return server_problem(400, "a request carries Transfer-Encoding or Content-Length, not both");
  }
  // The codings of every Transfer-Encoding field, in order (RFC 9110 §5.3):
  // each element's name, before any parameters. Bounded by the header's size.
  size_t codings = 0;
  bool chunked_last = false;
  for (const auto& field : fields) {
    if (field.name() != Field::transfer_encoding) continue;
    std::string_view list = field.value();
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view element = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      element = element.substr(0, element.find(';'));
      while (!element.empty() && is_space_or_tab(element.front())) element.remove_prefix(1);
      while (!element.empty() && is_space_or_tab(element.back())) element.remove_suffix(1);
      if (element.empty()) continue;  // lists may hold empty elements
      if (chunked_last)
        return server_problem(400,
                              "chunked must be a request's last transfer coding, and only once");
      chunked_last = equals_ignoring_case(element, "chunked");
      ++codings;
    }
  }
  if (!chunked_last)
    return server_problem(400, "a request body's last transfer coding must be chunked");
  if (codings > 1) return server_problem(501, "the server decodes no transfer coding but chunked");
  return std::nullopt;
}

}  // namespace dg::http::internal
