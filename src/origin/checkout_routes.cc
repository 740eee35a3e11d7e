#include "origin/checkout_routes.h"

#include <charconv>

#include "base/json.h"
#include "base/limits.h"
#include "base/problem_types.h"
#include "core/validate.h"

namespace dg::origin {
namespace {

using http::Request;
using http::Response;
using http::Verb;

Response render(const Result<std::string>& body, unsigned status) {
  if (!body) return http::problem_from_status(body.error());
  return http::json_response(status, *body);
}

// {"account": "…", "territory": "XX"?}: who pays, and where (when the drop
// is sold in some territories only).
Result<ClaimRequest> parse_checkout_request(std::string_view body) {
  auto o = json::parse_object(body, limits::request_body_bytes_max_anonymous);
  if (!o) return std::unexpected(o.error());
  DG_RETURN_IF_ERROR_RESULT(json::only_keys(*o, {"account", "territory"}, "checkout"));
  auto account = json::get_string(*o, "account", "checkout", limits::identifier_bytes_max);
  if (!account) return std::unexpected(account.error());
  auto territory =
      json::get_optional_string(*o, "territory", "checkout", limits::territory_code_bytes);
  if (!territory) return std::unexpected(territory.error());
  ClaimRequest request{*account, "", store::ClaimSource::payment, ""};
  if (*territory) {
    DG_RETURN_IF_ERROR_RESULT(core::validate_territory(**territory));
    request.territory = **territory;
  }
  return request;
}

}  // namespace

void add_checkout_routes(http::Router& router, Checkout& checkout) {
  router.add(
      Verb::post, "/v1/drops/{slug}/checkout",
      [&checkout](Request& r) {
        auto request = parse_checkout_request(r.body);
        if (!request) return http::problem_from_status(request.error());
        return render(checkout.start(r.param("slug"), *request, r.remote_address), 201);
      },
      http::RouteOptions{.body_bytes_max = limits::request_body_bytes_max_anonymous,
                         .name = "checkout.create"});
  router.add(
      Verb::get, "/v1/orders/{id}",
      [&checkout](Request& r) { return render(checkout.order_json(r.param("id")), 200); },
      http::RouteOptions{.name = "orders.get"});
  // The signature covers the body's exact bytes, so the handler gets them as
  // they came (never re-serialised). A request that carries the signature
  // header may send up to limits::webhook_body_bytes_max; the handler checks
  // the signature before reading anything.
  router.add_deferred(
      Verb::post, "/v1/webhooks/stripe",
      [&checkout](Request& r, http::Responder responder) {
        http::Responder::Runner run_blocking = responder.blocking_runner();
        ClaimReply reply{[responder = std::move(responder)](Result<ClaimOutcome> outcome) mutable {
                           std::move(responder).answer(
                               outcome ? http::json_response(outcome->status, outcome->body_json)
                                       : http::problem_from_status(outcome.error()));
                         },
                         std::move(run_blocking)};
        checkout.webhook(r.header("Stripe-Signature"), std::move(r.body), std::move(reply));
      },
      http::RouteOptions{.body_bytes_max = limits::webhook_body_bytes_max,
                         .name = "webhooks.stripe",
                         .admits_large_body = [](const Request& r) {
                           return !r.header("Stripe-Signature").empty();
                         }});
  router.add(
      Verb::get, "/v1/refunds",
      [&checkout](Request&) {
        return render(checkout.refunds_json(limits::refunds_list_count_max), 200);
      },
      http::RouteOptions{.requires_auth = true, .name = "refunds.list"});
  router.add(
      Verb::post, "/v1/refunds/{id}/retry",
      [&checkout](Request& r) {
        std::string_view text = r.param("id");
        int64_t id = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
        if (ec != std::errc() || end != text.data() + text.size())
          return http::problem_from_status(Status(problem::not_found, "no such refund"));
        return render(checkout.retry_refund(id), 200);
      },
      http::RouteOptions{.requires_auth = true,
                         .body_bytes_max = limits::request_body_bytes_max_anonymous,
                         .name = "refunds.retry"});
}

}  // namespace dg::origin
