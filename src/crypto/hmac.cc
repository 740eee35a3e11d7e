#include "crypto/hmac.h"

#include <sodium.h>

namespace dg::crypto {

HmacSha256 hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> message) {
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.data(), key.size());
  crypto_auth_hmacsha256_update(&state, message.data(), message.size());
  HmacSha256 mac;
  crypto_auth_hmacsha256_final(&state, mac.data());
  sodium_memzero(&state, sizeof state);
  return mac;
}

}  // namespace dg::crypto
