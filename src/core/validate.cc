#include "core/validate.h"

#include <algorithm>
#include <array>
#include <string>

#include "base/limits.h"

namespace dg::core {
namespace {

Status invalid(std::string message) {
  return Status(Code::invalid_argument, std::move(message));
}

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}

// ISO 3166-1 alpha-2 officially assigned codes (249), sorted for binary search.
constexpr std::array<std::string_view, 249> kTerritories = {
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW"};

// Returns the length of the UTF-8 sequence at `s[0]`, or 0 when it is not valid
// (overlong forms, surrogates and code points above U+10FFFF are refused).
size_t utf8_sequence_bytes(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  uint8_t b0 = byte(0);
  if (b0 < 0x80) return 1;
  size_t n = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC2 ? 2 : 0;
  if (n == 0 || b0 > 0xF4 || s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
  }
  if (n == 3 && b0 == 0xE0 && byte(1) < 0xA0) return 0;   // overlong
  if (n == 3 && b0 == 0xED && byte(1) >= 0xA0) return 0;  // surrogate
  if (n == 4 && b0 == 0xF0 && byte(1) < 0x90) return 0;   // overlong
  if (n == 4 && b0 == 0xF4 && byte(1) >= 0x90) return 0;  // above U+10FFFF
  return n;
}

Status validate_segment(std::string_view segment) {
  if (segment.empty())
    return invalid("asset path has an empty segment (\"//\" or a trailing \"/\")");
  if (segment == "." || segment == "..") {
    return invalid("asset path may not contain \".\" or \"..\" segments");
  }
  if (segment.size() > limits::asset_path_segment_bytes_max) {
    return invalid("asset path segment is longer than " +
                   std::to_string(limits::asset_path_segment_bytes_max) + " bytes");
  }
  for (size_t i = 0; i < segment.size();) {
    unsigned char c = static_cast<unsigned char>(segment[i]);
    if (c < 0x20 || c == 0x7F) return invalid("asset path contains a control character");
    if (c == '\\') return invalid("asset path contains a backslash; use \"/\"");
    size_t n = utf8_sequence_bytes(segment.substr(i));
    if (n == 0) return invalid("asset path is not valid UTF-8");
    if (n == 2 && c == 0xC2 && static_cast<unsigned char>(segment[i + 1]) < 0xA0) {
      return invalid("asset path contains a control character");  // C1 controls U+0080..U+009F
    }
    i += n;
  }
  return Status();
}

}  // namespace

Status validate_slug(std::string_view slug) {
  if (slug.empty() || slug.size() > limits::drop_slug_bytes_max || slug[0] == '-' ||
      !std::all_of(slug.begin(), slug.end(),
                   [](char c) { return is_lower_alnum(c) || c == '-'; })) {
    return invalid("drop slug must be 1-" + std::to_string(limits::drop_slug_bytes_max) +
                   " characters of a-z, 0-9 and '-', not starting with '-' (e.g. \"summer-tape\")");
  }
  return Status();
}

Status validate_identifier(std::string_view id, std::string_view what) {
  if (id.empty() || id.size() > limits::identifier_bytes_max ||
      !std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7F; })) {
    return invalid(std::string(what) + " must be 1-" +
                   std::to_string(limits::identifier_bytes_max) +
                   " printable ASCII characters without spaces");
  }
  return Status();
}

Status validate_territory(std::string_view code) {
  if (code.size() != 2 || !is_upper(code[0]) || !is_upper(code[1]) ||
      !std::binary_search(kTerritories.begin(), kTerritories.end(), code)) {
    return invalid("\"" + std::string(code.substr(0, 8)) +
                   "\" is not an ISO 3166-1 alpha-2 territory code (e.g. \"FR\", \"JP\")");
  }
  return Status();
}

Status validate_currency(std::string_view code) {
  if (code.size() != 3 || !std::all_of(code.begin(), code.end(), is_upper)) {
    return invalid("currency must be an ISO 4217 code such as \"EUR\"");
  }
  return Status();
}

Status validate_media_type(std::string_view type) {
  auto restricted = [](char c) {
    return is_lower_alnum(c) || is_upper(c) ||
           std::string_view("!#$&-^_.+").find(c) != std::string_view::npos;
  };
  size_t slash = type.find('/');
  if (type.size() > limits::media_type_bytes_max || slash == std::string_view::npos || slash == 0 ||
      slash + 1 == type.size() || !std::all_of(type.begin(), type.begin() + slash, restricted) ||
      !std::all_of(type.begin() + slash + 1, type.end(), restricted)) {
    return invalid("media type must look like \"audio/flac\"");
  }
  return Status();
}

Status validate_asset_path(std::string_view path) {
  if (path.empty()) return invalid("asset path is empty");
  if (path.size() > limits::asset_path_bytes_max) {
    return invalid("asset path is longer than " + std::to_string(limits::asset_path_bytes_max) +
                   " bytes");
  }
  if (path.front() == '/') return invalid("asset path must be relative (it starts with \"/\")");
  uint32_t depth = 0;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view segment =
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    DG_RETURN_IF_ERROR(validate_segment(segment));
    if (++depth > limits::asset_path_depth_max) {
      return invalid("asset path is nested deeper than " +
                     std::to_string(limits::asset_path_depth_max) + " folders");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Status();
}

}  // namespace dg::core
