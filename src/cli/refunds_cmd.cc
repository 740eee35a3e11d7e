// `dropgate refunds list` and `dropgate refunds retry ID`: the origin's
// refund queue (online checkout: docs/formats/orders.md), for operators.
#include <boost/json.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "http/client.h"

namespace dg::cli {
namespace {

struct RefundsOptions {
  std::string origin;
  std::string api_key;
  bool json = false;
  int64_t id = 0;
};

void add_flags(CLI::App* cmd, RefundsOptions& o) {
  cmd->add_option("--origin", o.origin,
                  "Origin URL (env DROPGATE_ORIGIN, default http://127.0.0.1:8080)");
  cmd->add_option("--api-key", o.api_key, "Operator API key (env DROPGATE_API_KEY)");
  cmd->add_flag("--json", o.json, "Print the origin's JSON answer (one line) instead of a summary");
}

Result<std::unique_ptr<http::ApiClient>> client_for(RefundsOptions& o) {
  if (o.origin.empty()) {
    const char* env = std::getenv("DROPGATE_ORIGIN");
    o.origin = env && *env ? env : "http://127.0.0.1:8080";
  }
  if (o.api_key.empty()) {
    const char* env = std::getenv("DROPGATE_API_KEY");
    if (env) o.api_key = env;
  }
  if (o.api_key.empty()) {
    return error(
        Code::invalid_argument,
        "no operator API key: pass --api-key or set DROPGATE_API_KEY (dropgate init prints one)");
  }
  return std::make_unique<http::ApiClient>(o.origin, o.api_key);
}

// "17  failed     3 attempts  1500 EUR  sold-out  order Xy…  next 2026-12-06T10:00:30Z  HTTP 500"
void print_refund(const boost::json::object& r, std::ostream& out) {
  out << json_int(r, "id") << "  " << json_text(r, "state") << "  " << json_int(r, "attempts")
      << " attempt(s)  " << json_int(r, "amount") << " " << json_text(r, "currency") << "  "
      << json_text(r, "reason") << "  order " << json_text(r, "order");
  if (json_text(r, "state") != "succeeded") out << "  next " << json_text(r, "next_attempt_at");
  if (std::string err = json_text(r, "last_error"); !err.empty() && err != "?")
    out << "  last error: " << err;
  out << "\n";
}

Status list(RefundsOptions& o) {
  auto client = client_for(o);
  if (!client) return client.error();
  return print_answer((*client)->call("GET", "/v1/refunds"), o.json,
                      [](const boost::json::object& answer, std::ostream& out) {
                        const boost::json::value* refunds = answer.if_contains("refunds");
                        if (!refunds || !refunds->is_array() || refunds->get_array().empty()) {
                          out << "no refunds\n";
                          return;
                        }
                        for (const auto& r : refunds->get_array())
                          if (r.is_object()) print_refund(r.get_object(), out);
                      });
}

Status retry(RefundsOptions& o) {
  auto client = client_for(o);
  if (!client) return client.error();
  return print_answer(
      (*client)->call("POST", "/v1/refunds/" + std::to_string(o.id) + "/retry", "{}"), o.json,
      print_refund);
}

}  // namespace

void add_refunds_commands(CLI::App& app, int& exit_code) {
  auto* refunds = app.add_subcommand("refunds", "The refund queue of online checkout (operator)");
  refunds->require_subcommand(1);
  auto lo = std::make_shared<RefundsOptions>();
  auto* list_cmd = refunds->add_subcommand("list", "List refunds, newest first");
  add_flags(list_cmd, *lo);
  list_cmd->callback([&exit_code, lo] { exit_code = report(list(*lo)); });
  auto ro = std::make_shared<RefundsOptions>();
  auto* retry_cmd =
      refunds->add_subcommand("retry", "Ask the payment provider for a queued refund now");
  add_flags(retry_cmd, *ro);
  retry_cmd->add_option("ID", ro->id, "Refund id (from `dropgate refunds list`)")->required();
  retry_cmd->callback([&exit_code, ro] { exit_code = report(retry(*ro)); });
}

}  // namespace dg::cli
