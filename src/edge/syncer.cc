#include "edge/syncer.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/file.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/time.h"
#include "crypto/minisign.h"
#include "edge/zip.h"
#include "http/client.h"

namespace dg::edge {

Result<Enrollment> load_enrollment(const EdgeConfig& config) {
  auto text = read_file(config.enrollment_file(), limits::edge_enrollment_file_bytes_max);
  if (!text) {
    return error(Code::not_found, "this edge is not enrolled: run dropgate edge enroll --data " +
                                      config.data_dir.string() + " --origin URL");
  }
  auto root = json::parse_object(*text, limits::edge_enrollment_file_bytes_max);
  if (!root) return error(root.error().with_context("enrollment.json"));
  auto origin = json::get_string(*root, "origin", "enrollment", limits::origin_url_bytes_max);
  auto id = json::get_int(*root, "edge_id", "enrollment", 1, INT64_MAX);
  auto secret = json::get_string(*root, "secret", "enrollment", limits::edge_secret_bytes_max);
  if (!origin || !id || !secret) return error(Code::corruption, "enrollment.json is incomplete");
  return Enrollment{*origin, *id, *secret};
}

Syncer::Syncer(const EdgeConfig& config, Catalog& catalog, Vault& vault, store::Outbox& outbox,
               metrics::Registry& metrics, const Clock& clock)
    : config_(config),
      catalog_(catalog),
      vault_(vault),
      outbox_(outbox),
      clock_(clock),
      events_per_push_(limits::edge_push_events_max),
      syncs_ok_(metrics.counter("dropgate_edge_syncs_total", "Sync rounds by result.",
                                {{"result", "ok"}})),
      syncs_failed_(metrics.counter("dropgate_edge_syncs_total", "Sync rounds by result.",
                                    {{"result", "failed"}})),
      manifests_refused_(
          metrics.counter("dropgate_edge_manifests_refused_total",
                          "Manifests refused (signature, key, rollback, expiry, drop).")),
      blobs_fetched_(
          metrics.counter("dropgate_edge_blobs_fetched_total", "Blobs fetched and verified.")),
      events_pushed_(metrics.counter("dropgate_edge_events_pushed_total",
                                     "Events the origin acknowledged.")) {}

// Every call to the origin gives up after sync_timeout_s connecting or
// without a byte, so a frozen origin ends the round within seconds.
http::ClientDeadlines Syncer::deadlines() const {
  return {.connect = config_.sync_timeout, .read_idle = config_.sync_timeout};
}

Status Syncer::fetch_grant(const Enrollment& enrollment) {
  http::ApiClient client(enrollment.origin_url, "", deadlines());
  auto response =
      client.call_with("GET", "/v1/edges/" + std::to_string(enrollment.edge_id) + "/grant", "",
                       {"X-Dropgate-Edge-Secret: " + enrollment.secret}, "");
  if (!response) return response.error();
  if (response->status == 409)
    return Status(Code::unavailable, "waiting for an operator to approve this edge");
  if (response->status != 200) {
    return Status(Code::forbidden,
                  "grant refused: " + http::ApiClient::describe_failure(*response));
  }
  auto root = json::parse_object(response->body, limits::edge_origin_answer_bytes_max);
  if (!root) return root.error();
  auto token = json::get_string(*root, "grant", "grant", limits::token_bytes_max);
  if (!token) return token.error();
  auto keyring = catalog_.keyring();
  if (!keyring) return Status(Code::not_found, "no pinned origin keyring; enroll again");
  auto grant = core::verify_edge_grant(*keyring, *token,
                                       {clock_.now_ms(), config_.clock_skew, config_.issuer});
  if (!grant) return grant.error().with_context("grant from the origin");
  return catalog_.set_grant(*token, std::move(*grant));
}

Status Syncer::apply_keyring(const boost::json::object& doc) {
  auto keyring = json::get_object(doc, "keyring", "sync");
  if (!keyring) return keyring.error();
  auto text = json::get_string(**keyring, "json", "keyring", limits::keyring_file_bytes_max);
  auto minisig =
      json::get_string(**keyring, "minisig", "keyring", limits::minisign_sig_file_bytes_max);
  if (!text || !minisig) return Status(Code::invalid_argument, "sync: keyring is incomplete");
  // A new keyring is accepted only when a key we already trust signed it:
  // rotations chain from the key pinned at enrolment.
  auto pinned = catalog_.keyring();
  auto sig = crypto::minisign_parse_signature(*minisig);
  if (!sig) return sig.error().with_context("keyring signature");
  auto key = pinned->minisign_verification_key(sig->key_number);
  if (!key) return key.error().with_context("keyring signature");
  DG_RETURN_IF_ERROR(crypto::minisign_verify(*key, *sig, as_bytes(*text)).with_context("keyring"));
  if (*text == pinned->to_json()) return Status();
  log::info("origin keyring updated");
  return catalog_.set_keyring(*text);
}

// The origin sends the edge's current grant each round: a re-approval (drops
// added or removed, a longer life) takes effect at the next sync.
Status Syncer::apply_grant(const boost::json::object& doc) {
  auto token = json::get_string(doc, "grant", "sync", limits::token_bytes_max);
  if (!token) return token.error();
  if (*token == catalog_.grant_token()) return Status();
  auto grant = core::verify_edge_grant(*catalog_.keyring(), *token,
                                       {clock_.now_ms(), config_.clock_skew, config_.issuer});
  if (!grant) return grant.error().with_context("grant from the origin");
  log::info(
      "grant renewed",
      {{"drops", boost::json::array(grant->fields.drops.begin(), grant->fields.drops.end())}});
  return catalog_.set_grant(*token, std::move(*grant));
}

Status Syncer::apply_revocations(const boost::json::object& doc) {
  auto rev = json::get_object(doc, "revocations", "sync");
  if (!rev) return rev.error();
  auto text = json::get_string(**rev, "json", "revocations", limits::edge_sync_document_bytes_max);
  auto minisig =
      json::get_string(**rev, "minisig", "revocations", limits::minisign_sig_file_bytes_max);
  if (!text || !minisig) return Status(Code::invalid_argument, "sync: revocations are incomplete");
  auto parsed = verify_revocations(*catalog_.keyring(), *text, *minisig);
  if (!parsed) return parsed.error();
  if (parsed->issued_at_ms < catalog_.revocations()->issued_at_ms) {
    return Status(Code::conflict, "revocation list is older than the one held (rollback refused)");
  }
  return catalog_.set_revocations(*text, *minisig, std::move(*parsed));
}

Status Syncer::fetch_blob(
    const core::Asset& asset,
    const std::function<void(const std::string&, uint64_t, uint64_t)>& progress) {
  http::ApiClient client(origin_url_, "", deadlines());
  auto partial = vault_.partial_path_of(asset.sha256);
  auto response =
      client.download("/v1/edge/blobs/" + asset.sha256, partial, catalog_.grant_token(),
                      [&, heard_bytes = uint64_t{0}](uint64_t done, uint64_t total) mutable {
                        if (done != heard_bytes) {
                          heard_bytes = done;
                          catalog_.note_origin_heard(clock_.now_ms());
                        }
                        if (progress) progress(asset.path, done, total);
                      });
  if (!response) return response.error();
  if (response->status != 200 && response->status != 206) {
    std::error_code ec;
    std::filesystem::remove(partial, ec);
    return Status(Code::unavailable,
                  "blob " + asset.sha256 + ": HTTP " + std::to_string(response->status));
  }
  DG_RETURN_IF_ERROR(vault_.adopt(partial, asset.sha256, asset.size_bytes));
  blobs_fetched_.inc();
  return Status();
}

Status Syncer::apply_drop(
    const std::string& slug, const std::string& manifest, const std::string& minisig,
    const std::function<void(const std::string&, uint64_t, uint64_t)>& progress) {
  core::ManifestExpectations expect{slug, catalog_.version_seen(slug), clock_.now_ms(),
                                    config_.clock_skew};
  auto verified = core::verify_manifest(*catalog_.keyring(), manifest, minisig, expect);
  if (!verified) {
    manifests_refused_.inc();
    return verified.error().with_context("manifest of " + slug);
  }
  auto current = catalog_.drop(slug);
  bool complete = current && current->manifest_sha256 == verified->sha256;
  if (complete) {
    for (const auto& a : current->manifest.assets)
      complete = complete && vault_.known_good(a.sha256);
    if (complete) return Status();
  }
  auto drop = std::make_shared<CarriedDrop>();
  for (const auto& asset : verified->manifest.assets) {
    if (!vault_.known_good(asset.sha256)) DG_RETURN_IF_ERROR(fetch_blob(asset, progress));
    auto crc = crc32_file(vault_.path_of(asset.sha256));
    if (!crc) return crc.error();
    drop->crc32_by_sha256[asset.sha256] = *crc;
  }
  drop->manifest = std::move(verified->manifest);
  drop->manifest_json = manifest;
  drop->manifest_minisig = minisig;
  drop->manifest_sha256 = verified->sha256;
  drop->switched_at_ms = clock_.now_ms();
  log::info("drop ready", {{"drop", slug},
                           {"version", drop->manifest.version},
                           {"files", drop->manifest.assets.size()}});
  return catalog_.set_drop(slug, std::move(drop));
}

Status Syncer::sync_once(
    const std::function<void(const std::string&, uint64_t, uint64_t)>& progress) {
  SyncHealth health = catalog_.health();
  health.last_attempt_ms = clock_.now_ms();
  health.in_flight_since_ms = health.last_attempt_ms;  // /healthz judges a round that hears nothing
  catalog_.set_health(health);
  auto finish = [&](Status status) {
    health.in_flight_since_ms = 0;
    health.origin_reachable = status.code() != Code::unavailable;
    if (status.ok()) {
      health.last_success_ms = health.last_attempt_ms;
      health.last_error.clear();
      syncs_ok_.inc();
    } else {
      health.last_error = status.message();
      syncs_failed_.inc();
    }
    catalog_.set_health(health);
    return status;
  };
  auto enrollment = load_enrollment(config_);
  if (!enrollment) return finish(enrollment.error());
  origin_url_ = enrollment->origin_url;
  if (!catalog_.keyring())
    return finish(Status(Code::not_found, "no pinned origin keyring; enroll again"));
  if (!catalog_.grant()) {
    if (Status s = fetch_grant(*enrollment); !s.ok()) return finish(s);
  }
  http::ApiClient client(origin_url_, "", deadlines());
  auto response = client.call_with("GET", "/v1/edge/sync", "", {}, catalog_.grant_token());
  if (!response) return finish(response.error());
  catalog_.note_origin_heard(clock_.now_ms());
  if (response->status == 401 || response->status == 403) {
    // The origin no longer honours this grant: drop it and ask again next round
    // (an edge the operator revoked gets none, and serves nothing).
    log::warn("origin refused the grant",
              {{"detail", http::ApiClient::describe_failure(*response)}});
    // Report what was sold first: a lost edge's sales are recorded for the
    // operator (refused, never dropped); a revoked edge's stay in the book.
    push_sales_or_warn();
    catalog_.clear_grant();
    return finish(Status(Code::forbidden, http::ApiClient::describe_failure(*response)));
  }
  if (response->status != 200)
    return finish(Status(Code::unavailable, http::ApiClient::describe_failure(*response)));
  auto doc = json::parse_object(response->body, limits::edge_sync_document_bytes_max);
  if (!doc) return finish(doc.error().with_context("sync document"));
  if (Status s = apply_keyring(*doc); !s.ok()) return finish(s);
  if (Status s = apply_grant(*doc); !s.ok()) return finish(s);
  apply_operator_keys(*doc);
  if (Status s = apply_revocations(*doc); !s.ok())
    log::warn("revocation list refused", {{"error", s.to_string()}});
  auto drops = json::get_array(*doc, "drops", "sync", limits::edge_drops_max);
  if (!drops) return finish(drops.error());
  Status overall = apply_drops(**drops, progress);
  remove_ungranted_drops();
  if (auto reported = push_sales(); !reported) {
    log::warn("offline sales not reported", {{"error", reported.error().to_string()}});
    if (overall.ok()) overall = reported.error();
  } else if (auto released = release_expired_leases(); !released) {
    log::warn("leases not released", {{"error", released.error().to_string()}});
  }
  auto pushed = push_outbox();
  if (!pushed) {
    log::warn("outbox push failed", {{"error", pushed.error().to_string()}});
    // An origin that stopped answering meanwhile is unreachable now.
    if (overall.ok() && pushed.error().code() == Code::unavailable) overall = pushed.error();
  }
  return finish(overall);
}

void Syncer::push_sales_or_warn() {
  if (auto reported = push_sales(); !reported)
    log::warn("offline sales not reported", {{"error", reported.error().to_string()}});
}

Status Syncer::apply_drops(
    const boost::json::array& drops,
    const std::function<void(const std::string&, uint64_t, uint64_t)>& progress) {
  Status overall;
  for (const auto& item : drops) {
    if (!item.is_object()) continue;
    auto slug = json::get_string(item.as_object(), "drop", "sync", limits::drop_slug_bytes_max);
    auto manifest =
        json::get_string(item.as_object(), "manifest", "sync", limits::manifest_bytes_max);
    auto minisig =
        json::get_string(item.as_object(), "minisig", "sync", limits::minisign_sig_file_bytes_max);
    if (!slug || !manifest || !minisig) continue;
    Status s = apply_drop(*slug, *manifest, *minisig, progress);
    if (!s.ok()) {
      log::warn("drop not updated", {{"drop", *slug}, {"error", s.to_string()}});
      overall = s;
    }
  }
  return overall;
}

void Syncer::remove_ungranted_drops() {
  auto grant = catalog_.grant();
  for (const auto& [slug, drop] : catalog_.drops()) {
    bool granted = grant && std::find(grant->fields.drops.begin(), grant->fields.drops.end(),
                                      slug) != grant->fields.drops.end();
    if (granted) continue;
    // A drop that cannot be removed now is tried again on the next sync.
    if (Status removed = catalog_.remove_drop(slug); !removed.ok()) {
      log::warn("a drop no longer granted could not be removed",
                {{"drop", slug}, {"error", removed.to_string()}});
    }
  }
}

Result<uint32_t> Syncer::push_outbox() {
  if (origin_url_.empty()) {
    auto enrollment = load_enrollment(config_);
    if (!enrollment) return error(enrollment.error());
    origin_url_ = enrollment->origin_url;
  }
  http::ApiClient client(origin_url_, "", deadlines());
  uint32_t acknowledged = 0;
  for (uint32_t round = 0; round < limits::edge_push_rounds_max; ++round) {
    auto events = outbox_.peek(events_per_push_);
    if (!events) return error(events.error());
    if (events->empty()) break;
    std::string body = "{\"events\":[";
    for (size_t i = 0; i < events->size(); ++i) body += (i ? "," : "") + (*events)[i].body_json;
    body += "]}";
    auto response = client.call_with("POST", "/v1/edge/events", body, {}, catalog_.grant_token());
    if (!response) return error(response.error());
    catalog_.note_origin_heard(clock_.now_ms());
    // An origin from before pushes were allowed the JSON body limit holds
    // them to its anonymous one (limits::edge_push_events_small).
    if (response->status == 413 && events_per_push_ > limits::edge_push_events_small) {
      log::info("the origin takes smaller event pushes",
                {{"events_per_push", limits::edge_push_events_small}});
      events_per_push_ = limits::edge_push_events_small;
      continue;  // the same events again, fewer at a time
    }
    if (response->status != 200) {
      return error(Code::unavailable,
                   "events refused: " + http::ApiClient::describe_failure(*response));
    }
    DG_RETURN_IF_ERROR_RESULT(outbox_.acknowledge(events->back().seq));
    acknowledged += static_cast<uint32_t>(events->size());
    events_pushed_.inc(events->size());
  }
  return acknowledged;
}

void Syncer::apply_operator_keys(const boost::json::object& doc) {
  if (sales_desk_ == nullptr) return;
  auto keys = json::get_array(doc, "operator_keys", "sync", limits::operator_keys_max);
  if (!keys) return;  // an origin from before offline sales: keep what is held
  std::vector<std::string> hashes;
  for (const auto& k : **keys) {
    if (k.is_string()) hashes.emplace_back(k.as_string());
  }
  if (Status s = sales_desk_->set_operator_keys(std::move(hashes)); !s.ok())
    log::warn("operator keys not kept", {{"error", s.to_string()}});
}

Result<uint32_t> Syncer::push_sales() {
  if (sales_book_ == nullptr || origin_url_.empty()) return 0u;
  http::ApiClient client(origin_url_, "", deadlines());
  uint32_t acknowledged = 0;
  for (uint32_t round = 0; round < limits::edge_push_rounds_max; ++round) {
    auto sales = sales_book_->unreported(limits::edge_push_sales_max);
    if (!sales) return error(sales.error());
    if (sales->empty()) break;
    boost::json::array list;
    for (const auto& sale : *sales) {
      list.push_back(boost::json::object{{"id", sale.id},
                                         {"drop", sale.drop},
                                         {"serial", sale.serial},
                                         {"channel", sale.channel},
                                         {"account", sale.account},
                                         {"amount", sale.amount_minor},
                                         {"currency", sale.currency},
                                         {"reference", sale.reference},
                                         {"certificate", sale.cert_token},
                                         {"grant", sale.grant_token},
                                         {"sold_at", format_rfc3339(sale.sold_at_ms)}});
    }
    auto response = client.call_with("POST", "/v1/edge/sales",
                                     boost::json::serialize(boost::json::object{{"sales", list}}),
                                     {}, catalog_.grant_token());
    if (!response) return error(response.error());
    catalog_.note_origin_heard(clock_.now_ms());
    if (response->status != 200) {
      return error(Code::unavailable,
                   "sales refused: " + http::ApiClient::describe_failure(*response));
    }
    auto answer = json::parse_object(response->body, limits::edge_origin_answer_bytes_max);
    if (!answer) return error(answer.error());
    auto acked = json::get_array(*answer, "acknowledged", "sales", limits::edge_push_sales_max);
    if (!acked) return error(acked.error());
    std::vector<std::string> ids;
    for (const auto& id : **acked) {
      if (id.is_string()) ids.emplace_back(id.as_string());
    }
    if (ids.empty()) break;  // the origin took none: try again next round
    DG_RETURN_IF_ERROR_RESULT(sales_book_->mark_reported(ids));
    acknowledged += static_cast<uint32_t>(ids.size());
  }
  if (sales_desk_ != nullptr) sales_desk_->refresh_metrics();
  return acknowledged;
}

Result<uint32_t> Syncer::release_expired_leases() {
  if (sales_book_ == nullptr || origin_url_.empty()) return 0u;
  auto grant = catalog_.grant();
  if (!grant) return 0u;
  auto pending = sales_book_->pending();
  if (!pending) return error(pending.error());
  if (pending->sales > 0) return 0u;  // unacknowledged sales: report them first
  const int64_t now_ms = clock_.now_ms();
  boost::json::array leases;
  std::vector<std::string> keys;
  for (const auto& lease : grant->fields.leases) {
    if (lease.sell_until_ms > now_ms) continue;
    std::string key = lease.drop + ":" + std::to_string(lease.first_serial) + "-" +
                      std::to_string(lease.last_serial);
    if (released_leases_.contains(key)) continue;
    keys.push_back(std::move(key));
    leases.push_back(boost::json::object{
        {"drop", lease.drop}, {"first", lease.first_serial}, {"last", lease.last_serial}});
  }
  if (leases.empty()) return 0u;
  http::ApiClient client(origin_url_, "", deadlines());
  auto response =
      client.call_with("POST", "/v1/edge/releases",
                       boost::json::serialize(boost::json::object{{"leases", std::move(leases)}}),
                       {}, catalog_.grant_token());
  if (!response) return error(response.error());
  catalog_.note_origin_heard(now_ms);
  if (response->status != 200) {
    return error(Code::unavailable,
                 "release refused: " + http::ApiClient::describe_failure(*response));
  }
  auto answer = json::parse_object(response->body, limits::edge_origin_answer_bytes_max);
  if (!answer) return error(answer.error());
  auto returned = json::get_int(*answer, "returned", "release", 0, limits::edition_size_max);
  if (!returned) return error(returned.error());
  for (auto& key : keys) released_leases_.insert(std::move(key));
  log::info("leases past sell_until released", {{"serials", *returned}});
  return static_cast<uint32_t>(*returned);
}

std::vector<DropReadiness> Syncer::readiness() {
  std::vector<DropReadiness> out;
  for (const auto& [slug, drop] : catalog_.drops()) {
    DropReadiness r{
        slug, drop->manifest.version,      static_cast<uint32_t>(drop->manifest.assets.size()), 0,
        0,    drop->manifest.expires_at_ms};
    for (const auto& a : drop->manifest.assets) {
      r.bytes += a.size_bytes;
      if (vault_.ready(a.sha256, a.size_bytes)) ++r.files_verified;
    }
    out.push_back(r);
  }
  return out;
}

}  // namespace dg::edge
