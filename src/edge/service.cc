#include "edge/service.h"

#include <boost/json.hpp>
#include <charconv>

#include "base/encoding.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/problem_types.h"
#include "base/spare_string.h"
#include "base/time.h"
#include "crypto/keys.h"
#include "edge/zip.h"
#include "http/scrape.h"

namespace dg::edge {
namespace {

using http::Request;
using http::Response;

// Why the verifier turned a token away, as the "reason" member of its
// token-refused problem and its metric label says it.
std::string_view token_failure_reason(const Status& status) {
  const std::string& m = status.message();
  if (status.code() == Code::invalid_argument || status.code() == Code::limit_exceeded)
    return "malformed";
  if (m.find("expired") != std::string::npos) return "expired";
  if (m.find("not valid before") != std::string::npos || m.find("future") != std::string::npos)
    return "not_yet_valid";
  if (m.find("unknown key") != std::string::npos) return "unknown_key";
  if (m.find("revoked") != std::string::npos) return "revoked_key";
  if (m.find("token is needed") != std::string::npos) return "wrong_purpose";
  if (m.find("signature") != std::string::npos) return "bad_signature";
  return "refused";
}

// The archive as a response: deterministic bytes, so ETag, If-Range and Range
// work as for a file and a broken download resumes where it stopped.
Response serve_zip(const Request& request, const ZipPlan& plan, const std::string& manifest_sha256,
                   const std::string& filename) {
  const uint64_t total = plan.total_bytes();
  const std::string etag =
      "\"zip" + std::to_string(zip_layout_version) + "-" + manifest_sha256 + "\"";
  Response response;
  response.headers.set(http::Field::content_type, "application/zip");
  response.headers.set(http::Field::etag, etag);
  response.headers.set(http::Field::accept_ranges, "bytes");
  response.headers.set(http::Field::content_disposition,
                       "attachment; filename=\"" + filename + "\"");
  std::string_view if_none_match = request.header(http::Field::if_none_match);
  if (!if_none_match.empty() &&
      (if_none_match == "*" || if_none_match.find(etag) != std::string_view::npos)) {
    response.status = 304;
    return response;
  }
  std::string_view range = request.header(http::Field::range);
  std::string_view if_range = request.header(http::Field::if_range);
  if (!range.empty() && (if_range.empty() || if_range == etag)) {
    auto parsed = http::parse_range(range, total);
    if (!parsed) {
      Response refused = http::problem_from_status(Status(
          problem::range_not_satisfiable, "the archive is " + std::to_string(total) + " bytes"));
      refused.headers.set(http::Field::content_range, "bytes */" + std::to_string(total));
      return refused;
    }
    if (*parsed) {
      response.status = 206;
      response.headers.set(http::Field::content_range, "bytes " + std::to_string((*parsed)->first) +
                                                           "-" + std::to_string((*parsed)->last) +
                                                           "/" + std::to_string(total));
      response.body = http::SegmentedBody{plan.segments((*parsed)->first, (*parsed)->last)};
      return response;
    }
  }
  response.body = http::SegmentedBody{plan.segments(0, total - 1)};
  return response;
}

// A download "counts" once, when its last byte was delivered: a resumed
// download's earlier ranges are partial, an interrupted one failed.
std::string_view delivery_kind(bool complete, bool reaches_end) {
  if (!complete) return "download.failed";
  return reaches_end ? "download.completed" : "download.partial";
}

// The token of "Authorization: Bearer <token>". The scheme is
// case-insensitive (RFC 9110 §11.1), as the origin reads it, and one or more
// spaces may follow it.
std::string_view bearer(const Request& r) {
  std::string_view auth = r.header(http::Field::authorization);
  constexpr std::string_view scheme = "bearer";
  if (auth.size() <= scheme.size() || auth[scheme.size()] != ' ') return {};
  for (size_t i = 0; i < scheme.size(); ++i) {
    char c = auth[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != scheme[i]) return {};
  }
  auth.remove_prefix(scheme.size());
  while (!auth.empty() && auth.front() == ' ') auth.remove_prefix(1);
  return auth;
}

}  // namespace

EdgeService::EdgeService(const EdgeConfig& config, Catalog& catalog, Vault& vault,
                         store::Outbox& outbox, metrics::Registry& metrics, const Clock& clock)
    : config_(config),
      catalog_(catalog),
      vault_(vault),
      outbox_(outbox),
      metrics_(metrics),
      clock_(clock),
      cache_(uint64_t{config.token_cache_mb_max} * 1024 * 1024, config.token_cache_entries_max),
      event_id_prefix_(crypto::random_id() + "-"),
      cache_hits_(metrics.counter("dropgate_edge_token_cache_total",
                                  "Token verifications by cache result.", {{"result", "hit"}})),
      cache_misses_(metrics.counter("dropgate_edge_token_cache_total",
                                    "Token verifications by cache result.", {{"result", "miss"}})),
      downloads_completed_(metrics.counter("dropgate_edge_downloads_total", "Downloads by result.",
                                           {{"result", "completed"}})),
      downloads_failed_(metrics.counter("dropgate_edge_downloads_total", "Downloads by result.",
                                        {{"result", "failed"}})),
      bytes_sent_(
          metrics.counter("dropgate_edge_download_bytes_total", "Body bytes sent for downloads.")),
      outbox_dropped_(metrics.counter("dropgate_edge_outbox_dropped_total",
                                      "Events dropped because the outbox was full.")) {}

namespace {

// The metric label of each reason to turn a request away that has a problem
// type of its own (docs/api/problems.md). Those the origin also has carry the
// origin's type, so a client reads one vocabulary wherever it downloads; a
// token that fails verification is token-refused, its finer reason in the
// label and the problem's "reason" member (token_failure_reason).
struct ReasonLabel {
  const ProblemType* type;
  std::string_view label;
};
constexpr ReasonLabel kReasonLabels[] = {
    {&problem::token_required, "missing"},
    {&problem::token_wrong_drop, "wrong_drop"},
    {&problem::token_wrong_asset, "wrong_asset"},
    {&problem::certificate_revoked, "revoked_certificate"},
    {&problem::token_stale, "stale"},
    {&problem::version_not_synced, "version_not_synced"},
    // Edge-only: the state of this edge, not of the token.
    {&problem::edge_no_grant, "no_grant"},
    {&problem::drop_not_carried, "not_carried"},
    {&problem::manifest_expired, "manifest_expired"},
    {&problem::blob_unavailable, "blob_unavailable"},
};

std::string_view reason_label(const ProblemType& type) {
  for (const ReasonLabel& r : kReasonLabels) {
    if (r.type == &type) return r.label;
  }
  return type.name;
}

// This edge cannot serve yet (no grant, an expired manifest, a file being
// fetched again): a retry may pass once it has synced.
Status unavailable_here(const ProblemType& type, std::string detail) {
  constexpr uint32_t kRetryAfterS = 10;
  return Status(type, std::move(detail)).with_retry_after(kRetryAfterS);
}

}  // namespace

Response EdgeService::deny(const Status& why) {
  // No problem type: the verifier's verdict on the token.
  const bool token_failed = why.type() == nullptr;
  const std::string_view reason =
      token_failed ? token_failure_reason(why) : reason_label(*why.type());
  metrics_
      .counter("dropgate_edge_token_refusals_total", "Requests refused, by reason.",
               {{"reason", std::string(reason)}})
      .inc();
  if (!token_failed) return http::problem_from_status(why);
  return http::problem_from_status(
      Status(problem::token_refused, why.message()),
      R"({"reason":")" + std::string(reason) + R"("})");  // reasons are our own words
}

Result<EdgeService::Verified> EdgeService::verify_cached(
    std::string_view token, const std::shared_ptr<const crypto::Keyring>& keyring, int64_t now_ms) {
  const std::optional<TokenCache::Key> key = cache_.key_of(token);  // none: too long, never cached
  if (key) {
    std::lock_guard lock(cache_mutex_);
    if (cache_keyring_ != keyring) {
      cache_.clear();  // a rotated or revoked key must not keep old tokens alive
      cache_keyring_ = keyring;
    }
    if (const TokenCache::Entry* cached = cache_.find(*key, now_ms)) {
      cache_hits_.inc();
      if (cached->refused) return std::unexpected(*cached->refused);  // a dead token, again
      return cached->token;
    }
  }
  cache_misses_.inc();
  if (!keyring)
    return error(unavailable_here(problem::edge_no_grant, "this edge has no origin keyring yet"));
  core::VerifyOptions options{now_ms, config_.clock_skew, config_.issuer};
  auto verified = core::verify_download(*keyring, token, options);
  if (!verified) {
    // Not yet valid may pass later. Malformed text is not worth remembering:
    // anyone can send endless different junk, and it is turned away before any
    // signature check anyway. Everything else fails for as long as the keyring stays.
    const std::string_view reason = token_failure_reason(verified.error());
    if (key && reason != "not_yet_valid" && reason != "malformed") {
      std::lock_guard lock(cache_mutex_);
      if (cache_keyring_ == keyring) cache_.put(*key, {nullptr, verified.error(), INT64_MAX});
    }
    return error(verified.error());
  }
  int64_t valid_until_ms =
      verified->common.expires_at_ms.value_or(now_ms) + to_ms(options.clock_skew);
  auto shared = std::make_shared<const core::VerifiedDownload>(std::move(*verified));
  if (!key) return shared;
  std::lock_guard lock(cache_mutex_);
  if (cache_keyring_ != keyring)
    return shared;  // the keyring changed meanwhile: not cached under the new one
  cache_.put(*key, {shared, std::nullopt, valid_until_ms});
  return shared;
}

void EdgeService::trust_own_key(const crypto::PublicKey& key) {
  std::lock_guard lock(own_key_mutex_);
  own_key_ = key;
  own_base_.reset();
}

std::shared_ptr<const crypto::Keyring> EdgeService::with_own_key(
    const std::shared_ptr<const crypto::Keyring>& origin_keyring) {
  std::lock_guard lock(own_key_mutex_);
  if (!own_key_ || !origin_keyring) return origin_keyring;
  if (own_base_ != origin_keyring) {
    auto combined = std::make_shared<crypto::Keyring>(*origin_keyring);
    // Retired: it verifies, never signs; a key the origin already lists is left as it is.
    if (!combined->verification_key(own_key_->key_id()))
      (void)combined->add(*own_key_, crypto::KeyStatus::retired);
    own_base_ = origin_keyring;
    own_keyring_ = std::move(combined);
  }
  return own_keyring_;
}

Result<EdgeService::Verified> EdgeService::authorize(const Request& request, std::string_view slug,
                                                     const Catalog::Serving& serving,
                                                     int64_t now_ms) {
  const auto& grant = serving.grant;
  if (!grant || (grant->common.expires_at_ms &&
                 now_ms > *grant->common.expires_at_ms + to_ms(config_.clock_skew))) {
    return error(
        unavailable_here(problem::edge_no_grant, "this edge holds no valid grant from its origin"));
  }
  std::string_view token = bearer(request);
  if (token.empty()) token = request.query_value("token").value_or("");
  if (token.empty())
    return error(problem::token_required, "pass ?token=… or Authorization: Bearer …");
  auto verified = verify_cached(token, with_own_key(serving.keyring), now_ms);
  if (!verified) return verified;
  const core::VerifiedDownload& download = **verified;
  if (download.fields.drop != slug) {
    return error(problem::token_wrong_drop, "this token is for \"" + download.fields.drop + "\"");
  }
  if (!download.fields.cert_id.empty() &&
      serving.revocations->certificate_ids.contains(download.fields.cert_id)) {
    return error(problem::certificate_revoked, "the certificate behind this token was revoked");
  }
  // A download token is permission for one manifest version
  // (docs/formats/tokens.md): an older one is stale, a newer one not here yet.
  if (serving.drop) {
    const int64_t token_version = download.fields.manifest_version;
    const int64_t held_version = serving.drop->manifest.version;
    if (token_version < held_version) {
      return error(problem::token_stale,
                   "this link is for version " + std::to_string(token_version) + " of \"" +
                       download.fields.drop + "\" while version " + std::to_string(held_version) +
                       " is current; ask for a fresh link");
    }
    if (token_version > held_version) {
      // The next sync brings it (sync_interval_s, 30 s or less by default).
      constexpr uint32_t kSyncRetryAfterS = 30;
      return error(Status(problem::version_not_synced,
                          "this link is for version " + std::to_string(token_version) + " of \"" +
                              download.fields.drop + "\"; this edge holds version " +
                              std::to_string(held_version) + " and has not synced it yet")
                       .with_retry_after(kSyncRetryAfterS));
    }
  }
  return verified;
}

Response EdgeService::file(Request& request) {
  std::string_view slug = request.param("slug");
  Catalog::Serving serving = catalog_.serving(slug);
  const int64_t now_ms = clock_.now_ms();
  auto token = authorize(request, slug, serving, now_ms);
  if (!token) return deny(token.error());
  auto& drop = serving.drop;
  if (!drop) {
    return deny(Status(problem::drop_not_carried,
                       "this edge does not carry \"" + std::string(slug) + "\""));
  }
  if (now_ms > drop->manifest.expires_at_ms + to_ms(config_.clock_skew)) {
    return deny(unavailable_here(problem::manifest_expired,
                                 "this edge's manifest expired; it must sync with the origin"));
  }
  std::string_view path = request.param("path");
  if (!(*token)->allows(path)) return deny(Status(problem::token_wrong_asset, std::string(path)));
  const auto& assets = drop->manifest.assets;  // sorted by path
  auto found =
      std::lower_bound(assets.begin(), assets.end(), path,
                       [](const core::Asset& a, std::string_view p) { return a.path < p; });
  if (found == assets.end() || found->path != path) {
    return http::problem_from_status(
        Status(problem::not_found, "this drop has no file \"" + std::string(path) + "\""));
  }
  const core::Asset& asset = *found;
  Vault::Blob blob = vault_.open(asset.sha256, asset.size_bytes);
  if (!blob) {
    return deny(unavailable_here(problem::blob_unavailable,
                                 "this file is being fetched again; retry shortly"));
  }
  Response response =
      blob.bytes
          ? http::file_response(request, std::move(blob.bytes), asset.sha256, asset.media_type)
          : http::file_response(request, std::move(blob.file), asset.size_bytes, asset.sha256,
                                asset.media_type);
  auto* body = std::get_if<http::FileBody>(&response.body);
  if (body && request.method == http::Verb::get) {
    bool reaches_end = body->offset + body->length == asset.size_bytes;
    // Holds the drop (and so the asset) and the token rather than copies of their text.
    response.on_done = [this, drop = std::move(drop), token = std::move(*token), asset = &asset,
                        reaches_end](bool complete, uint64_t bytes) {
      count(delivery_kind(complete, reaches_end), drop->manifest.drop, token->fields.account,
            asset->path, bytes);
    };
  }
  return response;
}

Response EdgeService::archive(Request& request) {
  std::string slug(request.param("slug"));
  Catalog::Serving serving = catalog_.serving(slug);
  const int64_t now_ms = clock_.now_ms();
  auto token = authorize(request, slug, serving, now_ms);
  if (!token) return deny(token.error());
  if (!(*token)->allows("*"))
    return deny(Status(problem::token_wrong_asset, "the archive needs a token for every file"));
  auto& drop = serving.drop;
  if (!drop)
    return deny(Status(problem::drop_not_carried, "this edge does not carry \"" + slug + "\""));
  if (now_ms > drop->manifest.expires_at_ms + to_ms(config_.clock_skew)) {
    return deny(unavailable_here(problem::manifest_expired,
                                 "this edge's manifest expired; it must sync with the origin"));
  }
  std::vector<ZipEntry> entries;
  for (const auto& a : drop->manifest.assets) {
    if (!vault_.ready(a.sha256, a.size_bytes)) {
      return deny(unavailable_here(problem::blob_unavailable,
                                   "a file is being fetched again; retry shortly"));
    }
    entries.push_back({slug + "/" + a.path, a.size_bytes, drop->crc32_by_sha256.at(a.sha256),
                       vault_.path_of(a.sha256), drop->manifest.issued_at_ms});
  }
  auto plan = ZipPlan::create(std::move(entries));
  if (!plan) return http::problem_from_status(plan.error());
  Response response = serve_zip(request, *plan, drop->manifest_sha256, slug + ".zip");
  if (request.method == http::Verb::get &&
      std::holds_alternative<http::SegmentedBody>(response.body)) {
    // A range counts as the completed download only when it delivers the last byte.
    std::string_view content_range = response.headers[http::Field::content_range];
    bool reaches_end = response.status == 200 ||
                       content_range.ends_with("-" + std::to_string(plan->total_bytes() - 1) + "/" +
                                               std::to_string(plan->total_bytes()));
    response.on_done = [this, drop = std::move(drop), token = std::move(*token), reaches_end](
                           bool complete, uint64_t bytes) {
      count(delivery_kind(complete, reaches_end), drop->manifest.drop, token->fields.account,
            "*archive*", bytes);
    };
  }
  return response;
}

Response EdgeService::manifest(Request& request) {
  auto drop = catalog_.drop(request.param("slug"));
  if (!drop)
    return http::problem_from_status(
        Status(problem::not_found, "this edge does not carry that drop"));
  auto response = http::json_response(200, drop->manifest_json);
  response.headers.set(http::Field::etag, "\"" + drop->manifest_sha256 + "\"");
  return response;
}

void EdgeService::count(std::string_view kind, std::string_view slug, std::string_view account,
                        std::string_view what, uint64_t bytes) {
  if (kind == "download.completed") downloads_completed_.inc();
  if (kind == "download.failed") downloads_failed_.inc();
  bytes_sent_.inc(bytes);
  // Written by hand, into the thread's spare buffer: this runs once per
  // download. The outbox copies what it is given.
  std::string event;
  take_spare_string(event);
  event += "{\"id\":\"";
  const size_t id_start = event.size();
  event += event_id_prefix_;
  char digits[24];
  auto digits_end =
      std::to_chars(digits, digits + sizeof digits, event_counter_.fetch_add(1) + 1).ptr;
  event.append(digits, digits_end);
  const size_t id_bytes = event.size() - id_start;
  event += "\",\"kind\":";
  append_json_string(event, kind);
  event += ",\"drop\":";
  append_json_string(event, slug);
  event += ",\"account\":";
  append_json_string(event, account);
  event += ",\"at\":\"";
  event += format_rfc3339_cached(clock_.now_ms());
  event += "\",\"detail\":{\"path\":";
  append_json_string(event, what);
  event += ",\"bytes\":";
  digits_end = std::to_chars(digits, digits + sizeof digits, bytes).ptr;
  event.append(digits, digits_end);
  event += "}}";
  Status s = outbox_.append(std::string_view(event).substr(id_start, id_bytes), event);
  give_back_spare_string(event);
  if (!s.ok()) {
    outbox_dropped_.inc();
    report_dropped_event(s);
  }
}

// A full outbox refuses every download's event: the first refusal is logged
// at once, later ones at most every limits::edge_dropped_events_log_interval with how many were
// dropped meanwhile, so the log says it loudly without a line per download.
void EdgeService::report_dropped_event(const Status& why) {
  uint64_t dropped_since = 0;
  {
    std::lock_guard lock(drop_log_mutex_);
    ++drops_unlogged_;
    int64_t now_ms = clock_.now_ms();
    if (drop_logged_at_ms_ != 0 &&
        now_ms - drop_logged_at_ms_ < to_ms(limits::edge_dropped_events_log_interval))
      return;
    drop_logged_at_ms_ = now_ms;
    dropped_since = std::exchange(drops_unlogged_, 0);
  }
  log::error("download events not recorded",
             {{"error", why.to_string()},
              {"dropped", dropped_since},
              {"next_report_in_s", to_s(limits::edge_dropped_events_log_interval)},
              {"metric", "dropgate_edge_outbox_dropped_total"}});
}

Response EdgeService::health() {
  int64_t now_ms = clock_.now_ms();
  SyncHealth h = catalog_.health();
  const bool origin_reachable = h.reachable_at(now_ms, to_ms(config_.sync_timeout));
  auto grant = catalog_.grant();
  auto revocations = catalog_.revocations();
  boost::json::array drops;
  bool serving = grant != nullptr;
  for (const auto& [slug, drop] : catalog_.drops()) {
    drops.push_back(
        boost::json::object{{"drop", slug},
                            {"version", drop->manifest.version},
                            {"files", drop->manifest.assets.size()},
                            {"expires_in_s", (drop->manifest.expires_at_ms - now_ms) / 1000},
                            {"synced_at", format_rfc3339(drop->switched_at_ms)}});
  }
  auto age_s = [&](int64_t at_ms) -> boost::json::value {
    return at_ms > 0 ? boost::json::value((now_ms - at_ms) / 1000) : boost::json::value(nullptr);
  };
  auto depth = outbox_.depth();
  boost::json::object out{{"status", !serving                                   ? "no-grant"
                                     : origin_reachable && h.last_error.empty() ? "ok"
                                                                                : "offline"},
                          {"origin_reachable", origin_reachable},
                          {"last_sync_success_age_s", age_s(h.last_success_ms)},
                          {"last_sync_attempt_age_s", age_s(h.last_attempt_ms)},
                          {"last_sync_error", h.last_error},
                          {"keyring_age_s", age_s(h.last_success_ms)},
                          {"revocation_list_age_s", age_s(revocations->issued_at_ms)},
                          {"grant_expires_in_s",
                           grant && grant->common.expires_at_ms
                               ? boost::json::value((*grant->common.expires_at_ms - now_ms) / 1000)
                               : boost::json::value(nullptr)},
                          {"outbox_depth", depth ? *depth : 0},
                          {"outbox_unwritten", outbox_.unwritten()},
                          {"drops", std::move(drops)}};
  return http::json_response(serving ? 200 : 503, boost::json::serialize(out));
}

std::string EdgeService::metrics_text() {
  int64_t now_ms = clock_.now_ms();
  SyncHealth h = catalog_.health();
  metrics_.gauge("dropgate_edge_origin_reachable", "1 when the last sync reached the origin.")
      .set(h.reachable_at(now_ms, to_ms(config_.sync_timeout)) ? 1 : 0);
  metrics_
      .gauge("dropgate_edge_sync_age_seconds",
             "Seconds since the last successful sync (keyring, manifests).")
      .set(h.last_success_ms ? static_cast<double>(now_ms - h.last_success_ms) / 1000 : -1);
  auto revocations = catalog_.revocations();
  metrics_.gauge("dropgate_edge_revocation_list_age_seconds", "Age of the revocation list held.")
      .set(revocations->issued_at_ms
               ? static_cast<double>(now_ms - revocations->issued_at_ms) / 1000
               : -1);
  auto depth = outbox_.depth();
  metrics_.gauge("dropgate_edge_outbox_depth", "Events waiting to be pushed to the origin.")
      .set(depth ? *depth : 0);
  metrics_.gauge("dropgate_edge_drops_carried", "Drops this edge serves.")
      .set(static_cast<double>(catalog_.drops().size()));
  metrics_.gauge("dropgate_edge_blobs_damaged", "Blobs found damaged on disk since start.")
      .set(static_cast<double>(vault_.damaged_count()));
  metrics_
      .gauge("dropgate_edge_blob_memory_bytes",
             "Bytes of small blobs held in memory (blob_memory_max_mb).")
      .set(static_cast<double>(vault_.held_bytes()));
  uint64_t cache_bytes = 0;
  {
    std::lock_guard lock(cache_mutex_);
    cache_bytes = cache_.bytes();
  }
  metrics_
      .gauge("dropgate_edge_token_cache_bytes",
             "Bytes held by the token cache (token_cache_mb_max).")
      .set(static_cast<double>(cache_bytes));
  return metrics_.render();
}

void add_edge_delivery_routes(http::Router& router, EdgeService& service,
                              std::string metrics_token) {
  EdgeService* s = &service;
  // Delivery runs on the I/O threads: verifying a token takes microseconds, a
  // cached one less, and a hop to a handler pool would cost more than that.
  auto quick = [](std::string name) {
    return http::RouteOptions{.name = std::move(name), .blocking = false};
  };
  router.add(
      http::Verb::get, "/healthz", [s](Request&) { return s->health(); }, quick("healthz"));
  router.add(
      http::Verb::get, "/metrics",
      [s, metrics_token](Request& r) {
        if (auto refused = http::refuse_scrape(r, metrics_token)) return std::move(*refused);
        return http::text_response(200, s->metrics_text(),
                                   "text/plain; version=0.0.4; charset=utf-8");
      },
      quick("metrics"));
  router.add(
      http::Verb::get, "/v1/drops/{slug}/files/{path*}", [s](Request& r) { return s->file(r); },
      quick("files.get"));
  router.add(
      http::Verb::get, "/v1/drops/{slug}/archive.zip", [s](Request& r) { return s->archive(r); },
      quick("archive.get"));
  router.add(
      http::Verb::get, "/v1/drops/{slug}/manifest.json", [s](Request& r) { return s->manifest(r); },
      quick("manifest.get"));
}

}  // namespace dg::edge
