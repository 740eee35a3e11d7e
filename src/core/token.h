// dropgate's bearer tokens: PASETO v4.public with the signer's key id in the
// footer ({"kid":"k4.pid…"}) and the purpose in the payload's "typ".
//
// There is one issue and one verify function per purpose; a verifier asks for
// one purpose and refuses every other, so a certificate can never be spent as
// a download token. The wire format is in docs/formats/tokens.md.
#pragma once

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

// Frozen: these strings are the "typ" values on the wire.
enum class Purpose { download, cert, edge_grant, receipt };
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
  int64_t clock_skew_ms = limits::clock_skew_ms_default;
  // When set, "iss" must equal it.
  std::optional<std::string> issuer;
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
// ttl_s must be in (0, limits::download_token_ttl_s_max].
// `token_id`, if given, receives the token's `jti`. `given_id` non-empty: the
// `jti` to use instead of a random one, so the same token can be signed again
// (Ed25519 is deterministic: same key, fields, times and id, same token).
Result<std::string> issue_download(const TokenSigner& signer, const DownloadFields& fields,
                                   int64_t now_ms, uint32_t ttl_s, std::string* token_id = nullptr,
                                   std::string_view given_id = {});
Result<VerifiedDownload> verify_download(const crypto::Keyring& keyring,
                                         std::string_view token_untrusted,
                                         const VerifyOptions& options);

// --- cert: ownership certificate of one serial. No expiry; revoked by list.
struct CertFields {
  std::string owner;
  std::string drop;
  uint32_t serial = 0;
  uint32_t edition_size = 0;
  std::string manifest_sha256;  // hex SHA-256 of the manifest bytes the serial was sold under
  Rights rights;
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
struct EdgeGrantFields {
  std::string edge_key;  // k4.public.… of the edge
  std::vector<std::string> drops;
  std::vector<GrantLease> leases;
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

// A verified token's fields as JSON (for `dropgate token verify` and logs).
std::string to_json(const VerifiedDownload& token);
std::string to_json(const VerifiedCert& token);
std::string to_json(const VerifiedEdgeGrant& token);
std::string to_json(const VerifiedReceipt& token);

}  // namespace dg::core
