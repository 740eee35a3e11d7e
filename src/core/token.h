// dropgate's bearer tokens: PASETO v4.public with the signer's key id in the
// footer ({"kid":"k4.pid…"}) and the purpose in the payload's "typ".
//
// There is one issue and one verify function per purpose; a verifier asks for
// one purpose and refuses every other, so a certificate can never be spent as
// a download token. The wire format is in docs/formats/tokens.md.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/limits.h"
#include "base/status.h"
#include "core/rights.h"
#include "crypto/keyring.h"
#include "crypto/keys.h"

namespace dg::core {

// Frozen: these strings are the "typ" values on the wire.
enum class Purpose { download, cert, edge_grant, receipt, decline };
std::string_view purpose_name(Purpose purpose);
std::optional<Purpose> parse_purpose(std::string_view name_untrusted);

// Signs tokens with one secret key; the issuer name goes into "iss".
class TokenSigner {
 public:
  TokenSigner(crypto::SecretKey key, std::string issuer);
  const std::string& key_id() const { return key_id_; }
  const std::string& issuer() const { return issuer_; }
  const crypto::SecretKey& key() const { return key_; }

 private:
  crypto::SecretKey key_;
  std::string key_id_;
  std::string issuer_;
};

// How a verifier judges time and origin.
struct VerifyOptions {
  int64_t now_ms;
  // Tokens expire this much later and become valid this much earlier than they
  // say, because phones and stall laptops drift.
  std::chrono::milliseconds clock_skew = limits::clock_skew_default;
  // When set, "iss" must equal it.
  std::optional<std::string> issuer;
  // False only where a signature must be judged at another time than now: an
  // edge's grant, checked at the time the edge signed a certificate under it
  // (verify_edge_cert).
  bool check_times = true;
};

// What every verified token carries besides its purpose-specific fields.
struct TokenCommon {
  std::string issuer;
  std::string key_id;
  std::string token_id;  // "jti"
  int64_t issued_at_ms = 0;
  std::optional<int64_t> expires_at_ms;
  std::optional<int64_t> not_before_ms;
};

// --- download: short-lived permission to fetch assets of one manifest version.
struct DownloadFields {
  std::string account;
  std::string drop;
  int64_t manifest_version = 0;
  std::vector<std::string> assets;  // manifest paths, or the single entry "*" for all
  // The certificate this download right comes from ("cert"), so a verifier
  // holding a revocation list refuses downloads of revoked claims. Optional.
  std::string cert_id;
};
struct VerifiedDownload {
  TokenCommon common;
  DownloadFields fields;
  // True when `path` is one of the assets this token allows.
  bool allows(std::string_view path) const;
};
// ttl_s must be in (0, limits::download_token_ttl_max].
// `token_id`, if given, receives the token's `jti`. `given_id` non-empty: the
// `jti` to use instead of a random one, so the same token can be signed again
// (Ed25519 is deterministic: same key, fields, times and id, same token).
Result<std::string> issue_download(const TokenSigner& signer, const DownloadFields& fields,
                                   int64_t now_ms, uint32_t ttl_s, std::string* token_id = nullptr,
                                   std::string_view given_id = {});
Result<VerifiedDownload> verify_download(const crypto::Keyring& keyring,
                                         std::string_view token_untrusted,
                                         const VerifyOptions& options);

// --- owner ids: certificates are public (anyone may look one up by serial),
// so they name their owner by a pseudonym, never by the account: a keyed hash
// of drop and account that only the origin holding the secret can compute,
// e.g. to find a signed-in buyer's certificates. Different per drop, so one
// buyer's certificates of two drops cannot be linked.
inline constexpr size_t owner_secret_bytes = 32;
inline constexpr size_t owner_id_hash_bytes = 18;  // 24 base64url characters, no partial group
inline constexpr std::string_view owner_id_prefix = "own_";

// The origin's owner-id secret. Not copyable; wiped when it goes away.
class OwnerSecret {
 public:
  static OwnerSecret generate();
  // Parses the secret file's text: base64url of 32 bytes (no padding, one line).
  static Result<OwnerSecret> from_text(std::string_view text_untrusted);
  std::string to_text() const;

  OwnerSecret(OwnerSecret&&) noexcept = default;
  OwnerSecret& operator=(OwnerSecret&&) noexcept = default;
  OwnerSecret(const OwnerSecret&) = delete;
  OwnerSecret& operator=(const OwnerSecret&) = delete;
  ~OwnerSecret();
  std::span<const uint8_t> bytes() const { return bytes_->value; }

