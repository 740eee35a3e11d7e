// The manifest: the signed description of one version of a drop.
//
// On the wire it is RFC 8785 canonical JSON signed in the minisign format, so
// `minisign -V -p drop.pub -m manifest.json` verifies it with the stock tool.
// The format is in docs/formats/manifest.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/limits.h"
#include "base/status.h"
#include "core/rights.h"
#include "crypto/keyring.h"
#include "crypto/keys.h"

namespace dg::core {

// Frozen: the value of the manifest's "format" field.
inline constexpr int64_t manifest_format = 1;

struct Asset {
  std::string path;  // validated by validate_asset_path
  uint64_t size_bytes = 0;
  std::string sha256;  // 64 lower-case hex digits
  std::string media_type;
  bool operator==(const Asset&) const = default;
};

struct SaleWindow {
  int64_t opens_at_ms = 0;
  std::optional<int64_t> closes_at_ms;  // unset: open until sold out or closed by hand
  bool operator==(const SaleWindow&) const = default;
};

struct Manifest {
  std::string drop;
  int64_t version = 0;  // strictly increasing per drop; verifiers never accept a lower one
  int64_t issued_at_ms = 0;
  int64_t expires_at_ms = 0;
  uint32_t edition_size = 0;
  SaleWindow window;
  Rights rights;
  std::vector<Asset> assets;  // sorted by path, paths unique
  bool operator==(const Manifest&) const = default;
};

// Checks every field; the same rules parse_manifest() applies to untrusted input.
Status validate_manifest(const Manifest& manifest);

// Canonical (RFC 8785) JSON of a valid manifest.
Result<std::string> manifest_to_json(const Manifest& manifest);

// Parses and validates manifest JSON. This alone proves nothing about who wrote
// it; verify_manifest() is the way in for anything received.
Result<Manifest> parse_manifest(std::string_view json_untrusted);

struct SignedManifest {
  std::string json;     // manifest.json
  std::string minisig;  // manifest.json.minisig
};

// The trusted comment binds drop, version and key id to the signature, so a
// signature cannot be moved onto another drop's manifest unnoticed.
std::string manifest_trusted_comment(const Manifest& manifest, std::string_view key_id);

Result<SignedManifest> sign_manifest(const Manifest& manifest, const crypto::SecretKey& key);

// What a verifier knows before it looks at a manifest.
struct ManifestExpectations {
  std::string drop;              // the drop it asked for
  int64_t version_seen_max = 0;  // highest version accepted before (0: none)
  int64_t now_ms = 0;
  std::chrono::milliseconds clock_skew = limits::clock_skew_default;
};

struct VerifiedManifest {
  Manifest manifest;
  std::string sha256;  // hex SHA-256 of the signed manifest bytes
  std::string key_id;
};

// Checks, in order: signature format, signing key (known, not revoked), both
// signatures, the manifest itself, the trusted comment, the drop, the version
// (not lower than seen) and the expiry. Yields nothing on any failure.
Result<VerifiedManifest> verify_manifest(const crypto::Keyring& keyring,
                                         std::string_view json_untrusted,
                                         std::string_view minisig_untrusted,
                                         const ManifestExpectations& expect);

}  // namespace dg::core
