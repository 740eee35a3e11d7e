// The key the fuzz targets sign and verify with: fixed, so that a run can
// be repeated from its inputs, and written here in the clear, so it signs
// nothing but fuzz inputs.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "base/assert.h"
#include "crypto/keyring.h"
#include "crypto/keys.h"

namespace dg::fuzz {

inline const crypto::SecretKey& fuzz_secret_key() {
  static const crypto::SecretKey key = [] {
    constexpr std::string_view seed = "dropgate-fuzz-fixed-key-32-bytes";
    static_assert(seed.size() == crypto::seed_bytes);
    auto made = crypto::SecretKey::from_seed(
        std::span(reinterpret_cast<const uint8_t*>(seed.data()), seed.size()));
    DG_ASSERT(made.has_value());
    return std::move(*made);
  }();
  return key;
}

// A keyring holding the fuzz key as its current key.
inline const crypto::Keyring& fuzz_keyring() {
  static const crypto::Keyring keyring = [] {
    crypto::Keyring made;
    DG_ASSERT(made.add(fuzz_secret_key().public_key(), crypto::KeyStatus::current).ok());
    return made;
  }();
  return keyring;
}

}  // namespace dg::fuzz
