// Keyed SipHash-2-4 with a 128-bit output (libsodium's siphashx24): a fast
// PRF for keys of in-memory tables that untrusted input chooses, where a
// BLAKE2b would cost five times as much. Not a MAC for data an attacker
// sees tagged, and not a content hash (use sha256.h or keys.h for those).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace dg::crypto {

inline constexpr size_t siphash128_key_bytes = 16;
inline constexpr size_t siphash128_bytes = 16;

// `out` = SipHash-2-4-128 of `message` under the secret `key` (keep it
// random and inside the process: the outputs are unpredictable only to
// whoever does not hold it).
void siphash128(std::span<uint8_t, siphash128_bytes> out,
                std::span<const uint8_t, siphash128_key_bytes> key,
                std::span<const uint8_t> message);

}  // namespace dg::crypto