 private:
  struct Bytes {
    std::array<uint8_t, owner_secret_bytes> value;
  };
  explicit OwnerSecret(std::unique_ptr<Bytes> bytes) : bytes_(std::move(bytes)) {}
  std::unique_ptr<Bytes> bytes_;
};

// "own_" + base64url(BLAKE2b-144 keyed with the secret over
// "dropgate-owner-v1" ‖ u32be(len drop) ‖ drop ‖ u32be(len account) ‖ account).
// Stable for the same inputs; the lengths keep ("ab","c") and ("a","bc") apart.
std::string owner_id(const OwnerSecret& secret, std::string_view drop, std::string_view account);

// --- cert: ownership certificate of one serial. No expiry; revoked by list.
struct CertFields {
  std::string owner;  // an owner id (owner_id()), not an account
  std::string drop;
  uint32_t serial = 0;
  uint32_t edition_size = 0;
  std::string manifest_sha256;  // hex SHA-256 of the manifest bytes the serial was sold under
  Rights rights;
  // Sold offline by an edge: the `jti` of the edge-grant it sold under
  // ("grant"); empty for the origin's own certificates.
  std::string grant_id;
};
struct VerifiedCert {
  TokenCommon common;
  CertFields fields;
};
// `token_id` (optional) receives the certificate's jti, its id on revocation lists.
Result<std::string> issue_cert(const TokenSigner& signer, const CertFields& fields, int64_t now_ms,
                               std::string* token_id = nullptr);
Result<VerifiedCert> verify_cert(const crypto::Keyring& keyring, std::string_view token_untrusted,
                                 const VerifyOptions& options);

// --- edge-grant: the origin delegates to an edge key, for some drops and leases, until a time.
struct GrantLease {
  std::string drop;
  uint32_t first_serial = 0;
  uint32_t last_serial = 0;
  int64_t sell_until_ms = 0;
};
// The operator's limits on what one edge may sell offline ("caps"): card
// processors' offline modes bound the same three things.
struct OfflineCaps {
  uint32_t sales_max = 0;            // sales in all
  int64_t value_minor_max = 0;       // their total value, in minor units
  int64_t sale_value_minor_max = 0;  // one sale's value
  bool operator==(const OfflineCaps&) const = default;
};
// How many sales the operator expects an edge to make offline of one drop
// ("offline_sales"): what its lease is sized to.
struct OfflineTarget {
  std::string drop;
  uint32_t sales = 0;
  bool operator==(const OfflineTarget&) const = default;
};
// A drop's price as the edge must charge it offline ("prices").
struct OfflinePrice {
  std::string drop;
  int64_t amount_minor = 0;
  std::string currency;
  bool operator==(const OfflinePrice&) const = default;
};
struct EdgeGrantFields {
  std::string edge_key;  // k4.public.… of the edge
  std::vector<std::string> drops;
  std::vector<GrantLease> leases;
  // Both optional on the wire: a grant without offline sales carries neither.
  std::optional<OfflineCaps> caps;
  std::vector<OfflineTarget> offline_sales;
  std::vector<OfflinePrice> prices;  // of the drops in offline_sales
};
struct VerifiedEdgeGrant {
  TokenCommon common;
  EdgeGrantFields fields;
  crypto::PublicKey edge_key;
};
Result<std::string> issue_edge_grant(const TokenSigner& signer, const EdgeGrantFields& fields,
                                     int64_t now_ms, uint32_t ttl_s);
Result<VerifiedEdgeGrant> verify_edge_grant(const crypto::Keyring& keyring,
                                            std::string_view token_untrusted,
                                            const VerifyOptions& options);

// --- receipt: a payment reader's signed statement of one transaction.
struct ReceiptFields {
  std::string reader;
  std::string transaction;
  int64_t amount_minor = 0;  // in the currency's minor unit (cents)
  std::string currency;      // ISO 4217, upper case
  std::string drop;
};
struct VerifiedReceipt {
  TokenCommon common;
  ReceiptFields fields;
};
Result<std::string> issue_receipt(const TokenSigner& signer, const ReceiptFields& fields,
                                  int64_t now_ms, uint32_t ttl_s);
Result<VerifiedReceipt> verify_receipt(const crypto::Keyring& keyring,
                                       std::string_view token_untrusted,
                                       const VerifyOptions& options);

// --- decline: a payment reader's signed statement that a transaction it
// signed a receipt for was declined after all (docs/formats/receipt.md).
struct DeclineFields {
  std::string reader;
  std::string transaction;
  std::string drop;
  std::string reason;  // optional, at most limits::decline_reason_bytes_max
};
struct VerifiedDecline {
  TokenCommon common;
  DeclineFields fields;
};
Result<std::string> issue_decline(const TokenSigner& signer, const DeclineFields& fields,
                                  int64_t now_ms, uint32_t ttl_s);
Result<VerifiedDecline> verify_decline(const crypto::Keyring& keyring,
                                       std::string_view token_untrusted,
                                       const VerifyOptions& options);

// The key id a token's footer names, signature NOT checked: only for finding
// which key to verify the token with (a reader's, among many registered).
Result<std::string> unverified_key_id(std::string_view token_untrusted);

// --- offline sales: a certificate an edge signed with its own key, verified
// through the grant the origin signed (a chain of two signatures, both
// checked offline). The grant is checked under the origin's keyring at the
// time the certificate was issued (a grant lives 30 days, a certificate for
// ever); the certificate under the grant's edge key, at `options.now_ms`. It
// must name the grant ("grant" = its jti), its serial must lie in a lease of
// that drop in the grant, and it must have been issued within the grant's
// life and before that lease's sell_until (plus the skew leeway).
struct VerifiedEdgeCert {
  VerifiedCert cert;
  VerifiedEdgeGrant grant;
};
Result<VerifiedEdgeCert> verify_edge_cert(const crypto::Keyring& origin_keyring,
                                          std::string_view grant_untrusted,
                                          std::string_view cert_untrusted,
                                          const VerifyOptions& options);

// A verified token's fields as JSON (for `dropgate token verify` and logs).
std::string to_json(const VerifiedDownload& token);
std::string to_json(const VerifiedCert& token);
std::string to_json(const VerifiedEdgeGrant& token);
std::string to_json(const VerifiedReceipt& token);
std::string to_json(const VerifiedDecline& token);

}  // namespace dg::core
