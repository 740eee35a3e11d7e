#include "core/claim_code.h"

#include "base/encoding.h"
#include "base/limits.h"
#include "crypto/sha256.h"

namespace dg::core {
namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford

// The symbol's value, reading O as 0 and I, L as 1; -1 for anything else.
int symbol_value(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (c == 'O') c = '0';
  if (c == 'I' || c == 'L') c = '1';
  size_t at = kAlphabet.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

// The check symbol of the 19 random ones: the first 5 bits of a hash, so
// every single-symbol change and every swap changes it with probability 31/32
// (a weighted sum mod 32 would miss changes by 16 at even weights).
char check_symbol(std::string_view random_symbols) {
  std::string text = "dropgate claim code ";
  text.append(random_symbols);
  crypto::Sha256Digest digest = crypto::sha256(as_bytes(text));
  return kAlphabet[digest[0] >> 3];
}

}  // namespace

std::string make_claim_code(const std::array<uint8_t, claim_code_random_bytes>& random) {
  std::string code;
  code.reserve(claim_code_symbols);
  // 5 bits per symbol, taken from the front of the bytes.
  for (size_t i = 0; i < claim_code_random_symbols; ++i) {
    size_t bit = i * 5;
    unsigned pair = (unsigned{random[bit / 8]} << 8) |
                    (bit / 8 + 1 < random.size() ? unsigned{random[bit / 8 + 1]} : 0u);
    code.push_back(kAlphabet[(pair >> (11 - bit % 8)) & 31]);
  }
  code.push_back(check_symbol(code));
  return code;
}

Result<std::string> parse_claim_code(std::string_view code_untrusted) {
  if (code_untrusted.size() > limits::claim_code_bytes_max) {
    return error(Code::invalid_argument, "not a claim code: too long");
  }
  std::string canonical;
  for (char c : code_untrusted) {
    if (c == '-' || c == ' ') continue;
    int value = symbol_value(c);
    if (value < 0) {
      return error(Code::invalid_argument,
                   "not a claim code: codes use 0-9 and A-Z without I, L, O and U");
    }
    canonical.push_back(kAlphabet[static_cast<size_t>(value)]);
  }
  if (canonical.size() != claim_code_symbols) {
    return error(Code::invalid_argument,
                 "not a claim code: a code has " + std::to_string(claim_code_symbols) + " symbols");
  }
  std::string_view random_part = std::string_view(canonical).substr(0, claim_code_random_symbols);
  if (canonical.back() != check_symbol(random_part)) {
    return error(Code::invalid_argument, "not a claim code: check it for a typing mistake");
  }
  return canonical;
}

std::string format_claim_code(std::string_view canonical) {
  std::string out;
  for (size_t i = 0; i < canonical.size(); ++i) {
    if (i > 0 && i % 4 == 0) out.push_back('-');
    out.push_back(canonical[i]);
  }
  return out;
}

std::string claim_code_sha256(std::string_view canonical) {
  return hex_encode(crypto::sha256(as_bytes(canonical)));
}

}  // namespace dg::core
