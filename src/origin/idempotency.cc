#include "origin/idempotency.h"

#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/problem_types.h"
#include "base/time.h"
#include "origin/claim_answer.h"

namespace dg::origin {

std::optional<Result<Replay>> IdempotencyRecords::replay(const Idempotency& idem) {
  if (idem.key.empty()) return std::nullopt;
  auto record = parts_.store.get_idempotency(idem.scope, idem.key);
  if (!record) {
    if (record.error().code() == Code::not_found) return std::nullopt;
    return error(record.error());
  }
  return answer_from(*record, idem);
}

std::optional<Result<Replay>> IdempotencyRecords::answer_from(
    const store::IdempotencyRecord& record, const Idempotency& idem) {
  if (record.request_sha256 != idem.request_sha256) {
    return error(problem::idempotency_key_reused,
                 "this Idempotency-Key was used with a different request; use a new key");
  }
  if (record.response_status == 0) {
    return error(
        Status(problem::idempotency_in_flight,
               "a request with this Idempotency-Key is still being answered; retry shortly")
            .with_retry_after(1));
  }
  if (record.response_body.starts_with(kClaimRecordPrefix)) return rebuild_claim_answer(record);
  return Replay{record.response_status, record.response_body};
}

std::optional<Result<Replay>> IdempotencyRecords::reserve(const Idempotency& idem,
                                                          std::string_view owner) {
  store::IdempotencyRecord marker{idem.scope, idem.key, idem.request_sha256,
                                  0,          "",       parts_.clock.now_ms()};
  auto reservation = parts_.store.reserve_idempotency(marker, owner);
  if (!reservation) return error(reservation.error());
  if (reservation->state == store::Store::IdempotencyState::reserved) return std::nullopt;
  return answer_from(reservation->record, idem);
}

Status IdempotencyRecords::settle(const Idempotency& idem, std::string_view owner, unsigned status,
                                  const std::string* body_json) {
  bool answered = status / 100 == 2 && body_json != nullptr;
  Status settled =
      answered ? parts_.store.answer_idempotency(idem.scope, idem.key, owner, status, *body_json)
               : parts_.store.release_idempotency(idem.scope, idem.key, owner);
  if (!settled.ok()) {
    // Answered: the action happened, and a retry cannot replay it. Released:
    // the key stays reserved until limits::idempotency_in_flight_max passes.
    log::error("idempotency: could not settle a reserved key",
               {{"key", idem.key}, {"answered", answered}, {"error", settled.to_string()}});
  }
  return settled;
}

// Rebuilds a claim's answer from its idempotency record and its row: the
// download token is signed again with the same fields, times and id, and
// Ed25519 signatures are deterministic, so the answer is byte for byte the
// first one's (unless the signing key or the public URL changed since).
Result<Replay> IdempotencyRecords::rebuild_claim_answer(const store::IdempotencyRecord& record) {
  std::string text = record.response_body;
  text.replace(0, kClaimRecordPrefix.size(), "{");
  auto o = json::parse_object(text, limits::identifier_bytes_max * 4);
  if (!o) return error(Status(Code::corruption, "stored claim answer: " + o.error().message()));
  auto drop_id = json::get_int(*o, "drop_id", "claim record", 1, INT64_MAX);
  auto serial = json::get_int(*o, "serial", "claim record", 1, limits::edition_size_max);
  auto version = json::get_int(*o, "ver", "claim record", 1, INT64_MAX);
  auto ttl_s = json::get_int(*o, "ttl_s", "claim record", 1, to_s(limits::download_token_ttl_max));
  auto jti = json::get_string(*o, "jti", "claim record", limits::identifier_bytes_max);
  for (const Status* s : {drop_id ? nullptr : &drop_id.error(), serial ? nullptr : &serial.error(),
                          version ? nullptr : &version.error(), ttl_s ? nullptr : &ttl_s.error(),
                          jti ? nullptr : &jti.error()}) {
    if (s) return error(Status(Code::corruption, "stored claim answer: " + s->message()));
  }
  auto drop = parts_.store.get_drop_by_id(*drop_id);
  if (!drop) return error(drop.error());
  auto claim = parts_.store.get_claim(*drop_id, static_cast<uint32_t>(*serial));
  if (!claim) return error(claim.error());
  auto manifest_record = parts_.store.get_manifest(*drop_id, *version);
  if (!manifest_record) return error(manifest_record.error());
  auto manifest = core::parse_manifest(manifest_record->json);
  if (!manifest)
    return error(Status(Code::corruption, "stored manifest: " + manifest.error().message()));
  core::DownloadFields download_fields{
      claim->account, drop->spec.slug, *version, {"*"}, claim->cert_id};
  auto download = core::issue_download(parts_.signer, download_fields, claim->claimed_at_ms,
                                       static_cast<uint32_t>(*ttl_s), nullptr, *jti);
  if (!download) return error(download.error());
  return Replay{
      record.response_status,
      claim_answer_json(parts_.config.public_url, *drop, *manifest, claim->serial, claim->account,
                        core::owner_id(parts_.owner_secret, drop->spec.slug, claim->account),
                        claim->claimed_at_ms, claim->cert_token, *download)};
}

}  // namespace dg::origin
