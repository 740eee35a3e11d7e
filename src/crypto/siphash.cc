#include "crypto/siphash.h"

#include <sodium.h>

namespace dg::crypto {

static_assert(siphash128_key_bytes == crypto_shorthash_siphashx24_KEYBYTES);
static_assert(siphash128_bytes == crypto_shorthash_siphashx24_BYTES);

void siphash128(std::span<uint8_t, siphash128_bytes> out,
                std::span<const uint8_t, siphash128_key_bytes> key,
                std::span<const uint8_t> message) {
  crypto_shorthash_siphashx24(out.data(), message.data(), message.size(), key.data());
}

}  // namespace dg::crypto
