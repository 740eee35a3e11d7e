// Strict text encodings of bytes. Decoders accept exactly one spelling of a
// value: no padding where none is expected, no whitespace, non-zero trailing
// bits refused. A token with two spellings could dodge a cache or a blocklist.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dg {

using Bytes = std::vector<uint8_t>;

inline std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}
inline std::string_view as_text(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// RFC 4648 §5 base64url without padding (PASETO, PASERK).
std::string base64url_encode(std::span<const uint8_t> bytes);
std::optional<Bytes> base64url_decode(std::string_view text_untrusted);

// RFC 4648 §4 base64 with padding (minisign).
std::string base64_encode(std::span<const uint8_t> bytes);
std::optional<Bytes> base64_decode(std::string_view text_untrusted);

// Lower-case hex.
std::string hex_encode(std::span<const uint8_t> bytes);
std::optional<Bytes> hex_decode(std::string_view text_untrusted);

// Appends `text` as a JSON string, quotes included, escaped as Boost.JSON's
// serializer does it ('"', '\\' and control characters; other bytes as they
// are). For text built by hand on hot paths (log lines, download events).
void append_json_string(std::string& out, std::string_view text);

}  // namespace dg
