#include "origin/certificates.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/limits.h"
#include "base/problem_types.h"
#include "base/time.h"
#include "crypto/jcs.h"
#include "crypto/minisign.h"
#include "origin/events.h"

namespace dg::origin {

Result<std::string> Certificates::certificate_json(std::string_view slug, uint32_t serial) {
  auto cached = parts_.catalog.load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  auto claim = parts_.store.get_claim(cached->drop.id, serial);
  if (!claim) {
    if (claim.error().code() == Code::not_found) {
      return error(problem::not_found, "serial " + std::to_string(serial) + " is not claimed");
    }
    return error(claim.error());
  }
  // Anyone may ask, for every serial: answer only what a verifier needs, and
  // never the account. The token is published only when its owner is a
  // pseudonym (certificates issued before owner ids named the account).
  boost::json::object out{{"drop", cached->drop.spec.slug},
                          {"serial", serial},
                          {"edition", cached->drop.spec.edition_size},
                          {"certificate_id", claim->cert_id},
                          {"revoked", claim->revoked_at_ms.has_value()}};
  auto cert = core::verify_cert(parts_.keyring, claim->cert_token,
                                core::VerifyOptions{parts_.clock.now_ms()});
  if (cert && cert->fields.owner.starts_with(core::owner_id_prefix)) {
    out["owner"] = cert->fields.owner;
    out["manifest"] = cert->fields.manifest_sha256;
    out["certificate"] = claim->cert_token;
  }
  return boost::json::serialize(out);
}

Result<std::string> Certificates::revoke(std::string_view slug, uint32_t serial,
                                         std::string_view reason) {
  auto cached = parts_.catalog.load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  auto revocation =
      parts_.store.revoke_claim(cached->drop.id, serial, reason, parts_.clock.now_ms());
  if (!revocation) return error(revocation.error());
  {
    std::lock_guard lock(revocations_mutex_);
    revocations_.reset();  // the next fetch re-signs with this revocation on it
  }
  note_events(parts_.store, {{"claim.revoked", cached->drop.id, serial, "",
                              boost::json::serialize(boost::json::object{{"reason", reason}}),
                              parts_.clock.now_ms(), ""}});
  return boost::json::serialize(
      boost::json::object{{"certificate_id", revocation->cert_id},
                          {"serial", serial},
                          {"revoked_at", format_rfc3339(revocation->revoked_at_ms)}});
}

Result<SignedList> Certificates::revocation_list() {
  std::lock_guard lock(revocations_mutex_);
  int64_t now_ms = parts_.clock.now_ms();
  if (revocations_ &&
      now_ms - revocations_signed_at_ms_ < to_ms(limits::revocation_list_resign_after))
    return *revocations_;
  auto revocations = parts_.store.list_revocations();
  if (!revocations) return error(revocations.error());
  boost::json::array revoked;
  revoked_cert_ids_.clear();
  for (const auto& r : *revocations) {
    revoked_cert_ids_.insert(r.cert_id);
    auto drop = parts_.store.get_drop_by_id(r.drop_id);
    revoked.push_back(boost::json::object{{"certificate_id", r.cert_id},
                                          {"drop", drop ? drop->spec.slug : ""},
                                          {"serial", r.serial},
                                          {"revoked_at", format_rfc3339(r.revoked_at_ms)}});
  }
  boost::json::object list{{"format", 1},
                           {"issued_at", format_rfc3339(now_ms)},
                           {"issuer", parts_.config.issuer},
                           {"revoked", std::move(revoked)}};
  auto json = crypto::jcs_canonicalize(list);
  if (!json) return error(json.error());
  std::string comment =
      "dropgate-revocations issued_at=" + format_rfc3339(now_ms) + " kid=" + parts_.signer.key_id();
  auto sig = crypto::minisign_sign(parts_.signer.key(), as_bytes(*json), comment,
                                   "dropgate revocation list");
  if (!sig) return error(sig.error());
  revocations_ = SignedList{std::move(*json), std::move(*sig)};
  revocations_signed_at_ms_ = now_ms;
  return *revocations_;
}

bool Certificates::is_revoked(std::string_view cert_id) {
  if (!revocation_list()) return false;
  std::lock_guard lock(revocations_mutex_);
  return revoked_cert_ids_.contains(cert_id);
}

}  // namespace dg::origin
