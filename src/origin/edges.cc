#include "origin/edges.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "base/encoding.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/problem_types.h"
#include "base/time.h"
#include "core/validate.h"
#include "crypto/minisign.h"
#include "crypto/sha256.h"
#include "origin/edge_leases.h"
#include "origin/routes.h"

namespace dg::origin {
namespace {

using http::Request;
using http::Response;
using http::Verb;

boost::json::object edge_json(const store::EdgeRecord& e) {
  return {{"edge_id", e.id},
          {"name", e.name},
          {"key_id", e.key_id},
          {"state", store::edge_state_name(e.state)},
          {"drops", boost::json::array(e.drops.begin(), e.drops.end())},
          {"created_at", format_rfc3339(e.created_at_ms)},
          {"updated_at", format_rfc3339(e.updated_at_ms)}};
}

std::string_view bearer(const Request& r) {
  std::string_view auth = r.header(http::Field::authorization);
  return auth.size() > 7 && auth.substr(0, 7) == "Bearer " ? auth.substr(7) : std::string_view{};
}

std::optional<int64_t> parse_id(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

Response render(const Result<std::string>& outcome, unsigned status) {
  if (!outcome) return http::problem_from_status(outcome.error());
  return http::json_response(status, *outcome);
}

}  // namespace

bool EdgeHub::expired_enrolment(const store::EdgeRecord& edge) const {
  return edge.state == store::EdgeState::pending &&
         edge.created_at_ms <= parts_.clock.now_ms() - to_ms(parts_.config.edge_enrolment_ttl);
}

uint32_t EdgeHub::pending_from(std::vector<int64_t>& edge_ids) {
  std::erase_if(edge_ids, [&](int64_t id) {
    auto edge = parts_.store.get_edge(id);
    return !edge || edge->state != store::EdgeState::pending || expired_enrolment(*edge);
  });
  return static_cast<uint32_t>(edge_ids.size());
}

Result<std::string> EdgeHub::enroll(std::string_view body_untrusted,
                                    const std::string& client_address) {
  auto body = json::parse_object(body_untrusted, limits::request_body_bytes_max_anonymous);
  if (!body) return error(body.error());
  if (Status s = json::only_keys(*body, {"name", "edge_key", "secret_sha256"}, "enrolment");
      !s.ok()) {
    return error(s);
  }
  auto name = json::get_string(*body, "name", "enrolment", limits::edge_name_bytes_max);
  auto key_text = json::get_string(*body, "edge_key", "enrolment", limits::paserk_bytes_max);
  auto secret_hash =
      json::get_string(*body, "secret_sha256", "enrolment", limits::sha256_hex_bytes);
  if (!name) return error(name.error());
  if (!key_text) return error(key_text.error());
  if (!secret_hash) return error(secret_hash.error());
  auto key = crypto::PublicKey::from_paserk(*key_text);
  if (!key) return error(key.error());
  if (!is_sha256_hex(*secret_hash)) {
    return error(problem::invalid_request, "secret_sha256 must be 64 lower-case hex digits");
  }
  store::EdgeRecord record;
  record.name = *name;
  record.edge_key = key->to_paserk();
  record.key_id = key->key_id();
  record.secret_sha256 = *secret_hash;
  record.created_at_ms = parts_.clock.now_ms();
  std::lock_guard lock(enrol_mutex_);
  auto [mine, fresh] = enrolments_by_address_.try_emplace(client_address);
  if (fresh) {
    addresses_in_order_.push_back(client_address);
    if (addresses_in_order_.size() > limits::edge_enrolment_addresses_max) {
      enrolments_by_address_.erase(addresses_in_order_.front());
      addresses_in_order_.pop_front();
    }
  }
  if (pending_from(mine->second) >= limits::edge_enrolments_per_address_max) {
    return error(
        Status(problem::too_many_enrolments,
               "this address already has " +
                   std::to_string(limits::edge_enrolments_per_address_max) +
                   " enrolments waiting for approval; an operator must approve or revoke them, "
                   "or they expire")
            .with_retry_after(60));
  }
  int64_t expired_at_ms = record.created_at_ms - to_ms(parts_.config.edge_enrolment_ttl);
  auto created =
      parts_.store.create_edge(record, limits::edge_enrolments_pending_max, expired_at_ms);
  if (!created) return error(created.error());
  mine->second.push_back(created->id);
  log::info("edge enrolment requested",
            {{"edge_id", created->id}, {"name", created->name}, {"key_id", created->key_id}});
  return boost::json::serialize(edge_json(*created));
}

Result<std::string> EdgeHub::list_json() {
  auto edges = parts_.store.list_edges();
  if (!edges) return error(edges.error());
  boost::json::array out;
  for (const auto& e : *edges) {
    if (!expired_enrolment(e)) out.push_back(edge_json(e));
  }
  return boost::json::serialize(boost::json::object{{"edges", std::move(out)}});
}

Result<std::string> EdgeHub::approve(int64_t edge_id, std::string_view body_untrusted) {
  auto body = json::parse_object(body_untrusted, limits::request_body_bytes_max_json);
  if (!body) return error(body.error());
  if (Status s = json::only_keys(*body, {"drops", "ttl_days", "offline_sales", "caps"}, "approval");
      !s.ok())
    return error(s);
  auto drops = json::get_array(*body, "drops", "approval", limits::edge_drops_max);
  if (!drops) return error(drops.error());
  int64_t ttl_days = limits::edge_grant_ttl_default.count();
  if (body->contains("ttl_days")) {
    auto ttl = json::get_int(*body, "ttl_days", "approval", 1, limits::edge_grant_ttl_max.count());
    if (!ttl) return error(ttl.error());
    ttl_days = *ttl;
  }
  std::vector<std::string> slugs;
  for (const auto& item : **drops) {
    if (!item.is_string()) return error(problem::invalid_request, "drops are slugs");
    std::string slug(item.as_string());
    auto drop = parts_.store.get_drop(slug);
    if (!drop) return error(drop.error());
    slugs.push_back(slug);
  }
  auto edge = parts_.store.get_edge(edge_id);
  if (!edge) return error(edge.error());
  if (expired_enrolment(*edge)) {
    return error(problem::not_found, "this enrolment expired; the edge must enrol again");
  }
  if (edge->state == store::EdgeState::revoked) {
    return error(problem::edge_revoked_enrolment, "a revoked edge must enrol again with a new key");
  }
  auto settings = parse_offline_settings(*body, slugs);
  if (!settings) return error(settings.error());
  int64_t now_ms = parts_.clock.now_ms();
  const int64_t expires_ms = now_ms + to_ms(std::chrono::days(ttl_days));
  auto leases = top_up_edge_leases(parts_.store, edge_id, slugs, *settings, expires_ms, now_ms,
                                   parts_.config.lease_serials_max);
  if (!leases) return error(leases.error());
  auto prices = offline_prices(parts_.store, *settings);
  if (!prices) return error(prices.error());
  core::EdgeGrantFields fields{edge->edge_key,    slugs, *leases, settings->caps, settings->targets,
                               std::move(*prices)};
  auto grant = core::issue_edge_grant(parts_.signer, fields, now_ms,
                                      static_cast<uint32_t>(to_s(std::chrono::days(ttl_days))));
  if (!grant) return error(grant.error());
  auto updated =
      parts_.store.update_edge(edge_id, store::EdgeState::approved, slugs, *grant, now_ms);
  if (!updated) return error(updated.error());
  log::info("edge approved",
            {{"edge_id", edge_id}, {"drops", boost::json::array(slugs.begin(), slugs.end())}});
  auto out = edge_json(*updated);
  out["grant_expires_at"] = format_rfc3339(now_ms + to_ms(std::chrono::days(ttl_days)));
  return boost::json::serialize(out);
}

Result<std::string> EdgeHub::leases_json(int64_t edge_id) {
  auto edge = parts_.store.get_edge(edge_id);
  if (!edge) return error(edge.error());
  return edge_leases_json(parts_.store, edge_id, parts_.clock.now_ms());
}

Result<std::string> EdgeHub::revoke(int64_t edge_id) {
  auto edge = parts_.store.get_edge(edge_id);
  if (!edge) return error(edge.error());
  auto updated =
      parts_.store.update_edge(edge_id, store::EdgeState::revoked, {}, "", parts_.clock.now_ms());
  if (!updated) return error(updated.error());
  log::info("edge revoked", {{"edge_id", edge_id}});
  return boost::json::serialize(edge_json(*updated));
}

Result<std::string> EdgeHub::grant(int64_t edge_id, std::string_view secret_untrusted) {
  auto edge = parts_.store.get_edge(edge_id);
  if (!edge || expired_enrolment(*edge)) {
    return error(problem::not_found,
                 "no such edge: an enrolment not approved in time is dropped; enrol again");
  }
  std::string hash = hex_encode(crypto::sha256(as_bytes(secret_untrusted)));
  if (secret_untrusted.empty() || !crypto::constant_time_equal(hash, edge->secret_sha256)) {
    return error(problem::forbidden, "this is not the secret the edge enrolled with");
  }
  if (edge->state == store::EdgeState::pending) {
    return error(Status(problem::edge_pending,
                        "an operator must approve edge " + std::to_string(edge_id) + " first")
                     .with_retry_after(10));
  }
  if (edge->state == store::EdgeState::revoked) {
    return error(problem::edge_revoked, "this edge's grant was revoked");
  }
  return boost::json::serialize(boost::json::object{{"grant", edge->grant_token}});
}

Result<store::EdgeRecord> EdgeHub::authenticate(const Request& request) {
  std::string_view token = bearer(request);
  if (token.empty())
    return error(problem::grant_required, "send Authorization: Bearer <edge-grant>");
  core::VerifyOptions options{parts_.clock.now_ms(), parts_.config.clock_skew,
                              parts_.config.issuer};
  auto grant = core::verify_edge_grant(parts_.keyring, token, options);
  if (!grant) return error(problem::grant_refused, grant.error().message());
  auto edge = parts_.store.get_edge_by_key_id(grant->edge_key.key_id());
  if (!edge) return error(problem::grant_refused, "this edge is not enrolled");
  if (edge->state != store::EdgeState::approved) {
    return error(problem::edge_revoked, "this edge is no longer approved");
  }
  // Only drops both in this grant and still granted now.
  std::vector<std::string> drops;
  for (const auto& slug : grant->fields.drops) {
    if (std::find(edge->drops.begin(), edge->drops.end(), slug) != edge->drops.end())
      drops.push_back(slug);
  }
  edge->drops = std::move(drops);
  return *edge;
}

Result<std::string> EdgeHub::topped_up_grant(const store::EdgeRecord& edge) {
  const int64_t now_ms = parts_.clock.now_ms();
  core::VerifyOptions untimed{now_ms, parts_.config.clock_skew, parts_.config.issuer};
  untimed.check_times = false;  // the grant the origin holds for the edge, judged below
  auto grant = core::verify_edge_grant(parts_.keyring, edge.grant_token, untimed);
  if (!grant || grant->fields.offline_sales.empty() || !grant->common.expires_at_ms)
    return edge.grant_token;
  const int64_t expires_ms = *grant->common.expires_at_ms;
  if (expires_ms - now_ms < 1000) return edge.grant_token;  // renewal is the operator's call
  OfflineSettings settings{grant->fields.caps, grant->fields.offline_sales};
  uint32_t leased = 0;
  auto leases = top_up_edge_leases(parts_.store, edge.id, edge.drops, settings, expires_ms, now_ms,
                                   parts_.config.lease_serials_max, &leased);
  if (!leases) return error(leases.error());
  if (leased == 0) return edge.grant_token;
  auto prices = offline_prices(parts_.store, settings);
  if (!prices) return error(prices.error());
  // Same drops, caps, expectations and end of life; more leases, current prices.
  core::EdgeGrantFields fields{edge.edge_key, edge.drops,       std::move(*leases),
                               settings.caps, settings.targets, std::move(*prices)};
  auto token = core::issue_edge_grant(parts_.signer, fields, now_ms,
                                      static_cast<uint32_t>((expires_ms - now_ms) / 1000));
  if (!token) return error(token.error());
  auto updated =
      parts_.store.update_edge(edge.id, store::EdgeState::approved, edge.drops, *token, now_ms);
  if (!updated) return error(updated.error());
  log::info("edge lease topped up", {{"edge_id", edge.id}, {"serials", leased}});
  return *token;
}

Result<std::string> EdgeHub::sync_document(const Request& request) {
  auto edge = authenticate(request);
  if (!edge) return std::unexpected(edge.error());
  auto grant_token = topped_up_grant(*edge);
  if (!grant_token) return std::unexpected(grant_token.error());
  edge->grant_token = std::move(*grant_token);
  int64_t now_ms = parts_.clock.now_ms();
  std::string keyring = parts_.keyring.to_json();
  auto keyring_sig = crypto::minisign_sign(
      parts_.signer.key(), as_bytes(keyring),
      "dropgate-keyring issued_at=" + format_rfc3339(now_ms) + " kid=" + parts_.signer.key_id(),
      "dropgate keyring");
  if (!keyring_sig) return error(keyring_sig.error());
  auto revocations = parts_.certificates.revocation_list();
  if (!revocations) return std::unexpected(revocations.error());
  boost::json::array drops;
  for (const auto& slug : edge->drops) {
    auto manifest = parts_.catalog.current_manifest(slug);
    if (!manifest) continue;  // not published yet: nothing to carry
    drops.push_back(boost::json::object{
        {"drop", slug}, {"manifest", manifest->json}, {"minisig", manifest->minisig}});
  }
  // The hashes of the operator API keys, so that an edge can check an
  // operator's cash sale offline as the origin would (docs/formats/sync.md).
  auto operator_keys = parts_.store.list_api_keys(limits::operator_keys_max);
  if (!operator_keys) return error(operator_keys.error());
  boost::json::object doc{
      {"format", 1},
      {"operator_keys", boost::json::array(operator_keys->begin(), operator_keys->end())},
      {"origin_time", format_rfc3339(now_ms)},
      {"edge_id", edge->id},
      {"grant", edge->grant_token},
      {"keyring", boost::json::object{{"json", keyring}, {"minisig", *keyring_sig}}},
      {"revocations",
       boost::json::object{{"json", revocations->json}, {"minisig", revocations->minisig}}},
      {"drops", std::move(drops)}};
  return boost::json::serialize(doc);
}

Response EdgeHub::blob(Request& request) {
  auto edge = authenticate(request);
  if (!edge) return http::problem_from_status(edge.error());
  std::string sha(request.param("sha256"));
  if (!is_sha256_hex(sha))
    return http::problem_from_status(Status(problem::not_found, "blobs are named by sha256"));
  for (const auto& slug : edge->drops) {
    auto manifest = parts_.catalog.current_manifest(slug);
    if (!manifest) continue;
    auto parsed = core::parse_manifest(manifest->json);
    if (!parsed) continue;
    for (const auto& asset : parsed->assets) {
      if (asset.sha256 != sha) continue;
      return http::file_response(request, parts_.blobs.path_of(sha), asset.size_bytes, sha,
                                 "application/octet-stream");
    }
  }
  return http::problem_from_status(
      Status(problem::not_found, "no blob with that hash in this edge's drops"));
}

bool EdgeHub::carries_signed_grant(const Request& request) const {
  std::string_view token = bearer(request);
  if (token.empty()) return false;
  core::VerifyOptions options{parts_.clock.now_ms(), parts_.config.clock_skew,
                              parts_.config.issuer};
  return core::verify_edge_grant(parts_.keyring, token, options).has_value();
}

Result<std::string> EdgeHub::ingest_events(const Request& request) {
  auto edge = authenticate(request);
  if (!edge) return std::unexpected(edge.error());
  auto body = json::parse_object(request.body, limits::request_body_bytes_max_json);
  if (!body) return error(body.error());
  auto events = json::get_array(*body, "events", "events", limits::edge_push_events_max);
  if (!events) return error(events.error());
  // Events the origin cannot take (an unknown kind, a drop no longer granted)
  // are acknowledged and counted as refused: one bad event must not block an
  // edge's outbox behind it forever.
  std::vector<store::Event> batch;
  uint32_t refused = 0;
  for (const auto& item : **events) {
    if (!item.is_object()) return error(problem::invalid_request, "events are objects");
    const auto& e = item.as_object();
    auto id = json::get_string(e, "id", "event", limits::identifier_bytes_max);
    auto kind = json::get_string(e, "kind", "event", limits::event_kind_bytes_max);
    auto slug = json::get_string(e, "drop", "event", limits::drop_slug_bytes_max);
    auto account = json::get_optional_string(e, "account", "event", limits::identifier_bytes_max);
    auto at = json::get_string(e, "at", "event", limits::timestamp_bytes_max);
    if (!id || !kind || !slug || !account || !at) {
      return error(problem::invalid_request, "an event needs id, kind, drop and at");
    }
    bool known_kind = *kind == "download.completed" || *kind == "download.failed" ||
                      *kind == "download.partial" || *kind == "download.started";
    bool granted = std::find(edge->drops.begin(), edge->drops.end(), *slug) != edge->drops.end();
    auto at_ms = parse_rfc3339(*at);
    auto drop =
        granted ? parts_.store.get_drop(*slug) : Result<store::Drop>(error(Code::not_found, ""));
    if (!known_kind || !granted || !at_ms || !drop) {
      ++refused;
      log::warn("edge event refused", {{"edge_id", edge->id}, {"kind", *kind}, {"drop", *slug}});
      continue;
    }
    std::string detail = e.contains("detail") ? boost::json::serialize(e.at("detail")) : "{}";
    batch.push_back({*kind, drop->id, std::nullopt, account->value_or(""),
                     detail.size() > limits::event_detail_bytes_max ? "{}" : detail, *at_ms,
                     edge->key_id + ":" + *id});
  }
  auto fresh = parts_.store.append_events(batch);
  if (!fresh) return error(fresh.error());
  return boost::json::serialize(boost::json::object{
      {"received", batch.size() + refused}, {"new", *fresh}, {"refused", refused}});
}

void add_edge_routes(http::Router& router, EdgeHub& hub) {
  EdgeHub* h = &hub;
  http::RouteOptions op{.requires_auth = true,
                        .body_bytes_max = limits::request_body_bytes_max_json};
  auto named = [](http::RouteOptions o, std::string name) {
    o.name = std::move(name);
    return o;
  };
  // A route on one edge: 404 when {id} is not an edge id.
  auto by_id = [h](auto call) {
    return [h, call](Request& r) {
      auto id = parse_id(r.param("id"));
      if (!id) return http::problem_from_status(Status(problem::not_found, "no such edge"));
      return call(*h, *id, r);
    };
  };
  router.add(
      Verb::post, "/v1/edges",
      [h](Request& r) { return render(h->enroll(r.body, r.remote_address), 202); },
      http::RouteOptions{.body_bytes_max = limits::request_body_bytes_max_anonymous,
                         .name = "edges.enroll"});
  router.add(
      Verb::get, "/v1/edges", [h](Request&) { return render(h->list_json(), 200); },
      named(op, "edges.list"));
  router.add(Verb::post, "/v1/edges/{id}/approve", by_id([](EdgeHub& e, int64_t id, Request& r) {
               return render(e.approve(id, r.body), 200);
             }),
             named(op, "edges.approve"));
  router.add(Verb::post, "/v1/edges/{id}/revoke",
             by_id([](EdgeHub& e, int64_t id, Request&) { return render(e.revoke(id), 200); }),
             named(op, "edges.revoke"));
  router.add(Verb::post, "/v1/edges/{id}/lost", by_id([](EdgeHub& e, int64_t id, Request& r) {
               return render(e.declare_lost(id, r), 200);
             }),
             named(op, "edges.lost"));
  router.add(Verb::get, "/v1/edges/{id}/lost-sales", by_id([](EdgeHub& e, int64_t id, Request&) {
               return render(e.lost_sales_json(id), 200);
             }),
             named(op, "edges.lost_sales"));
  router.add(Verb::get, "/v1/edges/{id}/leases",
             by_id([](EdgeHub& e, int64_t id, Request&) { return render(e.leases_json(id), 200); }),
             named(op, "edges.leases"));
  router.add(Verb::get, "/v1/edges/{id}/grant", by_id([](EdgeHub& e, int64_t id, Request& r) {
               return render(e.grant(id, r.header("X-Dropgate-Edge-Secret")), 200);
             }),
             http::RouteOptions{.name = "edges.grant"});
  router.add(
      Verb::get, "/v1/edge/sync", [h](Request& r) { return render(h->sync_document(r), 200); },
      http::RouteOptions{.name = "edge.sync"});
  router.add(
      Verb::get, "/v1/edge/blobs/{sha256}", [h](Request& r) { return h->blob(r); },
      http::RouteOptions{.name = "edge.blob"});
  router.add(
      Verb::post, "/v1/edge/sales", [h](Request& r) { return render(h->ingest_sales(r), 200); },
      http::RouteOptions{
          .body_bytes_max = limits::request_body_bytes_max_json,
          .name = "edge.sales",
          .admits_large_body = [h](const Request& r) { return h->carries_signed_grant(r); }});
  router.add(
      Verb::post, "/v1/edge/releases",
      [h](Request& r) { return render(h->release_leases(r), 200); },
      http::RouteOptions{.body_bytes_max = limits::request_body_bytes_max_json,
                         .name = "edge.releases"});
  router.add(
      Verb::post, "/v1/edge/events", [h](Request& r) { return render(h->ingest_events(r), 200); },
      http::RouteOptions{
          .body_bytes_max = limits::request_body_bytes_max_json,
          .name = "edge.events",
          .admits_large_body = [h](const Request& r) { return h->carries_signed_grant(r); }});
}

}  // namespace dg::origin
