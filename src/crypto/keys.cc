#include "crypto/keys.h"

#include <pthread.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>

#include "base/assert.h"
#include "base/encoding.h"

namespace dg::crypto {
namespace {

constexpr std::string_view kPublicPrefix = "k4.public.";
constexpr std::string_view kSecretPrefix = "k4.secret.";
constexpr std::string_view kPidPrefix = "k4.pid.";
constexpr size_t kPidHashBytes = 33;

std::array<uint8_t, kPidHashBytes> pid_hash(const PublicKey& key) {
  std::string input = std::string(kPidPrefix) + key.to_paserk();
  std::array<uint8_t, kPidHashBytes> hash;
  blake2b(hash, as_bytes(input));
  return hash;
}

// Splits "<prefix><base64url>" and decodes; the prefix must match exactly.
Result<Bytes> decode_paserk(std::string_view text, std::string_view prefix, size_t bytes) {
  if (!text.starts_with(prefix)) {
    return error(Code::invalid_argument,
                 "not a " + std::string(prefix) + "… key (wrong PASERK version or type)");
  }
  auto decoded = base64url_decode(text.substr(prefix.size()));
  if (!decoded || decoded->size() != bytes) {
    return error(Code::invalid_argument, std::string(prefix) + "… key is not " +
                                             std::to_string(bytes) +
                                             " bytes of unpadded base64url");
  }
  return std::move(*decoded);
}

}  // namespace

void init() {
  // sodium_init() returns 1 when already initialised, -1 only when the OS has no randomness.
  DG_ASSERT(sodium_init() >= 0);
}

Result<PublicKey> PublicKey::from_bytes(std::span<const uint8_t> bytes_untrusted) {
  if (bytes_untrusted.size() != public_key_bytes) {
    return error(Code::invalid_argument, "an Ed25519 public key is 32 bytes");
  }
  std::array<uint8_t, public_key_bytes> bytes;
  std::copy(bytes_untrusted.begin(), bytes_untrusted.end(), bytes.begin());
  return PublicKey(bytes);
}

Result<PublicKey> PublicKey::from_paserk(std::string_view paserk_untrusted) {
  auto bytes = decode_paserk(paserk_untrusted, kPublicPrefix, public_key_bytes);
  if (!bytes) return error(bytes.error());
  return from_bytes(*bytes);
}

std::string PublicKey::to_paserk() const {
  return std::string(kPublicPrefix) + base64url_encode(bytes_);
}

std::string PublicKey::key_id() const {
  return std::string(kPidPrefix) + base64url_encode(pid_hash(*this));
}

std::array<uint8_t, 8> PublicKey::minisign_key_number() const {
  auto hash = pid_hash(*this);
  std::array<uint8_t, 8> number;
  std::copy_n(hash.begin(), number.size(), number.begin());
  return number;
}

bool PublicKey::verify(std::span<const uint8_t> message, std::span<const uint8_t> signature) const {
  if (signature.size() != signature_bytes) return false;
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     bytes_.data()) == 0;
}

SecretKey::~SecretKey() {
  if (bytes_) sodium_memzero(bytes_->value.data(), bytes_->value.size());
}

SecretKey SecretKey::generate() {
  auto bytes = std::make_unique<Bytes>();
  std::array<uint8_t, public_key_bytes> pk;
  crypto_sign_keypair(pk.data(), bytes->value.data());
  return SecretKey(std::move(bytes));
}

Result<SecretKey> SecretKey::from_seed(std::span<const uint8_t> seed_untrusted) {
  if (seed_untrusted.size() != seed_bytes) {
    return error(Code::invalid_argument, "an Ed25519 seed is 32 bytes");
  }
  auto bytes = std::make_unique<Bytes>();
  std::array<uint8_t, public_key_bytes> pk;
  crypto_sign_seed_keypair(pk.data(), bytes->value.data(), seed_untrusted.data());
  return SecretKey(std::move(bytes));
}

Result<SecretKey> SecretKey::from_bytes(std::span<const uint8_t> bytes_untrusted) {
  if (bytes_untrusted.size() != secret_key_bytes) {
    return error(Code::invalid_argument, "an Ed25519 secret key is 64 bytes");
  }
  auto key = from_seed(bytes_untrusted.first(seed_bytes));
  if (!key) return key;
  auto expected_pk = key->public_key().bytes();
  if (!constant_time_equal(expected_pk, bytes_untrusted.subspan(seed_bytes))) {
    return error(Code::invalid_argument, "secret key: public half does not match the seed");
  }
  return key;
}

