// HMAC-SHA256 (RFC 2104, RFC 4231) through libsodium: payment providers sign
// their webhooks with it. Compare a MAC with constant_time_equal (keys.h).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace dg::crypto {

using HmacSha256 = std::array<uint8_t, 32>;

// The MAC of `message` under `key` (any length; longer than 64 bytes is hashed, as RFC 2104 says).
HmacSha256 hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> message);
inline HmacSha256 hmac_sha256(std::string_view key, std::string_view message) {
  return hmac_sha256(std::span(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
                     std::span(reinterpret_cast<const uint8_t*>(message.data()), message.size()));
}

}  // namespace dg::crypto
