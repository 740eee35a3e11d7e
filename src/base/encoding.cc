#include "base/encoding.h"

#include <array>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace dg {
namespace {

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::span<const uint8_t> bytes, const char* alphabet, bool pad) {
  size_t rest = bytes.size() % 3;
  size_t full = bytes.size() - rest;
  size_t tail_chars = rest == 0 ? 0 : pad ? 4 : rest + 1;
  // Sized once and written in place: a token is encoded on every claim, and
  // appending one character at a time cost more than the encoding itself.
  std::string out(full / 3 * 4 + tail_chars, '=');
  char* o = out.data();
  for (size_t i = 0; i < full; i += 3) {
    uint32_t v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    *o++ = alphabet[(v >> 18) & 63];
    *o++ = alphabet[(v >> 12) & 63];
    *o++ = alphabet[(v >> 6) & 63];
    *o++ = alphabet[v & 63];
  }
  if (rest == 1) {
    uint32_t v = bytes[full] << 16;
    *o++ = alphabet[(v >> 18) & 63];
    *o++ = alphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    uint32_t v = (bytes[full] << 16) | (bytes[full + 1] << 8);
    *o++ = alphabet[(v >> 18) & 63];
    *o++ = alphabet[(v >> 12) & 63];
    *o++ = alphabet[(v >> 6) & 63];
  }
  return out;  // padding, when asked for, is the '=' the string was filled with
}

std::array<int8_t, 256> reverse_table(const char* alphabet) {
  std::array<int8_t, 256> table;
  table.fill(-1);
  for (int i = 0; i < 64; ++i) table[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
  return table;
}

// Decodes unpadded text; refuses a length of 1 mod 4 and non-zero trailing bits.
// Sized once and written in place, four characters at a time: every new
// download token an edge sees is decoded here.
std::optional<Bytes> decode_unpadded(std::string_view text, const std::array<int8_t, 256>& table) {
  const size_t rest = text.size() % 4;
  if (rest == 1) return std::nullopt;
  const size_t full = text.size() - rest;
  Bytes out(full / 4 * 3 + (rest == 0 ? 0 : rest - 1));
  uint8_t* o = out.data();
  auto sextet = [&](size_t i) {
    return static_cast<int32_t>(table[static_cast<uint8_t>(text[i])]);
  };
  for (size_t i = 0; i < full; i += 4) {
    const int32_t a = sextet(i), b = sextet(i + 1), c = sextet(i + 2), d = sextet(i + 3);
    if ((a | b | c | d) < 0) return std::nullopt;
    const auto v = static_cast<uint32_t>(a << 18 | b << 12 | c << 6 | d);
    *o++ = static_cast<uint8_t>(v >> 16);
    *o++ = static_cast<uint8_t>(v >> 8);
    *o++ = static_cast<uint8_t>(v);
  }
  uint32_t v = 0;
  for (size_t i = full; i < text.size(); ++i) {
    const int32_t s = sextet(i);
    if (s < 0) return std::nullopt;
    v = v << 6 | static_cast<uint32_t>(s);
  }
  // Non-canonical: the bits after the last byte must be zero.
  if (rest == 2) {
    if ((v & 0xf) != 0) return std::nullopt;
    *o++ = static_cast<uint8_t>(v >> 4);
  } else if (rest == 3) {
    if ((v & 0x3) != 0) return std::nullopt;
    *o++ = static_cast<uint8_t>(v >> 10);
    *o++ = static_cast<uint8_t>(v >> 2);
  }
  return out;
}

}  // namespace

std::string base64url_encode(std::span<const uint8_t> bytes) {
  return encode(bytes, kUrl, false);
}

std::optional<Bytes> base64url_decode(std::string_view text_untrusted) {
  static const auto table = reverse_table(kUrl);
  return decode_unpadded(text_untrusted, table);
}

std::string base64_encode(std::span<const uint8_t> bytes) {
  return encode(bytes, kStd, true);
}

std::optional<Bytes> base64_decode(std::string_view text_untrusted) {
  static const auto table = reverse_table(kStd);
  if (text_untrusted.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  while (pad < 2 && pad < text_untrusted.size() &&
         text_untrusted[text_untrusted.size() - 1 - pad] == '=') {
    ++pad;
  }
  return decode_unpadded(text_untrusted.substr(0, text_untrusted.size() - pad), table);
}

std::string hex_encode(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

namespace {

// How many bytes at the start of `text` a JSON string holds as they are:
// none below 0x20, no '"' and no '\\'. Stops at the first other byte, or
// up to 15 bytes before it (the caller checks byte by byte from there).
size_t json_plain_run(std::string_view text) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i control_max = _mm_set1_epi8(0x1f);
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
  for (; i + 16 <= text.size(); i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
    // Unsigned v <= 0x1f exactly when min(v, 0x1f) == v.
    __m128i escaped = _mm_cmpeq_epi8(_mm_min_epu8(v, control_max), v);
    escaped =
        _mm_or_si128(escaped, _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    if (_mm_movemask_epi8(escaped) != 0) break;
  }
#endif
  return i;
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out += '"';
  size_t start = 0;  // of the run not yet appended
  for (size_t i = 0; i < text.size(); ++i) {
    // Most text needs no escape (every access log line goes through here):
    // skip it sixteen bytes at a time, then byte by byte to the next escape.
    if (i == start) i += json_plain_run(text.substr(i));
    if (i == text.size()) break;
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text, start, i - start);
    start = i + 1;
    out += '\\';
    switch (c) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '\b':
        out += 'b';
        break;
      case '\f':
        out += 'f';
        break;
      case '\n':
        out += 'n';
        break;
      case '\r':
        out += 'r';
        break;
      case '\t':
        out += 't';
        break;
      default:
        out += "u00";
        out += kDigits[c >> 4];
        out += kDigits[c & 15];
    }
  }
  out.append(text, start);
  out += '"';
}

std::optional<Bytes> hex_decode(std::string_view text_untrusted) {
  if (text_untrusted.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out;
  out.reserve(text_untrusted.size() / 2);
  for (size_t i = 0; i < text_untrusted.size(); i += 2) {
    int hi = nibble(text_untrusted[i]);
    int lo = nibble(text_untrusted[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

}  // namespace dg
