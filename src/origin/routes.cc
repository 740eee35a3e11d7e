#include "origin/routes.h"

#include <boost/json.hpp>
#include <charconv>
#include <functional>
#include <mutex>
#include <set>

#include "base/encoding.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/problem_types.h"
#include "base/time.h"
#include "core/media_type.h"
#include "core/validate.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "http/scrape.h"
#include "origin/checkout_routes.h"
#include "origin/code_routes.h"

namespace dg::origin {
namespace {

using http::Request;
using http::Responder;
using http::Response;
using http::Verb;

constexpr std::string_view kOperatorScope = "operator";

template <typename T>
Response render(const Result<T>& outcome, unsigned status, auto&& to_body) {
  if (!outcome) return http::problem_from_status(outcome.error());
  return http::json_response(status, to_body(*outcome));
}

}  // namespace

// The request's Idempotency-Key and fingerprint. A key longer than the limit
// is refused, never cut: two keys cut to one prefix would share one answer.
Result<Idempotency> idempotency_of(const Request& request) {
  Idempotency idem;
  idem.scope = std::string(kOperatorScope);
  std::string_view key = request.header("Idempotency-Key");
  if (key.size() > limits::idempotency_key_bytes_max) {
    return error(Code::invalid_argument,
                 "Idempotency-Key: at most " + std::to_string(limits::idempotency_key_bytes_max) +
                     " characters (this one has " + std::to_string(key.size()) + ")");
  }
  idem.key = std::string(key);
  std::string fingerprint = std::string(boost::beast::http::to_string(request.method)) + " " +
                            request.path + "\n" + request.body;
  idem.request_sha256 = hex_encode(crypto::sha256(as_bytes(fingerprint)));
  return idem;
}

// Runs a mutating POST under its Idempotency-Key. The key is reserved before
// the action runs, so of concurrent requests with one key exactly one acts;
// the others get its stored answer, or 409 idempotency-in-flight while it
// runs. A 2xx answer is stored for replays; any other frees the key for a
// retry. An answer that cannot be stored is a 500: the action happened, but
// a retry could not be told so.
Response idempotent(IdempotencyRecords& records, const Request& request,
                    const std::function<Response()>& run) {
  Result<Idempotency> idem = idempotency_of(request);
  if (!idem) return http::problem_from_status(idem.error());
  if (idem->key.empty()) return run();
  std::string owner = crypto::random_id();
  if (auto answered = records.reserve(*idem, owner)) {
    if (!*answered) return http::problem_from_status(answered->error());
    return http::json_response((*answered)->status, (*answered)->body);
  }
  Response response = run();
  const auto* body = std::get_if<std::string>(&response.body);
  if (!records.settle(*idem, owner, response.status, body).ok() && response.status / 100 == 2) {
    return http::problem_from_status(
        Status(problem::internal,
               "the action was done, but its answer could not be stored for "
               "Idempotency-Key replays"));
  }
  return response;
}

namespace {

// A claim or a confirm writes its Idempotency-Key's answer in the claim's own
// transaction, so a used key makes it fail: a refusal, whatever its cause,
// then defers to the stored answer (or 422), exactly as if the key had been
// looked up first.
Response answer_or_replay(IdempotencyRecords& records, const Idempotency& idem,
                          const Result<ClaimOutcome>& outcome) {
  if (outcome) return http::json_response(outcome->status, outcome->body_json);
  if (auto replayed = records.replay(idem)) {
    if (!*replayed) return http::problem_from_status(replayed->error());
    return http::json_response((*replayed)->status, (*replayed)->body);
  }
  return http::problem_from_status(outcome.error());
}

// A claim's or a confirm's answer, through its Responder: a success as it
// comes (on the committer's thread); a refusal via answer_or_replay, which
// may read the store (Claims gives refusals on a thread that may block).
ClaimReply claim_reply(IdempotencyRecords& records, Idempotency idem, http::Responder responder) {
  http::Responder::Runner run_blocking = responder.blocking_runner();
  return ClaimReply{[&records, idem = std::move(idem),
                     responder = std::move(responder)](Result<ClaimOutcome> outcome) mutable {
                      std::move(responder).answer(answer_or_replay(records, idem, outcome));
                    },
                    std::move(run_blocking)};
}

Result<int64_t> time_field(const boost::json::object& o, std::string_view key, int64_t fallback) {
  auto text = json::get_optional_string(o, key, "drop", limits::timestamp_bytes_max);
  if (!text) return error(text.error());
  if (!*text) return fallback;
  auto ms = parse_rfc3339(**text);
  if (!ms) return error(ms.error().with_context(std::string(key)));
  return ms;
}

// Builds a DropSpec from JSON over `base` (create: defaults; update: the current spec).
Result<store::DropSpec> parse_drop_spec(std::string_view body, store::DropSpec base,
                                        int64_t now_ms) {
  auto o = json::parse_object(body, limits::request_body_bytes_max_json);
  if (!o) return error(o.error());
  DG_RETURN_IF_ERROR_RESULT(json::only_keys(
      *o,
      {"slug", "title", "edition", "opens_at", "closes_at", "per_buyer_limit", "price", "rights"},
      "drop"));
  if (o->contains("slug")) {
    auto slug = json::get_string(*o, "slug", "drop", limits::drop_slug_bytes_max + 1);
    if (!slug) return error(slug.error());
    base.slug = *slug;
  }
  if (o->contains("title")) {
    auto title = json::get_string(*o, "title", "drop", limits::drop_title_bytes_max);
    if (!title) return error(title.error());
    base.title = *title;
  }
  if (o->contains("edition")) {
    auto edition = json::get_int(*o, "edition", "drop", 1, limits::edition_size_max);
    if (!edition) return error(edition.error());
    base.edition_size = static_cast<uint32_t>(*edition);
  }
  auto opens = time_field(*o, "opens_at", base.opens_at_ms ? base.opens_at_ms : now_ms);
  if (!opens) return error(opens.error());
  base.opens_at_ms = *opens;
  if (o->contains("closes_at")) {
    if (o->at("closes_at").is_null()) {
      base.closes_at_ms.reset();
    } else {
      auto closes = time_field(*o, "closes_at", 0);
      if (!closes) return error(closes.error());
      base.closes_at_ms = *closes;
    }
  }
  if (o->contains("per_buyer_limit")) {
    auto limit = json::get_int(*o, "per_buyer_limit", "drop", 1, limits::per_buyer_limit_max);
    if (!limit) return error(limit.error());
    base.per_buyer_limit = static_cast<uint32_t>(*limit);
  }
  if (o->contains("price")) {
    auto price = json::get_object(*o, "price", "drop");
    if (!price) return error(price.error());
    auto amount = json::get_int(**price, "amount", "price", 0, limits::price_amount_max);
    auto currency = json::get_string(**price, "currency", "price", limits::currency_code_bytes);
    if (!amount) return error(amount.error());
    if (!currency) return error(currency.error());
    DG_RETURN_IF_ERROR_RESULT(core::validate_currency(*currency));
    base.price_minor = *amount;
    base.currency = *currency;
  }
  if (o->contains("rights")) {
    auto rights_object = json::get_object(*o, "rights", "drop");
    if (!rights_object) return error(rights_object.error());
    auto rights = core::parse_rights(**rights_object);
    if (!rights) return error(rights.error());
    base.rights = *rights;
  }
  DG_RETURN_IF_ERROR_RESULT(core::validate_slug(base.slug));
  if (base.title.empty()) return error(Code::invalid_argument, "drop: a title is required");
  if (base.edition_size == 0)
    return error(Code::invalid_argument, "drop: edition (1 or more) is required");
  if (base.closes_at_ms && *base.closes_at_ms <= base.opens_at_ms) {
    return error(Code::invalid_argument, "drop: closes_at must be after opens_at");
  }
  DG_RETURN_IF_ERROR_RESULT(core::validate_rights(base.rights));
  return base;
}

Result<ClaimRequest> parse_claim_request(std::string_view body) {
  auto o = json::parse_object(body, limits::request_body_bytes_max_anonymous);
  if (!o) return error(o.error());
  DG_RETURN_IF_ERROR_RESULT(json::only_keys(*o, {"account", "territory", "payment_ref"}, "claim"));
  ClaimRequest request;
  auto account = json::get_string(*o, "account", "claim", limits::identifier_bytes_max);
  auto territory =
      json::get_optional_string(*o, "territory", "claim", limits::territory_code_bytes);
  auto payment =
      json::get_optional_string(*o, "payment_ref", "claim", limits::identifier_bytes_max);
  if (!account) return error(account.error());
  if (!territory) return error(territory.error());
  if (!payment) return error(payment.error());
  request.account = *account;
  if (*territory) {
    DG_RETURN_IF_ERROR_RESULT(core::validate_territory(**territory));
    request.territory = **territory;
  }
  if (*payment) request.payment_ref = **payment;
  request.source = request.payment_ref.empty() ? store::ClaimSource::operator_grant
                                               : store::ClaimSource::payment;
  return request;
}

// The state as buyers see it at `now_ms` (a scheduled drop whose window
// opened is live), as the public drop page shows it.
std::string drop_summary(const store::Drop& drop, int64_t now_ms) {
  return boost::json::serialize(
      boost::json::object{{"slug", drop.spec.slug},
                          {"state", store::drop_state_name(effective_state(drop, now_ms))},
                          {"manifest_version", drop.manifest_version}});
}

std::optional<uint32_t> parse_u32(std::string_view text) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string_view bearer_token(const Request& request) {
  std::string_view auth = request.header(http::Field::authorization);
  if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) {
    return auth.substr(7);
  }
  return {};
}

std::string as_is(const std::string& body) {
  return body;
}

// The origin's handlers, one named function per route: each parses its
// request, calls the service and renders the answer. Every time they read
// comes from the service's injected clock, never the system's.
class Handlers {
 public:
  Handlers(OriginService& service, store::Store& store, metrics::Registry& metrics,
           std::string metrics_token)
      : service_(service),
        store_(store),
        metrics_(metrics),
        metrics_token_(std::move(metrics_token)) {}

