// Ed25519 keys, serialised and identified with PASERK (k4.public, k4.secret,
// k4.pid). Secret and public keys are different types; a secret key cannot be
// copied, only moved, and its bytes are wiped when it goes away.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dg::crypto {

inline constexpr size_t public_key_bytes = 32;
inline constexpr size_t secret_key_bytes = 64;  // seed || public key, libsodium's layout
inline constexpr size_t seed_bytes = 32;
inline constexpr size_t signature_bytes = 64;

using Signature = std::array<uint8_t, signature_bytes>;

class PublicKey {
 public:
  static Result<PublicKey> from_bytes(std::span<const uint8_t> bytes_untrusted);
  // Parses "k4.public.<base64url of 32 bytes>"; any other version or type is refused.
  static Result<PublicKey> from_paserk(std::string_view paserk_untrusted);

  std::string to_paserk() const;
  // "k4.pid.<base64url of BLAKE2b-264("k4.pid." || paserk)>", the key id used in token footers.
  std::string key_id() const;
  // The first 8 bytes of the key id hash: the minisign key number (see docs/formats/keys.md).
  std::array<uint8_t, 8> minisign_key_number() const;

  bool verify(std::span<const uint8_t> message, std::span<const uint8_t> signature) const;

  const std::array<uint8_t, public_key_bytes>& bytes() const { return bytes_; }
  bool operator==(const PublicKey&) const = default;

 private:
  explicit PublicKey(const std::array<uint8_t, public_key_bytes>& bytes) : bytes_(bytes) {}
  std::array<uint8_t, public_key_bytes> bytes_;
};

class SecretKey {
 public:
  static SecretKey generate();
  static Result<SecretKey> from_seed(std::span<const uint8_t> seed_untrusted);
  // 64 bytes seed || public key; refused when the public half does not match the seed.
  static Result<SecretKey> from_bytes(std::span<const uint8_t> bytes_untrusted);
  // Parses "k4.secret.<base64url of 64 bytes>".
  static Result<SecretKey> from_paserk(std::string_view paserk_untrusted);

  SecretKey(SecretKey&&) noexcept = default;
  SecretKey& operator=(SecretKey&&) noexcept = default;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  ~SecretKey();

  std::string to_paserk() const;
  PublicKey public_key() const;
  Signature sign(std::span<const uint8_t> message) const;

 private:
  struct Bytes {
    std::array<uint8_t, secret_key_bytes> value;
  };
  explicit SecretKey(std::unique_ptr<Bytes> bytes) : bytes_(std::move(bytes)) {}
  std::unique_ptr<Bytes> bytes_;
};

// Constant-time equality; sizes are compared first (a size is not secret).
bool constant_time_equal(std::span<const uint8_t> a, std::span<const uint8_t> b);
inline bool constant_time_equal(std::string_view a, std::string_view b) {
  return constant_time_equal(std::span(reinterpret_cast<const uint8_t*>(a.data()), a.size()),
                             std::span(reinterpret_cast<const uint8_t*>(b.data()), b.size()));
}

// Overwrites `bytes` with zeros in a way the compiler cannot drop (for secrets).
void wipe(std::span<uint8_t> bytes);

// Fills `out` with bytes from the OS CSPRNG.
void random_bytes(std::span<uint8_t> out);
// A random identifier: base64url of 16 random bytes (token ids, request ids),
// taken from a per-thread pool of OS randomness (one getrandom per 16 ids).
std::string random_id();

// Unkeyed BLAKE2b with an output of `out.size()` bytes (1..64).
void blake2b(std::span<uint8_t> out, std::span<const uint8_t> message);
// Keyed BLAKE2b (a MAC / PRF): `out.size()` bytes (16..64), key of 16..64 bytes.
void blake2b_keyed(std::span<uint8_t> out, std::span<const uint8_t> key,
                   std::span<const uint8_t> message);

// Must be called once before any other function here; safe to call again.
void init();

}  // namespace dg::crypto