Result<SecretKey> SecretKey::from_paserk(std::string_view paserk_untrusted) {
  auto bytes = decode_paserk(paserk_untrusted, kSecretPrefix, secret_key_bytes);
  if (!bytes) return error(bytes.error());
  auto key = from_bytes(*bytes);
  sodium_memzero(bytes->data(), bytes->size());
  return key;
}

std::string SecretKey::to_paserk() const {
  return std::string(kSecretPrefix) + base64url_encode(bytes_->value);
}

PublicKey SecretKey::public_key() const {
  std::array<uint8_t, public_key_bytes> pk;
  crypto_sign_ed25519_sk_to_pk(pk.data(), bytes_->value.data());
  return *PublicKey::from_bytes(pk);
}

Signature SecretKey::sign(std::span<const uint8_t> message) const {
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), bytes_->value.data());
  return sig;
}

bool constant_time_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void wipe(std::span<uint8_t> bytes) {
  sodium_memzero(bytes.data(), bytes.size());
}

void random_bytes(std::span<uint8_t> out) {
  randombytes_buf(out.data(), out.size());
}

namespace {

// random_id draws from a per-thread pool of OS randomness, refilled by one
// randombytes_buf (one getrandom(2)) per kIdPoolBytes / kIdBytes ids, instead
// of one system call per id: a claim takes two ids. The bytes are the OS
// CSPRNG's, used once each and wiped once used, so ids stay uniform and
// unpredictable. dropgate never forks, but a child of a fork must not share
// its parent's pool (both would hand out the same ids): a fork bumps
// fork_generation in the child, and a pool filled before it is refilled.
constexpr size_t kIdBytes = 16;
constexpr size_t kIdPoolBytes = 256;
static_assert(kIdPoolBytes % kIdBytes == 0);

std::atomic<uint64_t> fork_generation{0};

void note_fork_in_child() {
  fork_generation.fetch_add(1, std::memory_order_relaxed);
}

struct IdPool {
  std::array<uint8_t, kIdPoolBytes> bytes;
  size_t used = kIdPoolBytes;  // nothing left: the first id fills it
  uint64_t generation = 0;
  ~IdPool() { sodium_memzero(bytes.data(), bytes.size()); }
};

}  // namespace

std::string random_id() {
  [[maybe_unused]] static const bool fork_handled = [] {
    DG_ASSERT(pthread_atfork(nullptr, nullptr, note_fork_in_child) == 0);
    return true;
  }();
  thread_local IdPool pool;
  uint64_t generation = fork_generation.load(std::memory_order_relaxed);
  if (pool.used == kIdPoolBytes || pool.generation != generation) {
    randombytes_buf(pool.bytes.data(), pool.bytes.size());
    pool.used = 0;
    pool.generation = generation;
  }
  std::span<uint8_t> id(pool.bytes.data() + pool.used, kIdBytes);
  pool.used += kIdBytes;
  std::string out = base64url_encode(id);
  sodium_memzero(id.data(), id.size());
  return out;
}

void blake2b(std::span<uint8_t> out, std::span<const uint8_t> message) {
  DG_ASSERT(out.size() >= crypto_generichash_BYTES_MIN &&
            out.size() <= crypto_generichash_BYTES_MAX);
  crypto_generichash(out.data(), out.size(), message.data(), message.size(), nullptr, 0);
}

void blake2b_keyed(std::span<uint8_t> out, std::span<const uint8_t> key,
                   std::span<const uint8_t> message) {
  DG_ASSERT(out.size() >= crypto_generichash_BYTES_MIN &&
            out.size() <= crypto_generichash_BYTES_MAX);
  DG_ASSERT(key.size() >= crypto_generichash_KEYBYTES_MIN &&
            key.size() <= crypto_generichash_KEYBYTES_MAX);
  crypto_generichash(out.data(), out.size(), message.data(), message.size(), key.data(),
                     key.size());
}

}  // namespace dg::crypto