  // --- Operations.
  Response healthz(Request&) const { return http::json_response(200, R"({"status":"ok"})"); }
  Response readyz(Request&) const;
  Response scrape(Request& r) const;
  Response keys(Request&) const {
    return http::json_response(200, service_.certificates.keyring_json());
  }
  // --- Drops (operator).
  Response list_drops(Request& r) const;
  Response create_drop(Request& r) const;
  Response update_drop(Request& r) const;
  Response drop_status(Request& r) const {
    return render(service_.drops.operator_status_json(r.param("slug")), 200, as_is);
  }
  Response put_asset(Request& r) const;
  Response delete_asset(Request& r) const {
    return render(service_.drops.remove_asset(r.param("slug"), r.param("path")), 200, summary());
  }
  Response publish(Request& r) const;
  Response pause(Request& r) const { return transition(r, &DropAdmin::pause); }
  Response resume(Request& r) const { return transition(r, &DropAdmin::resume); }
  Response close(Request& r) const { return transition(r, &DropAdmin::close); }
  // --- Drops (public).
  Response get_drop(Request& r) const {
    return render(service_.catalog.public_drop_json(r.param("slug")), 200, as_is);
  }
  Response manifest(Request& r) const;
  Response manifest_signature(Request& r) const;
  // --- Holds and claims (operator on behalf of an account).
  Response create_hold(Request& r) const;
  void confirm_hold(Request& r, Responder responder) const;
  void create_claim(Request& r, Responder responder) const;
  // --- Delivery, certificates and revocation.
  Response file(Request& r) const;
  Response certificate(Request& r) const;
  Response revoke(Request& r) const;
  Response revocations(Request&) const;
  Response revocations_signature(Request&) const;

