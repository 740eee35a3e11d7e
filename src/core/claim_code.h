// Claim codes (docs/formats/claim-codes.md): single-use codes an operator
// prints or mails, each redeemable once for one serial of one drop.
//
// A code is 20 symbols of Crockford's base32 alphabet (0-9 A-Z without I, L,
// O, U), shown in five groups of four ("7K3M-Q9XD-…"): 19 random symbols
// (95 bits) and a check symbol that catches a mistyped symbol or a swap of
// two, with probability 31/32. Reading is forgiving: case, hyphens and spaces
// do not matter, and O reads as 0, I and L as 1.
//
// The store keeps only claim_code_sha256 of a code; its plaintext is handed
// out once, when it is made.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dg::core {

inline constexpr size_t claim_code_symbols = 20;         // 19 random + 1 check
inline constexpr size_t claim_code_random_symbols = 19;  // 95 bits
inline constexpr size_t claim_code_random_bytes = 12;    // 96 bits in, 95 used

// The canonical form of a code (20 symbols, no separators) made from
// `random` (callers pass fresh OS randomness: crypto::random_bytes).
std::string make_claim_code(const std::array<uint8_t, claim_code_random_bytes>& random);

// The canonical form of a code as a person typed it, or invalid_argument
// (not made of code symbols, wrong length, or the check symbol disagrees).
Result<std::string> parse_claim_code(std::string_view code_untrusted);

// The printed form: the canonical one in groups of four, joined by hyphens.
std::string format_claim_code(std::string_view canonical);

// What the store keeps: hex SHA-256 of the canonical form. The codes carry
// 95 random bits, so a fast hash is enough to keep a stolen table useless.
std::string claim_code_sha256(std::string_view canonical);

}  // namespace dg::core
