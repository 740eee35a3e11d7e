// A keyring: the public keys a verifier accepts, each current, retired or
// revoked. The current key signs new tokens and manifests; retired keys still
// verify what they signed before a rotation; revoked keys verify nothing.
// Rotation and revocation are operations on this file, not code changes.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "crypto/keys.h"
#include "crypto/minisign.h"

namespace dg::crypto {

// Frozen: written to keys.json as "current", "retired", "revoked".
enum class KeyStatus { current, retired, revoked };

std::string_view key_status_name(KeyStatus status);

struct KeyringEntry {
  PublicKey key;
  std::string key_id;  // PublicKey::key_id(), kept to avoid re-hashing on every lookup
  KeyStatus status;
};

class Keyring {
 public:
  // Adds a key. Adding a current key retires the previous current one (rotation).
  // Refuses a key already present and more than limits::keyring_keys_max keys.
  Status add(const PublicKey& key, KeyStatus status);
  Status retire(std::string_view key_id);
  Status revoke(std::string_view key_id);

  // The key that verifies signatures made under `key_id`: not_found when the
  // keyring does not know it, forbidden when it has been revoked.
  Result<const PublicKey*> verification_key(std::string_view key_id) const;
  // The same, looked up by minisign key number.
  Result<MinisignPublicKey> minisign_verification_key(const MinisignKeyNumber& number) const;

  const KeyringEntry* current() const;
  const std::vector<KeyringEntry>& entries() const { return entries_; }

  // {"keys":[{"kid":"k4.pid…","public":"k4.public…","status":"current"}]}
  std::string to_json() const;
  static Result<Keyring> parse_json(std::string_view json_untrusted);

  // Reads either a keyring JSON file or a single "k4.public." key (taken as current).
  static Result<Keyring> load(const std::filesystem::path& path);

 private:
  KeyringEntry* find(std::string_view key_id);
  std::vector<KeyringEntry> entries_;
};

}  // namespace dg::crypto