 private:
  // Renders a drop as an operator's answer, its state as of now.
  std::function<std::string(const store::Drop&)> summary() const {
    return
        [this](const store::Drop& drop) { return drop_summary(drop, service_.clock().now_ms()); };
  }
  using Transition = Result<store::Drop> (DropAdmin::*)(std::string_view);
  Response transition(Request& r, Transition to) const {
    return idempotent(service_.idempotency, r, [&] {
      return render((service_.drops.*to)(r.param("slug")), 200, summary());
    });
  }

  OriginService& service_;
  store::Store& store_;
  metrics::Registry& metrics_;
  const std::string metrics_token_;
};

Response Handlers::readyz(Request&) const {
  auto version = store_.schema_version();
  if (!version)
    return http::problem_from_status(Status(problem::not_ready, version.error().message()));
  return http::json_response(
      200, R"({"status":"ready","schema_version":)" + std::to_string(*version) + "}");
}

Response Handlers::scrape(Request& r) const {
  if (auto refused = http::refuse_scrape(r, metrics_token_)) return std::move(*refused);
  return http::text_response(200, metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
}

// GET /v1/drops?limit=&after=: one page of drops; `limit` defaults to, and
// may not exceed, limits::drops_page_count_max; `after` is the slug the
// previous page ended with.
Response Handlers::list_drops(Request& r) const {
  uint32_t count_max = limits::drops_page_count_max;
  if (auto text = r.query_value("limit")) {
    auto value = parse_u32(*text);
    if (!value || *value < 1 || *value > limits::drops_page_count_max) {
      return http::problem_from_status(
          Status(problem::invalid_request, "limit must be a whole number from 1 to " +
                                               std::to_string(limits::drops_page_count_max)));
    }
    count_max = *value;
  }
  std::string_view after = r.query_value("after").value_or("");
  if (!after.empty()) {
    if (Status status = core::validate_slug(after); !status.ok())
      return http::problem_from_status(status.with_context("after"));
  }
  return render(service_.drops.list_drops_json(after, count_max), 200, as_is);
}

Response Handlers::create_drop(Request& r) const {
  return idempotent(service_.idempotency, r, [&] {
    store::DropSpec defaults;
    defaults.rights.license = "all-rights-reserved";
    auto spec = parse_drop_spec(r.body, defaults, service_.clock().now_ms());
    if (!spec) return http::problem_from_status(spec.error());
    return render(service_.drops.create_drop(*spec), 201, summary());
  });
}

Response Handlers::update_drop(Request& r) const {
  auto current = service_.drops.current_spec(r.param("slug"));
  if (!current) return http::problem_from_status(current.error());
  auto spec = parse_drop_spec(r.body, *current, service_.clock().now_ms());
  if (!spec) return http::problem_from_status(spec.error());
  if (spec->slug != r.param("slug")) {
    return http::problem_from_status(
        Status(problem::invalid_request, "a drop's slug cannot change"));
  }
  return render(service_.drops.update_drop(r.param("slug"), *spec), 200, summary());
}

Response Handlers::put_asset(Request& r) const {
  if (!r.spooled) return http::problem_from_status(Status(problem::invalid_request, "no body"));
  // From the file name, never the request's Content-Type: a careless client
  // sends form-urlencoded or octet-stream, and buyers would get that type.
  std::string type = core::guess_media_type(r.param("path"));
  auto asset = service_.drops.add_asset(r.param("slug"), r.param("path"), r.spooled->path,
                                        r.spooled->size_bytes, r.spooled->sha256, type);
  return render(asset, 201, [](const store::AssetRecord& a) {
    return boost::json::serialize(boost::json::object{
        {"path", a.path}, {"size", a.size_bytes}, {"sha256", a.sha256}, {"type", a.media_type}});
  });
}

Response Handlers::publish(Request& r) const {
  return idempotent(service_.idempotency, r, [&] {
    auto published = service_.drops.publish(r.param("slug"));
    if (!published) return http::problem_from_status(published.error());
    const store::ManifestRecord& m = published->manifest;
    // 201 when a new version was signed; 200 when nothing changed.
    return http::json_response(
        published->changed ? 201 : 200,
        boost::json::serialize(boost::json::object{
            {"version", m.version}, {"sha256", m.sha256}, {"changed", published->changed}}));
  });
}

Response Handlers::manifest(Request& r) const {
  auto m = service_.catalog.current_manifest(r.param("slug"));
  if (!m) return http::problem_from_status(m.error());
  auto response = http::json_response(200, m->json);
  response.headers.set(http::Field::etag, "\"" + m->sha256 + "\"");
  return response;
}

Response Handlers::manifest_signature(Request& r) const {
  auto m = service_.catalog.current_manifest(r.param("slug"));
  if (!m) return http::problem_from_status(m.error());
  return http::text_response(200, m->minisig, "text/plain; charset=utf-8");
}

Response Handlers::create_hold(Request& r) const {
  return idempotent(service_.idempotency, r, [&] {
    auto request = parse_claim_request(r.body);
    if (!request) return http::problem_from_status(request.error());
    return render(service_.claims.hold(r.param("slug"), *request, r.remote_address), 201,
                  [](const HoldOutcome& h) { return h.body_json; });
  });
}

void Handlers::confirm_hold(Request& r, Responder responder) const {
  auto refuse = [&](const Status& s) { std::move(responder).answer(http::problem_from_status(s)); };
  auto id = parse_u32(r.param("id"));
  if (!id) return refuse(Status(problem::not_found, "no such hold"));
  std::string payment_ref;
  if (!r.body.empty()) {
    auto body = json::parse_object(r.body, limits::request_body_bytes_max_anonymous);
    if (!body) return refuse(body.error());
    auto ref =
        json::get_optional_string(*body, "payment_ref", "confirm", limits::identifier_bytes_max);
    if (!ref) return refuse(ref.error());
    payment_ref = ref->value_or("");
  }
  auto idem = idempotency_of(r);
  if (!idem) return refuse(idem.error());
  // A confirm stores its key's answer with the claim, as a claim does: a
  // retried confirm finds its hold gone and defers to that answer.
  service_.claims.confirm_hold(*id, payment_ref, *idem,
                               claim_reply(service_.idempotency, *idem, std::move(responder)));
}

// The stored answer to an Idempotency-Key is read only when a claim does not
// succeed as new. A claim stores its key's answer in its own transaction, so
// it succeeds only if the key is new (nearly every claim: this saves a
// database round trip per claim), and a used key makes it fail; a refusal,
// whatever its cause, then defers to the stored answer (or 422), exactly
// as if the key had been looked up first. The answer comes once the claim's
// batch committed; no thread waits for it.
//
// It runs on an I/O thread (the route does not block): Claims::claim never
// waits, and a refusal, whose answer may read the store, goes to the
// handler pool.
void Handlers::create_claim(Request& r, Responder responder) const {
  Result<Idempotency> idem = idempotency_of(r);
  if (!idem) return std::move(responder).answer(http::problem_from_status(idem.error()));
  auto request = parse_claim_request(r.body);
  if (!request) {
    http::Responder::Runner run_blocking = responder.blocking_runner();
    return run_blocking([&idempotency = service_.idempotency, idem = std::move(*idem),
                         failure = std::move(request.error()),
                         responder = std::move(responder)]() mutable {
      std::move(responder).answer(answer_or_replay(idempotency, idem, std::unexpected(failure)));
    });
  }
  service_.claims.claim(r.param("slug"), *request, *idem,
                        claim_reply(service_.idempotency, *idem, std::move(responder)));
}

Response Handlers::file(Request& r) const {
  std::string_view token = bearer_token(r);
  if (token.empty()) token = r.query_value("token").value_or("");
  auto delivery = service_.downloads.resolve_download(r.param("slug"), r.param("path"), token);
  if (!delivery) return http::problem_from_status(delivery.error());
  Response response = http::file_response(r, delivery->blob_path, delivery->asset.size_bytes,
                                          delivery->asset.sha256, delivery->asset.media_type);
  if (const auto* body = std::get_if<http::FileBody>(&response.body);
      body && r.method == Verb::get) {
    // Only the response that delivers the last byte completes a download; a
    // resumed download counts once.
    bool reaches_end = body->offset + body->length == delivery->asset.size_bytes;
    service_.downloads.record_download_started(*delivery, body->offset);
    response.on_done = [s = &service_.downloads, d = *delivery, reaches_end](bool complete,
                                                                             uint64_t bytes) {
      s->record_download(d, complete, reaches_end, bytes);
    };
  }
  return response;
}

Response Handlers::certificate(Request& r) const {
  auto serial = parse_u32(r.param("serial"));
  if (!serial)
    return http::problem_from_status(Status(problem::not_found, "serials are whole numbers"));
  return render(service_.certificates.certificate_json(r.param("slug"), *serial), 200, as_is);
}

Response Handlers::revoke(Request& r) const {
  return idempotent(service_.idempotency, r, [&] {
    auto serial = parse_u32(r.param("serial"));
    if (!serial)
      return http::problem_from_status(Status(problem::not_found, "serials are whole numbers"));
    std::string reason = "revoked by operator";
    if (!r.body.empty()) {
      auto body = json::parse_object(r.body, limits::request_body_bytes_max_anonymous);
      if (!body) return http::problem_from_status(body.error());
      auto text =
          json::get_optional_string(*body, "reason", "revoke", limits::revocation_reason_bytes_max);
      if (!text) return http::problem_from_status(text.error());
      if (*text) reason = **text;
    }
    return render(service_.certificates.revoke(r.param("slug"), *serial, reason), 200, as_is);
  });
}

Response Handlers::revocations(Request&) const {
  auto list = service_.certificates.revocation_list();
  if (!list) return http::problem_from_status(list.error());
  return http::json_response(200, list->json);
}

Response Handlers::revocations_signature(Request&) const {
  auto list = service_.certificates.revocation_list();
  if (!list) return http::problem_from_status(list.error());
  return http::text_response(200, list->minisig, "text/plain; charset=utf-8");
}

}  // namespace

void add_routes(http::Router& router, OriginService& service, store::Store& store,
                metrics::Registry& metrics, const OperatorKeys& keys, std::string metrics_token) {
  // Runs on I/O threads: memory only, never the store (OperatorKeys).
  router.set_authenticator([&keys](const Request& r) { return keys.accepts(bearer_token(r)); });
  auto h = std::make_shared<const Handlers>(service, store, metrics, std::move(metrics_token));
  auto add = [&](Verb verb, std::string pattern, Response (Handlers::*handler)(Request&) const,
                 http::RouteOptions options) {
    router.add(
        verb, std::move(pattern), [h, handler](Request& r) { return (*h.*handler)(r); },
        std::move(options));
  };
  auto add_deferred = [&](Verb verb, std::string pattern,
                          void (Handlers::*handler)(Request&, Responder) const,
                          http::RouteOptions options) {
    router.add_deferred(
        verb, std::move(pattern),
        [h, handler](Request& r, Responder responder) { (*h.*handler)(r, std::move(responder)); },
        std::move(options));
  };
  auto op = [](std::string name) {
    return http::RouteOptions{.requires_auth = true,
                              .body_bytes_max = limits::request_body_bytes_max_json,
                              .name = std::move(name)};
  };
  auto pub = [](std::string name, bool blocking = true) {
    return http::RouteOptions{.name = std::move(name), .blocking = blocking};
  };
  auto upload = op("assets.put");
  upload.streaming = true;
  upload.body_bytes_max = service.config().upload_bytes_max;  // at most limits::upload_bytes_max

  add(Verb::get, "/healthz", &Handlers::healthz, pub("healthz", false));
  add(Verb::get, "/readyz", &Handlers::readyz, pub("readyz"));
  add(Verb::get, "/metrics", &Handlers::scrape, pub("metrics", false));
  add(Verb::get, "/.well-known/dropgate/keys.json", &Handlers::keys, pub("keys", false));
  add(Verb::get, "/v1/drops", &Handlers::list_drops, op("drops.list"));
  add(Verb::post, "/v1/drops", &Handlers::create_drop, op("drops.create"));
  add(Verb::patch, "/v1/drops/{slug}", &Handlers::update_drop, op("drops.update"));
  add(Verb::get, "/v1/drops/{slug}/status", &Handlers::drop_status, op("drops.status"));
  add(Verb::put, "/v1/drops/{slug}/assets/{path*}", &Handlers::put_asset, upload);
  add(Verb::delete_, "/v1/drops/{slug}/assets/{path*}", &Handlers::delete_asset,
      op("assets.delete"));
  add(Verb::post, "/v1/drops/{slug}/publish", &Handlers::publish, op("drops.publish"));
  add(Verb::post, "/v1/drops/{slug}/pause", &Handlers::pause, op("drops.pause"));
  add(Verb::post, "/v1/drops/{slug}/resume", &Handlers::resume, op("drops.resume"));
  add(Verb::post, "/v1/drops/{slug}/close", &Handlers::close, op("drops.close"));
  add(Verb::get, "/v1/drops/{slug}", &Handlers::get_drop, pub("drops.get"));
  add(Verb::get, "/v1/drops/{slug}/manifest.json", &Handlers::manifest, pub("manifest.get"));
  add(Verb::get, "/v1/drops/{slug}/manifest.json.minisig", &Handlers::manifest_signature,
      pub("manifest.signature"));
  add(Verb::post, "/v1/drops/{slug}/holds", &Handlers::create_hold, op("holds.create"));
  add_deferred(Verb::post, "/v1/holds/{id}/confirm", &Handlers::confirm_hold, op("holds.confirm"));
  auto claims_create = op("claims.create");
  claims_create.blocking = false;  // see create_claim
  add_deferred(Verb::post, "/v1/drops/{slug}/claims", &Handlers::create_claim, claims_create);
  add(Verb::get, "/v1/drops/{slug}/files/{path*}", &Handlers::file, pub("files.get"));
  add(Verb::get, "/v1/drops/{slug}/certificates/{serial}", &Handlers::certificate,
      pub("certificates.get"));
  add(Verb::post, "/v1/drops/{slug}/certificates/{serial}/revoke", &Handlers::revoke,
      op("certificates.revoke"));
  add(Verb::get, "/v1/revocations.json", &Handlers::revocations, pub("revocations.get"));
  add(Verb::get, "/v1/revocations.json.minisig", &Handlers::revocations_signature,
      pub("revocations.signature"));
  add_checkout_routes(router, service.checkout);
  add_stall_routes(router, service.stall_sales, service.idempotency);
  add_code_routes(router, service.codes);
}

}  // namespace dg::origin
