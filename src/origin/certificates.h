// Certificates: the public certificate of a claimed serial, revocation, the
// signed list of revoked certificates that edges sync, and the keyring that
// verifies what this origin signs.
//
// Thread safety: every method is safe to call from many handler threads.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"
#include "core/token.h"
#include "crypto/keyring.h"
#include "origin/config.h"
#include "origin/drop_catalog.h"
#include "store/store.h"

namespace dg::origin {

struct SignedList {
  std::string json;
  std::string minisig;
};

class Certificates {
 public:
  struct Parts {
    store::Store& store;
    const core::TokenSigner& signer;  // signs the revocation list
    const crypto::Keyring& keyring;   // verifies stored certificates
    const Clock& clock;
    const OriginConfig& config;
    DropCatalog& catalog;
  };
  explicit Certificates(Parts parts) : parts_(parts) {}

  Result<std::string> certificate_json(std::string_view slug, uint32_t serial);
  Result<std::string> revoke(std::string_view slug, uint32_t serial, std::string_view reason);
  // The signed list of revoked certificates. Re-signed when a claim is
  // revoked and every few minutes (so its issued_at stays fresh); between
  // those, every fetch returns the same bytes, so the JSON and its signature
  // can be fetched separately.
  Result<SignedList> revocation_list();
  // Whether the certificate is on the revocation list (false while the list
  // cannot be read).
  bool is_revoked(std::string_view cert_id);
  std::string keyring_json() const { return parts_.keyring.to_json(); }

 private:
  Parts parts_;
  std::mutex revocations_mutex_;
  std::optional<SignedList> revocations_;
  std::set<std::string, std::less<>> revoked_cert_ids_;  // the ids on revocations_
  int64_t revocations_signed_at_ms_ = 0;
};

}  // namespace dg::origin
