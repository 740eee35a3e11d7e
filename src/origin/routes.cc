#include "origin/routes.h"

#include <boost/json.hpp>
#include <charconv>
#include <mutex>
#include <set>

#include "base/encoding.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/time.h"
#include "core/media_type.h"
#include "core/validate.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "http/scrape.h"

namespace dg::origin {
namespace {

using http::Request;
using http::Response;
using http::Verb;

constexpr std::string_view kOperatorScope = "operator";

template <typename T>
Response render(const Outcome<T>& outcome, unsigned status, auto&& to_body) {
  if (!outcome) return problem_from_refusal(outcome.error());
  return http::json_response(status, to_body(*outcome));
}

Response invalid(const Status& status) {
  return problem_from_refusal(refusal_from_status(status));
}

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
Response idempotent(OriginService& service, const Request& request,
                    const std::function<Response()>& run) {
  Result<Idempotency> idem = idempotency_of(request);
  if (!idem) return invalid(idem.error());
  if (idem->key.empty()) return run();
  std::string owner = crypto::random_id();
  if (auto answered = service.reserve_idempotency(*idem, owner)) {
    if (!*answered) return problem_from_refusal(answered->error());
    return http::json_response((*answered)->status, (*answered)->body);
  }
  Response response = run();
  const auto* body = std::get_if<std::string>(&response.body);
  if (!service.settle_idempotency(*idem, owner, response.status, body).ok() &&
      response.status / 100 == 2) {
    return http::problem(500, "internal", "Internal error",
                         "the action was done, but its answer could not be stored for "
                         "Idempotency-Key replays");
  }
  return response;
}

// A claim or a confirm writes its Idempotency-Key's answer in the claim's own
// transaction, so a used key makes it fail: a refusal, whatever its cause,
// then defers to the stored answer (or 422), exactly as if the key had been
// looked up first.
Response answer_or_replay(OriginService& service, const Idempotency& idem,
                          const Outcome<ClaimOutcome>& outcome) {
  if (outcome) return http::json_response(outcome->status, outcome->body_json);
  if (auto replayed = service.replay(idem)) {
    if (!*replayed) return problem_from_refusal(replayed->error());
    return http::json_response((*replayed)->status, (*replayed)->body);
  }
  return problem_from_refusal(outcome.error());
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

std::string drop_summary(const store::Drop& drop) {
  return boost::json::serialize(boost::json::object{{"slug", drop.spec.slug},
                                                    {"state", store::drop_state_name(drop.state)},
                                                    {"manifest_version", drop.manifest_version}});
}

std::optional<uint32_t> parse_u32(std::string_view text) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// GET /v1/drops?limit=&after=: one page of drops; `limit` defaults to, and
// may not exceed, limits::drops_page_count_max; `after` is the slug the
// previous page ended with.
Response list_drops(OriginService& service, const Request& request) {
  uint32_t count_max = limits::drops_page_count_max;
  if (auto text = request.query_value("limit")) {
    auto value = parse_u32(*text);
    if (!value || *value < 1 || *value > limits::drops_page_count_max) {
      return http::problem(
          400, "invalid-request", "Invalid request",
          "limit must be a whole number from 1 to " + std::to_string(limits::drops_page_count_max));
    }
    count_max = *value;
  }
  std::string_view after = request.query_value("after").value_or("");
  if (!after.empty()) {
    if (Status status = core::validate_slug(after); !status.ok())
      return invalid(status.with_context("after"));
  }
  return render(service.list_drops_json(after, count_max), 200,
                [](const std::string& b) { return b; });
}

std::string_view bearer_token(const Request& request) {
  std::string_view auth = request.header(http::Field::authorization);
  if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) {
    return auth.substr(7);
  }
  return {};
}

}  // namespace

Response problem_from_refusal(const Refusal& refusal) {
  Response response = http::problem(refusal.status, refusal.type, refusal.title, refusal.detail);
  if (refusal.retry_after_s > 0) {
    response.headers.set(http::Field::retry_after, std::to_string(refusal.retry_after_s));
  }
  return response;
}

void add_routes(http::Router& router, OriginService& service, store::Store& store,
                metrics::Registry& metrics, const OperatorKeys& keys, std::string metrics_token) {
  // Runs on I/O threads: memory only, never the store (OperatorKeys).
  router.set_authenticator([&keys](const Request& r) { return keys.accepts(bearer_token(r)); });
  http::RouteOptions operator_json{.requires_auth = true,
                                   .body_bytes_max = limits::request_body_bytes_max_json};
  auto op = [&](std::string name) {
    auto o = operator_json;
    o.name = std::move(name);
    return o;
  };
  auto pub = [](std::string name, bool blocking = true) {
    return http::RouteOptions{.name = std::move(name), .blocking = blocking};
  };
  OriginService* s = &service;
  store::Store* st = &store;

  // --- Operations.
  router.add(
      Verb::get, "/healthz",
      [](Request&) { return http::json_response(200, R"({"status":"ok"})"); },
      pub("healthz", false));
  router.add(
      Verb::get, "/readyz",
      [st](Request&) {
        auto version = st->schema_version();
        if (!version)
          return http::problem(503, "not-ready", "Not ready", version.error().message());
        return http::json_response(
            200, R"({"status":"ready","schema_version":)" + std::to_string(*version) + "}");
      },
      pub("readyz"));
  router.add(
      Verb::get, "/metrics",
      [&metrics, metrics_token](Request& r) {
        if (auto refused = http::refuse_scrape(r, metrics_token)) return std::move(*refused);
        return http::text_response(200, metrics.render(),
                                   "text/plain; version=0.0.4; charset=utf-8");
      },
      pub("metrics", false));
  router.add(
      Verb::get, "/.well-known/dropgate/keys.json",
      [s](Request&) { return http::json_response(200, s->keyring_json()); }, pub("keys", false));

  // --- Drops (operator).
  router.add(
      Verb::get, "/v1/drops", [s](Request& r) { return list_drops(*s, r); }, op("drops.list"));
  router.add(
      Verb::post, "/v1/drops",
      [s](Request& r) {
        return idempotent(*s, r, [&] {
          store::DropSpec defaults;
          defaults.rights.license = "all-rights-reserved";
          auto spec = parse_drop_spec(r.body, defaults, system_clock().now_ms());
          if (!spec) return invalid(spec.error());
          return render(s->create_drop(*spec), 201, drop_summary);
        });
      },
      op("drops.create"));
  router.add(
      Verb::patch, "/v1/drops/{slug}",
      [s](Request& r) {
        auto current = s->current_spec(r.param("slug"));
        if (!current) return problem_from_refusal(current.error());
        auto spec = parse_drop_spec(r.body, *current, system_clock().now_ms());
        if (!spec) return invalid(spec.error());
        if (spec->slug != r.param("slug")) {
          return http::problem(400, "invalid-request", "Invalid request",
                               "a drop's slug cannot change");
        }
        return render(s->update_drop(r.param("slug"), *spec), 200, drop_summary);
      },
      op("drops.update"));
  router.add(
      Verb::get, "/v1/drops/{slug}/status",
      [s](Request& r) {
        return render(s->operator_status_json(r.param("slug")), 200,
                      [](const std::string& b) { return b; });
      },
      op("drops.status"));
  auto upload = op("assets.put");
  upload.streaming = true;
  upload.body_bytes_max = service.config().upload_bytes_max;  // at most limits::upload_bytes_max
  router.add(
      Verb::put, "/v1/drops/{slug}/assets/{path*}",
      [s](Request& r) {
        if (!r.spooled) return http::problem(400, "invalid-request", "Invalid request", "no body");
        // From the file name, never the request's Content-Type: a careless client
        // sends form-urlencoded or octet-stream, and buyers would get that type.
        std::string type = core::guess_media_type(r.param("path"));
        auto asset = s->add_asset(r.param("slug"), r.param("path"), r.spooled->path,
                                  r.spooled->size_bytes, r.spooled->sha256, type);
        return render(asset, 201, [](const store::AssetRecord& a) {
          return boost::json::serialize(boost::json::object{{"path", a.path},
                                                            {"size", a.size_bytes},
                                                            {"sha256", a.sha256},
                                                            {"type", a.media_type}});
        });
      },
      upload);
  router.add(
      Verb::delete_, "/v1/drops/{slug}/assets/{path*}",
      [s](Request& r) {
        return render(s->remove_asset(r.param("slug"), r.param("path")), 200, drop_summary);
      },
      op("assets.delete"));
  router.add(
      Verb::post, "/v1/drops/{slug}/publish",
      [s](Request& r) {
        return idempotent(*s, r, [&] {
          auto published = s->publish(r.param("slug"));
          if (!published) return problem_from_refusal(published.error());
          const store::ManifestRecord& m = published->manifest;
          // 201 when a new version was signed; 200 when nothing changed.
          return http::json_response(
              published->changed ? 201 : 200,
              boost::json::serialize(boost::json::object{
                  {"version", m.version}, {"sha256", m.sha256}, {"changed", published->changed}}));
        });
      },
      op("drops.publish"));
  for (auto [verb_path, name] :
       {std::pair{"/pause", "drops.pause"}, std::pair{"/resume", "drops.resume"},
        std::pair{"/close", "drops.close"}}) {
    std::string action = verb_path;
    router.add(
        Verb::post, std::string("/v1/drops/{slug}") + verb_path,
        [s, action](Request& r) {
          return idempotent(*s, r, [&] {
            auto slug = r.param("slug");
            auto result = action == "/pause"    ? s->pause(slug)
                          : action == "/resume" ? s->resume(slug)
                                                : s->close(slug);
            return render(result, 200, drop_summary);
          });
        },
        op(name));
  }

  // --- Drops (public).
  router.add(
      Verb::get, "/v1/drops/{slug}",
      [s](Request& r) {
        return render(s->public_drop_json(r.param("slug")), 200,
                      [](const std::string& b) { return b; });
      },
      pub("drops.get"));
  router.add(
      Verb::get, "/v1/drops/{slug}/manifest.json",
      [s](Request& r) {
        auto m = s->current_manifest(r.param("slug"));
        if (!m) return problem_from_refusal(m.error());
        auto response = http::json_response(200, m->json);
        response.headers.set(http::Field::etag, "\"" + m->sha256 + "\"");
        return response;
      },
      pub("manifest.get"));
  router.add(
      Verb::get, "/v1/drops/{slug}/manifest.json.minisig",
      [s](Request& r) {
        auto m = s->current_manifest(r.param("slug"));
        if (!m) return problem_from_refusal(m.error());
        return http::text_response(200, m->minisig, "text/plain; charset=utf-8");
      },
      pub("manifest.signature"));

  // --- Holds and claims (operator on behalf of an account).
  router.add(
      Verb::post, "/v1/drops/{slug}/holds",
      [s](Request& r) {
        return idempotent(*s, r, [&] {
          auto request = parse_claim_request(r.body);
          if (!request) return invalid(request.error());
          return render(s->hold(r.param("slug"), *request, r.remote_address), 201,
                        [](const HoldOutcome& h) { return h.body_json; });
        });
      },
      op("holds.create"));
  router.add(
      Verb::post, "/v1/holds/{id}/confirm",
      [s](Request& r) {
        auto id = parse_u32(r.param("id"));
        if (!id) return http::problem(404, "not-found", "Not found", "no such hold");
        std::string payment_ref;
        if (!r.body.empty()) {
          auto body = json::parse_object(r.body, limits::request_body_bytes_max_anonymous);
          if (!body) return invalid(body.error());
          auto ref = json::get_optional_string(*body, "payment_ref", "confirm",
                                               limits::identifier_bytes_max);
          if (!ref) return invalid(ref.error());
          payment_ref = ref->value_or("");
        }
        auto idem = idempotency_of(r);
        if (!idem) return invalid(idem.error());
        // A confirm stores its key's answer with the claim, as a claim does: a
        // retried confirm finds its hold gone and defers to that answer.
        return answer_or_replay(*s, *idem, s->confirm_hold(*id, payment_ref, *idem));
      },
      op("holds.confirm"));
  // The stored answer to an Idempotency-Key is read only when a claim does not
  // succeed as new. A claim stores its key's answer in its own transaction, so
  // it succeeds only if the key is new (nearly every claim: this saves a
  // database round trip per claim), and a used key makes it fail; a refusal,
  // whatever its cause, then defers to the stored answer (or 422), exactly
  // as if the key had been looked up first.
  router.add(
      Verb::post, "/v1/drops/{slug}/claims",
      [s](Request& r) {
        Result<Idempotency> parsed_idem = idempotency_of(r);
        if (!parsed_idem) return invalid(parsed_idem.error());
        const Idempotency& idem = *parsed_idem;
        auto request = parse_claim_request(r.body);
        return answer_or_replay(*s, idem,
                                request ? s->claim(r.param("slug"), *request, idem)
                                        : std::unexpected(refusal_from_status(request.error())));
      },
      op("claims.create"));

  // --- Delivery.
  router.add(
      Verb::get, "/v1/drops/{slug}/files/{path*}",
      [s](Request& r) {
        std::string_view token = bearer_token(r);
        if (token.empty()) token = r.query_value("token").value_or("");
        auto delivery = s->resolve_download(r.param("slug"), r.param("path"), token);
        if (!delivery) return problem_from_refusal(delivery.error());
        Response response = http::file_response(r, delivery->blob_path, delivery->asset.size_bytes,
                                                delivery->asset.sha256, delivery->asset.media_type);
        if (const auto* body = std::get_if<http::FileBody>(&response.body);
            body && r.method == Verb::get) {
          // Only the response that delivers the last byte completes a download; a
          // resumed download counts once.
          bool reaches_end = body->offset + body->length == delivery->asset.size_bytes;
          s->record_download_started(*delivery, body->offset);
          response.on_done = [s, d = *delivery, reaches_end](bool complete, uint64_t bytes) {
            s->record_download(d, complete, reaches_end, bytes);
          };
        }
        return response;
      },
      pub("files.get"));

  // --- Certificates and revocation.
  router.add(
      Verb::get, "/v1/drops/{slug}/certificates/{serial}",
      [s](Request& r) {
        auto serial = parse_u32(r.param("serial"));
        if (!serial)
          return http::problem(404, "not-found", "Not found", "serials are whole numbers");
        return render(s->certificate_json(r.param("slug"), *serial), 200,
                      [](const std::string& b) { return b; });
      },
      pub("certificates.get"));
  router.add(
      Verb::post, "/v1/drops/{slug}/certificates/{serial}/revoke",
      [s](Request& r) {
        return idempotent(*s, r, [&] {
          auto serial = parse_u32(r.param("serial"));
          if (!serial)
            return http::problem(404, "not-found", "Not found", "serials are whole numbers");
          std::string reason = "revoked by operator";
          if (!r.body.empty()) {
            auto body = json::parse_object(r.body, limits::request_body_bytes_max_anonymous);
            if (!body) return invalid(body.error());
            auto text = json::get_optional_string(*body, "reason", "revoke",
                                                  limits::revocation_reason_bytes_max);
            if (!text) return invalid(text.error());
            if (*text) reason = **text;
          }
          return render(s->revoke(r.param("slug"), *serial, reason), 200,
                        [](const std::string& b) { return b; });
        });
      },
      op("certificates.revoke"));
  router.add(
      Verb::get, "/v1/revocations.json",
      [s](Request&) {
        auto list = s->revocation_list();
        if (!list) return problem_from_refusal(list.error());
        return http::json_response(200, list->json);
      },
      pub("revocations.get"));
  router.add(
      Verb::get, "/v1/revocations.json.minisig",
      [s](Request&) {
        auto list = s->revocation_list();
        if (!list) return problem_from_refusal(list.error());
        return http::text_response(200, list->minisig, "text/plain; charset=utf-8");
      },
      pub("revocations.signature"));
}

}  // namespace dg::origin
