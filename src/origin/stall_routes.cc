// The stall-sale routes (docs/api/openapi.yaml, docs/formats/receipt.md):
//
//   POST /v1/readers                        operator: register a payment reader
//   GET  /v1/readers                        operator: the registered readers
//   POST /v1/readers/{id}/revoke            operator: its receipts stop selling
//   POST /v1/readers/{id}/declines          operator: a transaction was declined
//   POST /v1/declines                       public: a reader's signed decline
//   POST /v1/drops/{slug}/receipts          public: a signed receipt → a serial
//   POST /v1/drops/{slug}/cash              operator: sold for cash → a serial
//   GET  /v1/drops/{slug}/sales?state=      operator: the drop's stall sales
#include <charconv>

#include "base/limits.h"
#include "base/problem_types.h"
#include "origin/routes.h"

namespace dg::origin {
namespace {

using http::Request;
using http::Responder;
using http::Response;
using http::Verb;

Response render(const Result<std::string>& outcome, unsigned status) {
  if (!outcome) return http::problem_from_status(outcome.error());
  return http::json_response(status, *outcome);
}

// A sale's answer through its Responder: the claim's JSON, or its problem.
ClaimReply sale_reply(Responder responder) {
  http::Responder::Runner run_blocking = responder.blocking_runner();
  return ClaimReply{[responder = std::move(responder)](Result<ClaimOutcome> outcome) mutable {
                      std::move(responder).answer(
                          outcome ? http::json_response(outcome->status, outcome->body_json)
                                  : http::problem_from_status(outcome.error()));
                    },
                    std::move(run_blocking)};
}

// The query parameter `name` as a whole number in [low, high]; `fallback` when absent.
Result<int64_t> query_number(const Request& r, std::string_view name, int64_t low, int64_t high,
                             int64_t fallback) {
  auto text = r.query_value(name);
  if (!text) return fallback;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < low || value > high) {
    return error(problem::invalid_request, std::string(name) + " must be a whole number from " +
                                               std::to_string(low) + " to " + std::to_string(high));
  }
  return value;
}

// GET …/sales: ?state=accepted|declined, ?after=<id>, ?limit=1..sales_page_count_max.
Response list_sales(StallSales& sales, Request& r) {
  std::optional<store::SaleState> state;
  if (auto text = r.query_value("state")) {
    if (*text == "accepted") {
      state = store::SaleState::accepted;
    } else if (*text == "declined") {
      state = store::SaleState::declined;
    } else {
      return http::problem_from_status(
          Status(problem::invalid_request, "state must be accepted or declined"));
    }
  }
  auto after_id = query_number(r, "after", 0, INT64_MAX, 0);
  auto count_max =
      query_number(r, "limit", 1, limits::sales_page_count_max, limits::sales_page_count_max);
  if (!after_id) return http::problem_from_status(after_id.error());
  if (!count_max) return http::problem_from_status(count_max.error());
  return render(
      sales.sales_json(r.param("slug"), state, *after_id, static_cast<uint32_t>(*count_max)), 200);
}

}  // namespace

void add_stall_routes(http::Router& router, StallSales& sales, IdempotencyRecords& idempotency) {
  StallSales* s = &sales;
  IdempotencyRecords* records = &idempotency;
  auto op = [](std::string name) {
    return http::RouteOptions{.requires_auth = true,
                              .body_bytes_max = limits::request_body_bytes_max_json,
                              .name = std::move(name)};
  };
  auto pub = [](std::string name) {
    return http::RouteOptions{.body_bytes_max = limits::request_body_bytes_max_anonymous,
                              .name = std::move(name)};
  };
  router.add(
      Verb::post, "/v1/readers",
      [s, records](Request& r) {
        return idempotent(*records, r, [&] { return render(s->register_reader(r.body), 201); });
      },
      op("readers.create"));
  router.add(
      Verb::get, "/v1/readers", [s](Request&) { return render(s->list_readers_json(), 200); },
      op("readers.list"));
  router.add(
      Verb::post, "/v1/readers/{id}/revoke",
      [s](Request& r) { return render(s->revoke_reader(r.param("id")), 200); },
      op("readers.revoke"));
  router.add(
      Verb::post, "/v1/readers/{id}/declines",
      [s](Request& r) { return render(s->decline_by_operator(r.param("id"), r.body), 200); },
      op("readers.decline"));
  router.add(
      Verb::post, "/v1/declines",
      [s](Request& r) { return render(s->decline_by_reader(r.body), 200); },
      pub("declines.create"));
  router.add_deferred(
      Verb::post, "/v1/drops/{slug}/receipts",
      [s](Request& r, Responder responder) {
        s->exchange_receipt(r.param("slug"), r.body, sale_reply(std::move(responder)));
      },
      pub("receipts.exchange"));
  router.add_deferred(
      Verb::post, "/v1/drops/{slug}/cash",
      [s](Request& r, Responder responder) {
        auto idem = idempotency_of(r);
        if (!idem) return std::move(responder).answer(http::problem_from_status(idem.error()));
        s->sell_for_cash(r.param("slug"), r.body, *idem, sale_reply(std::move(responder)));
      },
      op("cash.create"));
  router.add(
      Verb::get, "/v1/drops/{slug}/sales", [s](Request& r) { return list_sales(*s, r); },
      op("sales.list"));
}

}  // namespace dg::origin
