#include "origin/code_routes.h"

#include <boost/json.hpp>

#include "base/json.h"
#include "base/limits.h"
#include "base/problem_types.h"
#include "base/time.h"
#include "core/validate.h"

namespace dg::origin {
namespace {

using http::Request;
using http::Responder;
using http::Response;
using http::Verb;

// A CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
// A leading =, +, - or @ is quoted after an apostrophe, so a spreadsheet
// opening the file shows a label as text and never runs it as a formula.
std::string csv_field(std::string_view text) {
  std::string field(text);
  if (!field.empty() && std::string_view("=+-@").find(field[0]) != std::string_view::npos) {
    field.insert(0, "'");
  }
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string quoted = "\"";
  for (char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

// The printable CSV: a header row, then one code per line
// (docs/formats/claim-codes.md).
std::string codes_csv(const GeneratedCodes& generated) {
  std::string out = "code,drop,batch,label\r\n";
  std::string rest = "," + csv_field(generated.slug) + "," + std::to_string(generated.batch.id) +
                     "," + csv_field(generated.batch.label) + "\r\n";
  for (const std::string& code : generated.codes) out += code + rest;
  return out;
}

boost::json::object batch_json(const store::CodeBatch& batch) {
  return {{"batch", batch.id},
          {"label", batch.label},
          {"redeemer", batch.redeemer},
          {"created_at", format_rfc3339(batch.created_at_ms)},
          {"generated", batch.generated},
          {"used", batch.used},
          {"revoked", batch.revoked},
          {"unused", batch.unused()}};
}

bool wants_csv(const Request& r) {
  return r.header(http::Field::accept).find("text/csv") != std::string_view::npos;
}

// POST /v1/drops/{slug}/codes {"count":N,"label":"…"}. The codes are in this
// answer only (the store keeps their hashes), so it is never stored for an
// Idempotency-Key replay: a lost answer is a batch to revoke and make again.
Response generate(ClaimCodes& codes, Request& r) {
  auto o = json::parse_object(r.body, limits::request_body_bytes_max_anonymous);
  if (!o) return http::problem_from_status(o.error());
  if (Status s = json::only_keys(*o, {"count", "label"}, "codes"); !s.ok())
    return http::problem_from_status(s);
  auto count = json::get_int(*o, "count", "codes", 1, limits::code_batch_count_max);
  auto label = json::get_optional_string(*o, "label", "codes", limits::code_batch_label_bytes_max);
  if (!count) return http::problem_from_status(count.error());
  if (!label) return http::problem_from_status(label.error());
  auto generated =
      codes.generate(r.param("slug"), static_cast<uint32_t>(*count), label->value_or(""));
  if (!generated) return http::problem_from_status(generated.error());
  if (wants_csv(r)) {
    auto response = http::text_response(201, codes_csv(*generated), "text/csv; charset=utf-8");
    response.headers.set(http::Field::cache_control, "no-store");
    return response;
  }
  boost::json::object body = batch_json(generated->batch);
  body["drop"] = generated->slug;
  body["codes"] = boost::json::array(generated->codes.begin(), generated->codes.end());
  auto response = http::json_response(201, boost::json::serialize(body));
  response.headers.set(http::Field::cache_control, "no-store");
  return response;
}

// GET /v1/drops/{slug}/codes: the batches and their counts, never a code.
Response list(ClaimCodes& codes, Request& r) {
  auto batches = codes.list(r.param("slug"));
  if (!batches) return http::problem_from_status(batches.error());
  boost::json::array items;
  for (const store::CodeBatch& batch : *batches) items.push_back(batch_json(batch));
  return http::json_response(200, boost::json::serialize(boost::json::object{
                                      {"drop", r.param("slug")}, {"batches", std::move(items)}}));
}

// POST /v1/drops/{slug}/codes/revoke {"batch":id} or {"code":"…"}. Revoking
// again changes nothing, so a retry is safe without an Idempotency-Key.
Response revoke(ClaimCodes& codes, Request& r) {
  auto o = json::parse_object(r.body, limits::request_body_bytes_max_anonymous);
  if (!o) return http::problem_from_status(o.error());
  if (Status s = json::only_keys(*o, {"batch", "code"}, "revoke"); !s.ok())
    return http::problem_from_status(s);
  int64_t batch_id = 0;
  if (o->contains("batch")) {
    auto batch = json::get_int(*o, "batch", "revoke", 1, int64_t{1} << 53);
    if (!batch) return http::problem_from_status(batch.error());
    batch_id = *batch;
  }
  auto code = json::get_optional_string(*o, "code", "revoke", limits::claim_code_bytes_max);
  if (!code) return http::problem_from_status(code.error());
  auto revoked = codes.revoke(r.param("slug"), batch_id, code->value_or(""));
  if (!revoked) return http::problem_from_status(revoked.error());
  return http::json_response(
      200, boost::json::serialize(boost::json::object{{"revoked", revoked->revoked},
                                                      {"already_used", revoked->already_used}}));
}

Result<RedeemRequest> parse_redeem(std::string_view body) {
  auto o = json::parse_object(body, limits::request_body_bytes_max_anonymous);
  if (!o) return error(o.error());
  DG_RETURN_IF_ERROR_RESULT(json::only_keys(*o, {"code", "account", "territory"}, "redeem"));
  auto code = json::get_string(*o, "code", "redeem", limits::claim_code_bytes_max);
  auto account = json::get_optional_string(*o, "account", "redeem", limits::identifier_bytes_max);
  auto territory =
      json::get_optional_string(*o, "territory", "redeem", limits::territory_code_bytes);
  if (!code) return error(code.error());
  if (!account) return error(account.error());
  if (!territory) return error(territory.error());
  RedeemRequest request{*code, account->value_or(""), territory->value_or("")};
  if (!request.account.empty()) {
    DG_RETURN_IF_ERROR_RESULT(core::validate_identifier(request.account, "account"));
  }
  if (!request.territory.empty()) {
    DG_RETURN_IF_ERROR_RESULT(core::validate_territory(request.territory));
  }
  return request;
}

// POST /v1/drops/{slug}/codes/redeem: runs on the handler pool (blocking).
void redeem(ClaimCodes& codes, Request& r, Responder responder) {
  auto request = parse_redeem(r.body);
  if (!request) return std::move(responder).answer(http::problem_from_status(request.error()));
  http::Responder::Runner run_blocking = responder.blocking_runner();
  codes.redeem(r.param("slug"), *request, r.remote_address,
               ClaimReply{[responder = std::move(responder)](Result<ClaimOutcome> outcome) mutable {
                            std::move(responder).answer(
                                outcome ? http::json_response(outcome->status, outcome->body_json)
                                        : http::problem_from_status(outcome.error()));
                          },
                          std::move(run_blocking)});
}

}  // namespace

void add_code_routes(http::Router& router, ClaimCodes& codes) {
  auto op = [](std::string name) {
    return http::RouteOptions{.requires_auth = true,
                              .body_bytes_max = limits::request_body_bytes_max_json,
                              .name = std::move(name)};
  };
  router.add(
      Verb::post, "/v1/drops/{slug}/codes", [&codes](Request& r) { return generate(codes, r); },
      op("codes.generate"));
  router.add(
      Verb::get, "/v1/drops/{slug}/codes", [&codes](Request& r) { return list(codes, r); },
      op("codes.list"));
  router.add(
      Verb::post, "/v1/drops/{slug}/codes/revoke",
      [&codes](Request& r) { return revoke(codes, r); }, op("codes.revoke"));
  router.add_deferred(
      Verb::post, "/v1/drops/{slug}/codes/redeem",
      [&codes](Request& r, Responder responder) { redeem(codes, r, std::move(responder)); },
      http::RouteOptions{.body_bytes_max = limits::request_body_bytes_max_anonymous,
                         .name = "codes.redeem"});
}

}  // namespace dg::origin
