#include "origin/service.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/time.h"
#include "core/validate.h"
#include "crypto/jcs.h"
#include "crypto/minisign.h"
#include "crypto/sha256.h"
#include "http/client.h"

namespace dg::origin {
namespace {

Refusal make_refusal(unsigned status, std::string type, std::string title, std::string detail,
                     uint32_t retry_after_s = 0) {
  return Refusal{status, std::move(type), std::move(title), std::move(detail), retry_after_s};
}

std::unexpected<Refusal> refuse(unsigned status, std::string type, std::string title,
                                std::string detail, uint32_t retry_after_s = 0) {
  return std::unexpected(
      make_refusal(status, std::move(type), std::move(title), std::move(detail), retry_after_s));
}

std::unexpected<Refusal> refuse(const Status& status) {
  return std::unexpected(refusal_from_status(status));
}

boost::json::object drop_json(const store::Drop& drop, store::DropState state) {
  const auto& s = drop.spec;
  boost::json::object out{
      {"slug", s.slug},
      {"title", s.title},
      {"edition", s.edition_size},
      {"state", store::drop_state_name(state)},
      {"opens_at", format_rfc3339(s.opens_at_ms)},
      {"per_buyer_limit", s.per_buyer_limit},
      {"price", boost::json::object{{"amount", s.price_minor}, {"currency", s.currency}}},
      {"rights", core::rights_to_json(s.rights)},
      {"manifest_version", drop.manifest_version}};
  out["closes_at"] = s.closes_at_ms ? boost::json::value(format_rfc3339(*s.closes_at_ms))
                                    : boost::json::value(nullptr);
  return out;
}

// What a claim answers (and a replay of it, rebuilt from the claim's row):
// one function, so the two cannot differ.
std::string claim_answer_json(const std::string& public_url, const store::Drop& drop,
                              const core::Manifest& manifest, uint32_t serial,
                              const std::string& account, const std::string& owner,
                              int64_t claimed_at_ms, const std::string& cert,
                              const std::string& download) {
  std::string base = public_url + "/v1/drops/" + drop.spec.slug;
  boost::json::array files;
  for (const auto& a : manifest.assets) {
    // Encoded, so a file named "#1.txt" or "what?.txt" is a path, not a fragment or a query.
    std::string url = base + "/files/" + http::encode_path(a.path) + "?token=" + download;
    files.push_back(boost::json::object{
        {"path", a.path}, {"size", a.size_bytes}, {"type", a.media_type}, {"url", std::move(url)}});
  }
  boost::json::object body{{"drop", drop.spec.slug},
                           {"serial", serial},
                           {"edition", drop.spec.edition_size},
                           {"account", account},
                           {"owner", owner},
                           {"claimed_at", format_rfc3339(claimed_at_ms)},
                           {"certificate", cert},
                           {"certificate_url", base + "/certificates/" + std::to_string(serial)},
                           {"download_token", download},
                           {"files", std::move(files)}};
  return boost::json::serialize(body);
}

// A claim's idempotency record keeps only what its answer cannot be rebuilt
// without (the certificate and the claim time are in the claim's row): about
// 100 bytes instead of the ~2 KB answer, written with every claim.
constexpr std::string_view kClaimRecordPrefix = R"({"rebuild":"claim",)";

// remaining: serials a buyer could get now (neither claimed nor held); held:
// serials in unexpired holds, which come back if their holds expire;
// sold_out: every serial is claimed, for good.
void add_availability(boost::json::object& out, const store::Drop& drop, uint32_t claimed,
                      uint32_t held) {
  uint32_t edition = drop.spec.edition_size;
  uint32_t taken = std::min(edition, claimed);
  out["held"] = std::min(held, edition - taken);
  out["remaining"] = edition - taken - std::min(held, edition - taken);
  out["sold_out"] = taken == edition;
}

// Whether `next` says what `current` says: the same drop, edition, window,
// rights and files. Version and times are not content. Compared as the
// manifest JSON, so what the wire cannot tell apart (e.g. milliseconds of the
// window, which the manifest gives in whole seconds) is the same.
bool same_content(const core::Manifest& current, core::Manifest next) {
  next.version = current.version;
  next.issued_at_ms = current.issued_at_ms;
  next.expires_at_ms = current.expires_at_ms;
  auto current_json = core::manifest_to_json(current);
  auto next_json = core::manifest_to_json(next);
  return current_json && next_json && *current_json == *next_json;
}

}  // namespace

Refusal refusal_from_status(const Status& status) {
  switch (status.code()) {
    case Code::not_found:
      return make_refusal(404, "not-found", "Not found", status.message());
    case Code::invalid_argument:
      return make_refusal(400, "invalid-request", "Invalid request", status.message());
    case Code::unauthorized:
      return make_refusal(401, "unauthorized", "Not authorised", status.message());
    case Code::forbidden:
      return make_refusal(403, "forbidden", "Forbidden", status.message());
    case Code::conflict:
      return make_refusal(409, "conflict", "Conflict", status.message());
    case Code::limit_exceeded:
      return make_refusal(429, "limit-exceeded", "Limit exceeded", status.message());
    case Code::too_large:
      return make_refusal(413, "too-large", "Too large", status.message());
    case Code::unavailable:
      return make_refusal(503, "unavailable", "Temporarily unavailable", status.message(), 5);
    case Code::corruption:
    case Code::io_error:
    case Code::ok:
      break;
  }
  return make_refusal(500, "internal", "Internal error", status.message());
}

OriginService::OriginService(Parts parts)
    : parts_(parts),
      holds_per_account_(parts.config.holds_per_account_per_min, limits::rate_limit_keys_max),
      holds_per_address_(parts.config.holds_per_address_per_min, limits::rate_limit_keys_max),
      metrics_{
          parts.metrics.counter("dropgate_claims_total", "Claims recorded."),
          parts.metrics.counter("dropgate_holds_total", "Holds created."),
          parts.metrics.counter("dropgate_holds_expired_total", "Holds that expired unconfirmed."),
          parts.metrics.counter("dropgate_sold_out_refusals_total",
                                "Claims and holds refused: sold out."),
          parts.metrics.counter("dropgate_downloads_total", "Downloads by result.",
                                {{"result", "completed"}}),
          parts.metrics.counter("dropgate_downloads_total", "Downloads by result.",
                                {{"result", "failed"}}),
          parts.metrics.counter("dropgate_download_bytes_total", "Body bytes sent for downloads."),
          parts.metrics.counter("dropgate_tokens_issued_total", "Tokens signed."),
      } {}

store::DropState OriginService::effective_state(const store::Drop& drop, int64_t now_ms) {
  if (drop.state == store::DropState::scheduled && now_ms >= drop.spec.opens_at_ms) {
    return store::DropState::live;
  }
  return drop.state;
}

// ---------------------------------------------------------------- cache

Outcome<OriginService::CachedDrop> OriginService::load_drop(std::string_view slug, bool fresh) {
  int64_t now_ms = parts_.clock.now_ms();
  if (!fresh) {
    std::lock_guard lock(cache_mutex_);
    auto it = cache_.find(slug);
    if (it != cache_.end() && now_ms - it->second.loaded_at_ms < to_ms(limits::drop_cache_ttl))
      return it->second;
  }
  if (Status s = core::validate_slug(slug); !s.ok()) return refuse(s);
  auto drop = parts_.store.get_drop(slug);
  if (!drop) return refuse(drop.error());
  CachedDrop cached{*drop, nullptr, "", now_ms};
  if (drop->manifest_version > 0) {
    auto record = parts_.store.current_manifest(drop->id);
    if (!record) return refuse(record.error());
    auto manifest = core::parse_manifest(record->json);
    if (!manifest)
      return refuse(Status(Code::corruption, "stored manifest: " + manifest.error().message()));
    cached.manifest = std::make_shared<const core::Manifest>(std::move(*manifest));
    cached.manifest_sha256 = record->sha256;
  }
  std::lock_guard lock(cache_mutex_);
  cache_[std::string(slug)] = cached;
  return cached;
}

void OriginService::forget_drop(std::string_view slug) {
  std::lock_guard lock(cache_mutex_);
  if (auto it = cache_.find(slug); it != cache_.end()) cache_.erase(it);
}

// ---------------------------------------------------------------- operator

Outcome<store::Drop> OriginService::create_drop(const store::DropSpec& spec) {
  auto drop = parts_.store.create_drop(spec, parts_.clock.now_ms());
  if (!drop) return refuse(drop.error());
  log::info("drop created", {{"drop", spec.slug}, {"edition", spec.edition_size}});
  return *drop;
}

Outcome<store::Drop> OriginService::update_drop(std::string_view slug,
                                                const store::DropSpec& spec) {
  auto drop = parts_.store.update_drop(slug, spec, parts_.clock.now_ms());
  forget_drop(slug);
  if (!drop) return refuse(drop.error());
  return *drop;
}

Outcome<store::DropSpec> OriginService::current_spec(std::string_view slug) {
  auto cached = load_drop(slug, true);
  if (!cached) return std::unexpected(cached.error());
  return cached->drop.spec;
}

Outcome<store::AssetRecord> OriginService::add_asset(std::string_view slug, std::string_view path,
                                                     const std::filesystem::path& spooled_file,
                                                     uint64_t size_bytes, std::string_view sha256,
                                                     std::string_view media_type) {
  if (Status s = core::validate_asset_path(path); !s.ok()) return refuse(s);
  if (Status s = core::validate_media_type(media_type); !s.ok()) return refuse(s);
  auto cached = load_drop(slug, true);
  if (!cached) return std::unexpected(cached.error());
  if (cached->drop.state == store::DropState::closed) {
    return refuse(409, "drop-closed", "Drop is closed", "a closed drop takes no new files");
  }
  if (Status s = parts_.blobs.adopt(spooled_file, sha256); !s.ok()) return refuse(s);
  store::AssetRecord asset{std::string(path), size_bytes, std::string(sha256),
                           std::string(media_type)};
  if (Status s = parts_.store.put_asset(cached->drop.id, asset); !s.ok()) return refuse(s);
  log::info("asset stored", {{"drop", std::string(slug)},
                             {"path", std::string(path)},
                             {"bytes", size_bytes},
                             {"sha256", std::string(sha256)}});
  return asset;
}

Outcome<store::Drop> OriginService::remove_asset(std::string_view slug, std::string_view path) {
  auto cached = load_drop(slug, true);
  if (!cached) return std::unexpected(cached.error());
  if (Status s = parts_.store.delete_asset(cached->drop.id, path); !s.ok()) return refuse(s);
  return cached->drop;
}

Outcome<PublishOutcome> OriginService::publish(std::string_view slug) {
  auto cached = load_drop(slug, true);
  if (!cached) return std::unexpected(cached.error());
  const store::Drop& drop = cached->drop;
  if (drop.state == store::DropState::closed) {
    return refuse(409, "drop-closed", "Drop is closed", "a closed drop cannot be published again");
  }
  auto assets = parts_.store.list_assets(drop.id);
  if (!assets) return refuse(assets.error());
  if (assets->empty()) {
    return refuse(409, "no-assets", "Nothing to publish",
                  "upload at least one file before publishing");
  }
  int64_t now_ms = parts_.clock.now_ms();
  core::Manifest m;
  m.drop = drop.spec.slug;
  m.version = drop.manifest_version + 1;
  m.issued_at_ms = now_ms;
  m.expires_at_ms = now_ms + to_ms(parts_.config.manifest_ttl);
  m.edition_size = drop.spec.edition_size;
  m.window = {drop.spec.opens_at_ms, drop.spec.closes_at_ms};
  m.rights = drop.spec.rights;
  for (const auto& a : *assets) m.assets.push_back({a.path, a.size_bytes, a.sha256, a.media_type});
  // Nothing changed: a new version would only make edges fetch and verify
  // the same content again. It is re-signed once half its lifetime is gone,
  // so that republishing keeps a manifest from expiring.
  const core::Manifest* current = cached->manifest.get();
  if (current != nullptr && same_content(*current, m) &&
      current->expires_at_ms - now_ms > (m.expires_at_ms - now_ms) / 2) {
    auto record = parts_.store.current_manifest(drop.id);
    if (!record) return refuse(record.error());
    log::info("publish: nothing changed",
              {{"drop", std::string(slug)}, {"version", record->version}});
    return PublishOutcome{std::move(*record), false};
  }
  auto signed_manifest = core::sign_manifest(m, parts_.signer.key());
  if (!signed_manifest) return refuse(signed_manifest.error());
  store::ManifestRecord record{m.version, signed_manifest->json, signed_manifest->minisig,
                               hex_encode(crypto::sha256(as_bytes(signed_manifest->json))), now_ms};
  if (Status s = parts_.store.publish_manifest(drop.id, record); !s.ok()) return refuse(s);
  if (drop.state == store::DropState::draft) {
    auto moved = parts_.store.set_drop_state(slug, {store::DropState::draft},
                                             store::DropState::scheduled, now_ms);
    if (!moved) return refuse(moved.error());
  }
  forget_drop(slug);
  log::info("manifest published", {{"drop", std::string(slug)}, {"version", m.version}});
  return PublishOutcome{std::move(record), true};
}

Outcome<store::Drop> OriginService::transition(std::string_view slug,
                                               std::vector<store::DropState> from,
                                               store::DropState to) {
  auto drop = parts_.store.set_drop_state(slug, std::move(from), to, parts_.clock.now_ms());
  forget_drop(slug);
  if (!drop) {
    if (drop.error().code() == Code::conflict) {
      return refuse(409, "invalid-transition", "State change not allowed", drop.error().message());
    }
    return refuse(drop.error());
  }
  log::info("drop state changed",
            {{"drop", std::string(slug)}, {"state", store::drop_state_name(to)}});
  return *drop;
}

Outcome<store::Drop> OriginService::pause(std::string_view slug) {
  return transition(slug, {store::DropState::scheduled, store::DropState::live},
                    store::DropState::paused);
}

Outcome<store::Drop> OriginService::resume(std::string_view slug) {
  return transition(slug, {store::DropState::paused}, store::DropState::live);
}

Outcome<store::Drop> OriginService::close(std::string_view slug) {
  return transition(slug,
                    {store::DropState::scheduled, store::DropState::live, store::DropState::paused},
                    store::DropState::closed);
}

Outcome<std::string> OriginService::list_drops_json(std::string_view after_slug,
                                                    uint32_t count_max) {
  auto drops = parts_.store.list_drops(after_slug, count_max);
  if (!drops) return refuse(drops.error());
  boost::json::array out;
  int64_t now_ms = parts_.clock.now_ms();
  for (const auto& d : *drops) {
    auto claims = parts_.store.claim_count(d.id);
    if (!claims) return refuse(claims.error());
    auto entry = drop_json(d, effective_state(d, now_ms));
    entry["claimed"] = *claims;
    out.push_back(std::move(entry));
  }
  // A full page may have a successor; a short one is the last.
  boost::json::value next_after = nullptr;
  if (!drops->empty() && drops->size() == std::min(count_max, limits::drops_page_count_max)) {
    next_after = drops->back().spec.slug;
  }
  return boost::json::serialize(
      boost::json::object{{"drops", std::move(out)}, {"next_after", next_after}});
}

Outcome<std::string> OriginService::operator_status_json(std::string_view slug) {
  auto cached = load_drop(slug, true);
  if (!cached) return std::unexpected(cached.error());
  const auto& drop = cached->drop;
  int64_t now_ms = parts_.clock.now_ms();
  auto claims = parts_.store.claim_count(drop.id);
  auto held = parts_.store.live_hold_count(drop.id, now_ms);
  auto unleased = parts_.store.unleased_count(drop.id);
  auto assets = parts_.store.list_assets(drop.id);
  auto downloads = parts_.store.count_events(drop.id, "download.completed");
  if (!claims || !held || !unleased || !assets || !downloads) {
    return refuse(Status(Code::unavailable, "store unavailable"));
  }
  auto out = drop_json(drop, effective_state(drop, now_ms));
  out["claimed"] = *claims;
  add_availability(out, drop, *claims, *held);
  out["unleased"] = *unleased;
  out["downloads_completed"] = *downloads;
  boost::json::array files;
  for (const auto& a : *assets) {
    files.push_back(boost::json::object{
        {"path", a.path}, {"size", a.size_bytes}, {"sha256", a.sha256}, {"type", a.media_type}});
  }
  out["draft_assets"] = std::move(files);
  return boost::json::serialize(out);
}

// ---------------------------------------------------------------- public

Outcome<std::string> OriginService::public_drop_json(std::string_view slug) {
  auto cached = load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  if (cached->drop.state == store::DropState::draft) {
    return refuse(404, "not-found", "Not found", "no published drop \"" + std::string(slug) + "\"");
  }
  int64_t now_ms = parts_.clock.now_ms();
  auto claims = parts_.store.claim_count(cached->drop.id);
  if (!claims) return refuse(claims.error());
  auto held = parts_.store.live_hold_count(cached->drop.id, now_ms);
  if (!held) return refuse(held.error());
  const auto& drop = cached->drop;
  auto out = drop_json(drop, effective_state(drop, now_ms));
  add_availability(out, drop, *claims, *held);
  out["manifest_url"] = "/v1/drops/" + drop.spec.slug + "/manifest.json";
  return boost::json::serialize(out);
}

Outcome<store::ManifestRecord> OriginService::current_manifest(std::string_view slug) {
  auto cached = load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  if (cached->drop.manifest_version == 0) {
    return refuse(404, "not-published", "Not published yet", "this drop has no manifest yet");
  }
  auto record = parts_.store.current_manifest(cached->drop.id);
  if (!record) return refuse(record.error());
  return *record;
}

std::string OriginService::keyring_json() const {
  return parts_.keyring.to_json();
}

// ---------------------------------------------------------------- claims

std::optional<Outcome<Replay>> OriginService::replay(const Idempotency& idem) {
  if (idem.key.empty()) return std::nullopt;
  auto record = parts_.store.get_idempotency(idem.scope, idem.key);
  if (!record) {
    if (record.error().code() == Code::not_found) return std::nullopt;
    return refuse(record.error());
  }
  return answer_from(*record, idem);
}

std::optional<Outcome<Replay>> OriginService::answer_from(const store::IdempotencyRecord& record,
                                                          const Idempotency& idem) {
  if (record.request_sha256 != idem.request_sha256) {
    return refuse(422, "idempotency-key-reused", "Idempotency-Key reused",
                  "this Idempotency-Key was used with a different request; use a new key");
  }
  if (record.response_status == 0) {
    return refuse(409, "idempotency-in-flight", "Request in progress",
                  "a request with this Idempotency-Key is still being answered; retry shortly", 1);
  }
  if (record.response_body.starts_with(kClaimRecordPrefix)) return rebuild_claim_answer(record);
  return Replay{record.response_status, record.response_body};
}

std::optional<Outcome<Replay>> OriginService::reserve_idempotency(const Idempotency& idem,
                                                                  std::string_view owner) {
  store::IdempotencyRecord marker{idem.scope, idem.key, idem.request_sha256,
                                  0,          "",       parts_.clock.now_ms()};
  auto reservation = parts_.store.reserve_idempotency(marker, owner);
  if (!reservation) return refuse(reservation.error());
  if (reservation->state == store::Store::IdempotencyState::reserved) return std::nullopt;
  return answer_from(reservation->record, idem);
}

Status OriginService::settle_idempotency(const Idempotency& idem, std::string_view owner,
                                         unsigned status, const std::string* body_json) {
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
Outcome<Replay> OriginService::rebuild_claim_answer(const store::IdempotencyRecord& record) {
  std::string text = record.response_body;
  text.replace(0, kClaimRecordPrefix.size(), "{");
  auto o = json::parse_object(text, limits::identifier_bytes_max * 4);
  if (!o) return refuse(Status(Code::corruption, "stored claim answer: " + o.error().message()));
  auto drop_id = json::get_int(*o, "drop_id", "claim record", 1, INT64_MAX);
  auto serial = json::get_int(*o, "serial", "claim record", 1, limits::edition_size_max);
  auto version = json::get_int(*o, "ver", "claim record", 1, INT64_MAX);
  auto ttl_s = json::get_int(*o, "ttl_s", "claim record", 1, to_s(limits::download_token_ttl_max));
  auto jti = json::get_string(*o, "jti", "claim record", limits::identifier_bytes_max);
  for (const Status* s : {drop_id ? nullptr : &drop_id.error(), serial ? nullptr : &serial.error(),
                          version ? nullptr : &version.error(), ttl_s ? nullptr : &ttl_s.error(),
                          jti ? nullptr : &jti.error()}) {
    if (s) return refuse(Status(Code::corruption, "stored claim answer: " + s->message()));
  }
  auto drop = parts_.store.get_drop_by_id(*drop_id);
  if (!drop) return refuse(drop.error());
  auto claim = parts_.store.get_claim(*drop_id, static_cast<uint32_t>(*serial));
  if (!claim) return refuse(claim.error());
  auto manifest_record = parts_.store.get_manifest(*drop_id, *version);
  if (!manifest_record) return refuse(manifest_record.error());
  auto manifest = core::parse_manifest(manifest_record->json);
  if (!manifest)
    return refuse(Status(Code::corruption, "stored manifest: " + manifest.error().message()));
  core::DownloadFields download_fields{
      claim->account, drop->spec.slug, *version, {"*"}, claim->cert_id};
  auto download = core::issue_download(parts_.signer, download_fields, claim->claimed_at_ms,
                                       static_cast<uint32_t>(*ttl_s), nullptr, *jti);
  if (!download) return refuse(download.error());
  return Replay{
      record.response_status,
      claim_answer_json(parts_.config.public_url, *drop, *manifest, claim->serial, claim->account,
                        core::owner_id(parts_.owner_secret, drop->spec.slug, claim->account),
                        claim->claimed_at_ms, claim->cert_token, *download)};
}

std::optional<Refusal> OriginService::check_claimable(const CachedDrop& cached,
                                                      const ClaimRequest& request, int64_t now_ms) {
  const store::Drop& drop = cached.drop;
  switch (effective_state(drop, now_ms)) {
    case store::DropState::draft:
      return make_refusal(403, "window-not-open", "Not on sale yet", "this drop is not published");
    case store::DropState::scheduled:
      return make_refusal(403, "window-not-open", "Not on sale yet",
                          "sales open at " + format_rfc3339(drop.spec.opens_at_ms));
    case store::DropState::paused:
      return make_refusal(503, "drop-paused", "Sales are paused",
                          "the seller paused this drop; try again shortly", 30);
    case store::DropState::closed:
      return make_refusal(403, "window-closed", "Sales are closed", "this drop is closed");
    case store::DropState::live:
      break;
  }
  if (drop.spec.closes_at_ms && now_ms >= *drop.spec.closes_at_ms) {
    return make_refusal(403, "window-closed", "Sales are closed",
                        "sales closed at " + format_rfc3339(*drop.spec.closes_at_ms));
  }
  if (!cached.manifest) {
    return make_refusal(403, "window-not-open", "Not on sale yet", "this drop has no manifest");
  }
  const core::Rights& rights = drop.spec.rights;
  bool restricted = !rights.territories_allowed.empty() || !rights.territories_denied.empty();
  if (restricted && request.territory.empty()) {
    return make_refusal(400, "territory-required", "Territory required",
                        "this drop is sold only in some territories; give the buyer's territory");
  }
  if (!request.territory.empty() && !rights.allows_territory(request.territory)) {
    return make_refusal(451, "territory-denied", "Not available in this territory",
                        "this drop is not offered in " + request.territory);
  }
  return std::nullopt;
}

Outcome<ClaimOutcome> OriginService::claim(std::string_view slug, const ClaimRequest& request,
                                           const Idempotency& idem) {
  if (Status s = core::validate_identifier(request.account, "account"); !s.ok()) return refuse(s);
  auto cached = load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  if (auto refusal = check_claimable(*cached, request, parts_.clock.now_ms())) {
    return std::unexpected(*refusal);
  }
  for (uint32_t attempt = 0; attempt < limits::claim_serial_attempts_max; ++attempt) {
    auto serial = parts_.seller.take(cached->drop.id);
    if (!serial) {
      if (serial.error().code() == Code::conflict) {
        metrics_.sold_out.inc();
        return refuse(
            409, "sold-out", "Sold out",
            "all " + std::to_string(cached->drop.spec.edition_size) + " serials are taken");
      }
      return refuse(serial.error());
    }
    auto outcome = finish_claim(*cached, *serial, request, idem, std::nullopt);
    if (outcome || outcome.error().type != "serial-taken") return outcome;
    // The serial was taken after all (it must not happen; UNIQUE caught it): try the next.
    log::warn("serial already claimed; taking another",
              {{"drop", std::string(slug)}, {"serial", *serial}});
  }
  return refuse(503, "busy", "Busy", "could not find a free serial; try again", 1);
}

Outcome<ClaimOutcome> OriginService::finish_claim(const CachedDrop& cached, uint32_t serial,
                                                  const ClaimRequest& request,
                                                  const Idempotency& idem,
                                                  std::optional<int64_t> hold_id) {
  const store::Drop& drop = cached.drop;
  // Announced before signing, so that a batch about to be written waits for
  // this claim rather than leaving it to the next commit.
  ClaimCommitter::Announcement announcement = parts_.committer.announce();
  int64_t now_ms = parts_.clock.now_ms();
  // Certificates are public by serial, so they name the owner by a pseudonym.
  std::string owner = core::owner_id(parts_.owner_secret, drop.spec.slug, request.account);
  core::CertFields cert_fields{
      owner,           drop.spec.slug, serial, drop.spec.edition_size, cached.manifest_sha256,
      drop.spec.rights};
  std::string cert_id;
  auto cert = core::issue_cert(parts_.signer, cert_fields, now_ms, &cert_id);
  // The download token names its certificate, so edges refuse it once the
  // certificate is on the revocation list.
  core::DownloadFields download_fields{
      request.account, drop.spec.slug, drop.manifest_version, {"*"}, cert_id};
  std::string download_id;
  auto download = core::issue_download(
      parts_.signer, download_fields, now_ms,
      static_cast<uint32_t>(to_s(parts_.config.download_token_ttl)), &download_id);
  if (!cert || !download) {
    if (!hold_id) parts_.seller.give_back(drop.id, serial);
    return refuse(!cert ? cert.error() : download.error());
  }
  std::string body_json =
      claim_answer_json(parts_.config.public_url, drop, *cached.manifest, serial, request.account,
                        owner, now_ms, *cert, *download);

  store::ClaimInsert insert;
  insert.drop_id = drop.id;
  insert.serial = serial;
  insert.account = request.account;
  insert.source = request.source;
  insert.payment_ref = request.payment_ref;
  insert.cert_id = cert_id;
  insert.cert_token = *cert;
  insert.per_buyer_limit = drop.spec.per_buyer_limit;
  insert.at_ms = now_ms;
  insert.from_hold_id = hold_id;
  // The store checks the serial is still in this seller's lease, so a serial
  // reclaimed from under a process wrongly thought dead cannot be sold twice.
  if (!hold_id) insert.seller_id = parts_.seller.id();
  if (!idem.key.empty()) {
    boost::json::object rebuild{{"drop_id", drop.id},
                                {"serial", serial},
                                {"ver", drop.manifest_version},
                                {"ttl_s", to_s(parts_.config.download_token_ttl)},
                                {"jti", download_id}};
    std::string record = boost::json::serialize(rebuild);
    record.replace(0, 1, kClaimRecordPrefix);
    insert.idempotency = store::IdempotencyRecord{
        idem.scope, idem.key, idem.request_sha256, 201, std::move(record), now_ms};
  }
  // One event per claim: the tokens signed with it are named in it rather
  // than written as events of their own (two rows fewer per claim).
  boost::json::object detail{{"source", store::claim_source_name(request.source)},
                             {"tokens", boost::json::array{"cert", "download"}}};
  insert.events = {
      {"claim", drop.id, serial, request.account, boost::json::serialize(detail), now_ms, ""}};
  auto claim = parts_.committer.commit(std::move(insert), std::move(announcement));
  if (claim) {
    metrics_.claims.inc();
    metrics_.tokens_issued.inc(2);
    return ClaimOutcome{201, std::move(body_json)};
  }
  const Status& failure = claim.error();
  if (!hold_id) parts_.seller.give_back(drop.id, serial);
  if (failure.code() == Code::limit_exceeded) {
    return refuse(429, "per-buyer-limit", "Per-buyer limit reached",
                  "this account already holds " + std::to_string(drop.spec.per_buyer_limit) +
                      " of this drop");
  }
  if (failure.code() == Code::conflict) {
    // The Idempotency-Key was used (a retry, or a race with the same key):
    // answer as its first use did, or 422 if that was another request.
    if (auto replayed = replay(idem)) {
      if (!*replayed) return std::unexpected(replayed->error());
      return ClaimOutcome{(*replayed)->status, (*replayed)->body};
    }
    if (hold_id)
      return refuse(409, "hold-gone", "Hold expired", "the hold expired or was already used");
    return refuse(409, "serial-taken", "Serial taken", failure.message());
  }
  return refuse(failure);
}

Outcome<HoldOutcome> OriginService::hold(std::string_view slug, const ClaimRequest& request,
                                         std::string_view client_address) {
  if (Status s = core::validate_identifier(request.account, "account"); !s.ok()) return refuse(s);
  int64_t now_ms = parts_.clock.now_ms();
  if (uint32_t wait_s = holds_per_address_.take(client_address, now_ms); wait_s > 0) {
    return refuse(429, "too-many-holds", "Too many holds",
                  "too many holds from this address; retry in " + std::to_string(wait_s) + " s",
                  wait_s);
  }
  if (uint32_t wait_s = holds_per_account_.take(request.account, now_ms); wait_s > 0) {
    return refuse(429, "too-many-holds", "Too many holds",
                  "too many holds for this account; retry in " + std::to_string(wait_s) + " s",
                  wait_s);
  }
  auto cached = load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  if (auto refusal = check_claimable(*cached, request, now_ms)) return std::unexpected(*refusal);
  auto held = parts_.store.account_claim_count(cached->drop.id, request.account);
  if (held && *held >= cached->drop.spec.per_buyer_limit) {
    return refuse(429, "per-buyer-limit", "Per-buyer limit reached",
                  "this account already holds its share of this drop");
  }
  auto serial = parts_.seller.take(cached->drop.id);
  if (!serial) {
    if (serial.error().code() == Code::conflict) {
      metrics_.sold_out.inc();
      return refuse(409, "sold-out", "Sold out", "every serial is claimed or held");
    }
    return refuse(serial.error());
  }
  int64_t expires_at_ms = now_ms + to_ms(parts_.config.hold_ttl);
  auto hold =
      parts_.store.create_hold(cached->drop.id, *serial, request.account, parts_.seller.id(),
                               expires_at_ms, now_ms, cached->drop.spec.per_buyer_limit);
  if (!hold) {
    parts_.seller.give_back(cached->drop.id, *serial);
    if (hold.error().code() == Code::limit_exceeded) {
      return refuse(429, "per-buyer-limit", "Per-buyer limit reached",
                    "this account's claims and holds already reach the limit of " +
                        std::to_string(cached->drop.spec.per_buyer_limit) + " for this drop");
    }
    return refuse(hold.error());
  }
  metrics_.holds.inc();
  (void)parts_.store.append_events(
      {{"hold.created", cached->drop.id, *serial, request.account,
        R"({"hold_id":)" + std::to_string(hold->id) + "}", now_ms, ""}});
  boost::json::object body{{"hold_id", hold->id},
                           {"drop", cached->drop.spec.slug},
                           {"serial", *serial},
                           {"account", request.account},
                           {"expires_at", format_rfc3339(expires_at_ms)},
                           {"confirm_url", "/v1/holds/" + std::to_string(hold->id) + "/confirm"}};
  return HoldOutcome{*hold, boost::json::serialize(body)};
}

Outcome<ClaimOutcome> OriginService::confirm_hold(int64_t hold_id, const std::string& payment_ref,
                                                  const Idempotency& idem) {
  auto hold = parts_.store.get_hold(hold_id);
  if (!hold) {
    if (hold.error().code() == Code::not_found) {
      return refuse(409, "hold-gone", "Hold expired",
                    "no such hold: it expired, was used, or never existed");
    }
    return refuse(hold.error());
  }
  if (hold->expires_at_ms <= parts_.clock.now_ms()) {
    return refuse(409, "hold-gone", "Hold expired",
                  "the hold expired at " + format_rfc3339(hold->expires_at_ms));
  }
  auto drop = parts_.store.get_drop_by_id(hold->drop_id);
  if (!drop) return refuse(drop.error());
  auto cached = load_drop(drop->spec.slug);
  if (!cached) return std::unexpected(cached.error());
  ClaimRequest request{hold->account, "", store::ClaimSource::payment, payment_ref};
  // The window and state were checked when the hold was made; a buyer who paid
  // within the hold gets the serial even if the window closed meanwhile.
  return finish_claim(*cached, hold->serial, request, idem, hold_id);
}

void OriginService::tick() {
  auto expired = parts_.seller.tick();
  if (!expired) {
    log::warn("seller tick failed", {{"error", expired.error().to_string()}});
    return;
  }
  if (expired->empty()) return;
  std::vector<store::Event> events;
  for (const auto& h : *expired) {
    events.push_back({"hold.expired", h.drop_id, h.serial, h.account,
                      R"({"hold_id":)" + std::to_string(h.id) + "}", parts_.clock.now_ms(), ""});
  }
  metrics_.holds_expired.inc(expired->size());
  (void)parts_.store.append_events(events);
}

// ---------------------------------------------------------------- delivery

Outcome<Delivery> OriginService::resolve_download(std::string_view slug, std::string_view path,
                                                  std::string_view token_untrusted) {
  if (token_untrusted.empty()) {
    return refuse(401, "token-required", "Download token required",
                  "pass ?token=… or Authorization: Bearer …");
  }
  core::VerifyOptions options{parts_.clock.now_ms(), parts_.config.clock_skew,
                              parts_.config.issuer};
  auto token = core::verify_download(parts_.keyring, token_untrusted, options);
  if (!token)
    return refuse(401, "token-refused", "Download token refused", token.error().message());
  if (token->fields.drop != slug) {
    return refuse(403, "token-wrong-drop", "Token is for another drop",
                  "this token is for \"" + token->fields.drop + "\"");
  }
  auto cached = load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  // A token is for one manifest version (docs/formats/tokens.md): after a new
  // publish its files may have changed, so the buyer asks for a fresh link; a
  // version that does not exist yet was never issued by this origin.
  int64_t token_version = token->fields.manifest_version;
  int64_t current_version = cached->drop.manifest_version;
  if (token_version < current_version) {
    return refuse(401, "token-stale", "Download link out of date",
                  "this link is for version " + std::to_string(token_version) +
                      " of the drop, but version " + std::to_string(current_version) +
                      " is current; ask for a fresh link");
  }
  if (token_version > current_version) {
    return refuse(401, "token-refused", "Download token refused",
                  "this token is for version " + std::to_string(token_version) +
                      " of the drop, but version " + std::to_string(current_version) +
                      " is the latest");
  }
  if (!token->fields.cert_id.empty()) {
    // The same rule an edge applies with its synced list: a revoked claim downloads nothing.
    bool revoked = false;
    if (revocation_list()) {
      std::lock_guard lock(revocations_mutex_);
      revoked = revoked_cert_ids_.contains(token->fields.cert_id);
    }
    if (revoked) {
      return refuse(403, "certificate-revoked", "Certificate revoked",
                    "the certificate behind this token was revoked");
    }
  }
  if (!token->allows(path)) {
    return refuse(403, "token-wrong-asset", "Token does not cover this file", std::string(path));
  }
  if (!cached->manifest) return refuse(404, "not-found", "Not found", "no such file");
  // The manifest's path list is the only way from a name to a file.
  for (const auto& asset : cached->manifest->assets) {
    if (asset.path != path) continue;
    return Delivery{parts_.blobs.path_of(asset.sha256), asset, token->fields.account,
                    token->common.token_id, cached->drop.id};
  }
  return refuse(404, "not-found", "Not found",
                "this drop has no file \"" + std::string(path) + "\"");
}

void OriginService::record_download_started(const Delivery& d, uint64_t offset_bytes) {
  boost::json::object detail{{"path", d.asset.path}, {"offset", offset_bytes}, {"jti", d.token_id}};
  (void)parts_.store.append_events({{"download.started", d.drop_id, std::nullopt, d.account,
                                     boost::json::serialize(detail), parts_.clock.now_ms(), ""}});
}

void OriginService::record_download(const Delivery& d, bool complete, bool reaches_end,
                                    uint64_t bytes_sent) {
  if (complete && reaches_end) metrics_.downloads_completed.inc();
  if (!complete) metrics_.downloads_failed.inc();
  metrics_.download_bytes.inc(bytes_sent);
  boost::json::object detail{{"path", d.asset.path}, {"bytes", bytes_sent}, {"jti", d.token_id}};
  std::string kind = !complete     ? "download.failed"
                     : reaches_end ? "download.completed"
                                   : "download.partial";
  (void)parts_.store.append_events({{kind, d.drop_id, std::nullopt, d.account,
                                     boost::json::serialize(detail), parts_.clock.now_ms(), ""}});
}

// ---------------------------------------------------------------- certificates

Outcome<std::string> OriginService::certificate_json(std::string_view slug, uint32_t serial) {
  auto cached = load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  auto claim = parts_.store.get_claim(cached->drop.id, serial);
  if (!claim) {
    if (claim.error().code() == Code::not_found) {
      return refuse(404, "not-found", "No such certificate",
                    "serial " + std::to_string(serial) + " is not claimed");
    }
    return refuse(claim.error());
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

Outcome<std::string> OriginService::revoke(std::string_view slug, uint32_t serial,
                                           std::string_view reason) {
  auto cached = load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  auto revocation =
      parts_.store.revoke_claim(cached->drop.id, serial, reason, parts_.clock.now_ms());
  if (!revocation) return refuse(revocation.error());
  {
    std::lock_guard lock(revocations_mutex_);
    revocations_.reset();  // the next fetch re-signs with this revocation on it
  }
  (void)parts_.store.append_events(
      {{"claim.revoked", cached->drop.id, serial, "",
        boost::json::serialize(boost::json::object{{"reason", reason}}), parts_.clock.now_ms(),
        ""}});
  return boost::json::serialize(
      boost::json::object{{"certificate_id", revocation->cert_id},
                          {"serial", serial},
                          {"revoked_at", format_rfc3339(revocation->revoked_at_ms)}});
}

Outcome<SignedList> OriginService::revocation_list() {
  std::lock_guard lock(revocations_mutex_);
  int64_t now_ms = parts_.clock.now_ms();
  if (revocations_ &&
      now_ms - revocations_signed_at_ms_ < to_ms(limits::revocation_list_resign_after))
    return *revocations_;
  auto revocations = parts_.store.list_revocations();
  if (!revocations) return refuse(revocations.error());
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
  if (!json) return refuse(json.error());
  std::string comment =
      "dropgate-revocations issued_at=" + format_rfc3339(now_ms) + " kid=" + parts_.signer.key_id();
  auto sig = crypto::minisign_sign(parts_.signer.key(), as_bytes(*json), comment,
                                   "dropgate revocation list");
  if (!sig) return refuse(sig.error());
  revocations_ = SignedList{std::move(*json), std::move(*sig)};
  revocations_signed_at_ms_ = now_ms;
  return *revocations_;
}

}  // namespace dg::origin
