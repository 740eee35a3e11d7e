#include "edge/sales_desk.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "base/encoding.h"
#include "base/file.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/problem_types.h"
#include "base/time.h"
#include "core/offline.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "http/client.h"

namespace dg::edge {
namespace {

using http::Request;
using http::Response;

std::string_view bearer(const Request& r) {
  std::string_view auth = r.header(http::Field::authorization);
  return auth.size() > 7 && auth.substr(0, 7) == "Bearer " ? auth.substr(7) : std::string_view{};
}

bool is_sha256_hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::filesystem::path operator_keys_file(const EdgeConfig& config) {
  return config.state_dir() / "operator_keys.json";
}

}  // namespace

SalesDesk::SalesDesk(const EdgeConfig& config, Catalog& catalog, store::SalesBook& book,
                     const core::TokenSigner& edge_signer, metrics::Registry& metrics,
                     const Clock& clock)
    : config_(config),
      catalog_(catalog),
      book_(book),
      signer_(edge_signer),
      metrics_(metrics),
      clock_(clock),
      pending_(metrics.gauge("dropgate_offline_sales_pending",
                             "Offline sales made here that the origin has not acknowledged.")) {
  refresh_metrics();
}

Status SalesDesk::set_operator_keys(std::vector<std::string> hashes) {
  std::unordered_set<std::string> fresh;
  for (auto& h : hashes) {
    if (is_sha256_hex(h)) fresh.insert(std::move(h));
  }
  {
    std::lock_guard lock(keys_mutex_);
    if (fresh == operator_key_hashes_) return Status();
  }
  boost::json::array list(fresh.begin(), fresh.end());
  DG_RETURN_IF_ERROR(write_file_atomic(operator_keys_file(config_), boost::json::serialize(list),
                                       0600, Overwrite::yes)
                         .with_context("operator keys"));
  std::lock_guard lock(keys_mutex_);
  operator_key_hashes_ = std::move(fresh);
  return Status();
}

Status SalesDesk::load_operator_keys() {
  if (!std::filesystem::exists(operator_keys_file(config_))) return Status();
  auto text = read_file(operator_keys_file(config_), limits::edge_state_file_bytes_max);
  if (!text) return text.error();
  auto list = json::parse(*text, limits::edge_state_file_bytes_max);
  if (!list || !list->is_array()) return Status(Code::corruption, "operator_keys.json");
  std::lock_guard lock(keys_mutex_);
  for (const auto& h : list->as_array()) {
    if (h.is_string()) operator_key_hashes_.insert(std::string(h.as_string()));
  }
  return Status();
}

bool SalesDesk::is_operator(std::string_view key) const {
  if (key.empty()) return false;
  std::string hash = hex_encode(crypto::sha256(as_bytes(key)));
  std::lock_guard lock(keys_mutex_);
  // A set lookup by the hash: the hash of a guess reveals nothing of a key.
  return operator_key_hashes_.contains(hash);
}

void SalesDesk::refresh_metrics() {
  auto pending = book_.pending();
  if (pending) pending_.set(pending->sales);
}

Response SalesDesk::cash(Request& request) {
  if (!is_operator(bearer(request))) {
    return http::problem_from_status(
        Status(problem::unauthorized, "a cash sale needs Authorization: Bearer <operator key>"));
  }
  std::string_view idem = request.header("Idempotency-Key");
  if (idem.empty() || idem.size() > limits::idempotency_key_bytes_max) {
    return http::problem_from_status(
        Status(problem::invalid_request, "a cash sale needs an Idempotency-Key"));
  }
  auto body = json::parse_object(request.body, limits::request_body_bytes_max_anonymous);
  if (!body) return http::problem_from_status(body.error());
  if (Status s = json::only_keys(*body, {"amount", "currency", "account", "reference"}, "cash");
      !s.ok()) {
    return http::problem_from_status(s);
  }
  auto amount = json::get_int(*body, "amount", "cash", 0, limits::price_amount_max);
  auto currency = json::get_string(*body, "currency", "cash", 3);
  auto account = json::get_optional_string(*body, "account", "cash", limits::identifier_bytes_max);
  auto reference =
      json::get_optional_string(*body, "reference", "cash", limits::identifier_bytes_max);
  if (!amount) return http::problem_from_status(amount.error());
  if (!currency) return http::problem_from_status(currency.error());
  if (!account) return http::problem_from_status(account.error());
  if (!reference) return http::problem_from_status(reference.error());
  return sell({std::string(request.param("slug")), "cash", "cash:" + std::string(idem),
               account->value_or(""), *amount, *currency, reference->value_or("")});
}

Result<uint32_t> SalesDesk::free_serial(const core::EdgeGrantFields& grant,
                                        const std::string& drop) {
  auto sold = book_.sold_serials(drop);
  if (!sold) return error(sold.error());
  std::set<uint32_t> taken(sold->begin(), sold->end());
  std::optional<uint32_t> best;
  for (const auto& lease : grant.leases) {
    if (lease.drop != drop) continue;
    for (uint32_t s = lease.first_serial; s <= lease.last_serial; ++s) {
      if (taken.contains(s)) continue;
      if (!best || s < *best) best = s;
      break;
    }
  }
  if (!best) {
    return error(problem::offline_no_lease,
                 "this edge has sold every serial of \"" + drop + "\" leased to it");
  }
  return *best;
}

Result<store::EdgeSale> SalesDesk::make_sale(const SaleRequest& sale,
                                             const Catalog::Serving& serving,
                                             const std::string& grant_token, uint32_t serial,
                                             int64_t now_ms) {
  const CarriedDrop& drop = *serving.drop;
  store::EdgeSale out;
  out.id = crypto::random_id();
  out.account = sale.account.empty() ? "sale-" + out.id : sale.account;
  // The origin's owner id needs its secret; an edge names the owner by a
  // random pseudonym of the same shape.
  std::string owner = std::string(core::owner_id_prefix) + crypto::random_id();
  core::CertFields cert{owner,
                        sale.drop,
                        serial,
                        drop.manifest.edition_size,
                        drop.manifest_sha256,
                        drop.manifest.rights,
                        serving.grant->common.token_id};
  std::string cert_id;
  auto cert_token = core::issue_cert(signer_, cert, now_ms, &cert_id);
  if (!cert_token) return error(cert_token.error());
  core::DownloadFields download{out.account, sale.drop, drop.manifest.version, {"*"}, cert_id};
  auto download_token = core::issue_download(
      signer_, download, now_ms, static_cast<uint32_t>(to_s(limits::download_token_ttl_default)));
  if (!download_token) return error(download_token.error());
  boost::json::array files;
  for (const auto& a : drop.manifest.assets) {
    files.push_back(
        boost::json::object{{"path", a.path},
                            {"size", a.size_bytes},
                            {"type", a.media_type},
                            {"url", "/v1/drops/" + sale.drop + "/files/" +
                                        http::encode_path(a.path) + "?token=" + *download_token}});
  }
  boost::json::object answer{{"drop", sale.drop},
                             {"serial", serial},
                             {"edition", drop.manifest.edition_size},
                             {"account", out.account},
                             {"owner", owner},
                             {"claimed_at", format_rfc3339(now_ms)},
                             {"certificate", *cert_token},
                             {"download_token", *download_token},
                             {"files", std::move(files)},
                             {"channel", sale.channel},
                             {"sale_id", out.id},
                             {"grant", grant_token}};
  out.sale_key = sale.sale_key;
  out.drop = sale.drop;
  out.serial = serial;
  out.channel = sale.channel;
  out.amount_minor = sale.amount_minor;
  out.currency = sale.currency;
  out.reference = sale.reference;
  out.cert_token = std::move(*cert_token);
  out.grant_token = grant_token;
  out.answer_json = boost::json::serialize(answer);
  out.sold_at_ms = now_ms;
  return out;
}

Response SalesDesk::sell(const SaleRequest& sale) {
  std::lock_guard lock(sale_mutex_);
  auto existing = book_.find(sale.sale_key);
  if (!existing) return http::problem_from_status(existing.error());
  if (*existing) return http::json_response(201, (*existing)->answer_json);  // a repeat
  const int64_t now_ms = clock_.now_ms();
  Catalog::Serving serving = catalog_.serving(sale.drop);
  const std::string grant_token = catalog_.grant_token();
  if (!serving.grant ||
      (serving.grant->common.expires_at_ms && now_ms > *serving.grant->common.expires_at_ms)) {
    return http::problem_from_status(
        Status(problem::edge_no_grant, "this edge holds no valid grant from its origin"));
  }
  if (!serving.drop) {
    return http::problem_from_status(
        Status(problem::drop_not_carried, "this edge does not carry \"" + sale.drop + "\""));
  }
  const auto& prices = serving.grant->fields.prices;
  auto price = std::find_if(prices.begin(), prices.end(),
                            [&](const core::OfflinePrice& p) { return p.drop == sale.drop; });
  if (price == prices.end()) {
    return http::problem_from_status(
        Status(problem::offline_no_lease, "this edge does not sell \"" + sale.drop + "\" offline"));
  }
  if (price->amount_minor != sale.amount_minor || price->currency != sale.currency) {
    return http::problem_from_status(Status(
        problem::invalid_request, "the amount must be the drop's price, " +
                                      std::to_string(price->amount_minor) + " " + price->currency));
  }
  auto serial = free_serial(serving.grant->fields, sale.drop);
  if (!serial) return http::problem_from_status(serial.error());
  auto pending = book_.pending();
  if (!pending) return http::problem_from_status(pending.error());
  Status allowed =
      core::check_offline_sale(serving.grant->fields, sale.drop, *serial, sale.amount_minor, now_ms,
                               to_ms(config_.clock_skew), {pending->sales, pending->value_minor});
  if (!allowed.ok()) {
    std::string_view cap = core::offline_cap_of(allowed);
    if (!cap.empty()) {
      metrics_
          .counter("dropgate_offline_cap_refusals_total", "Offline sales refused by a risk cap.",
                   {{"cap", std::string(cap)}})
          .inc();
    }
    return http::problem_from_status(allowed);
  }
  auto made = make_sale(sale, serving, grant_token, *serial, now_ms);
  if (!made) return http::problem_from_status(made.error());
  // Durable before the answer: a kill -9 after this loses nothing acknowledged.
  if (Status recorded = book_.record(*made); !recorded.ok()) {
    log::error("offline sale not recorded", {{"error", recorded.to_string()}});
    return http::problem_from_status(recorded);
  }
  metrics_.counter("dropgate_sales_total", "Sales by channel.", {{"channel", sale.channel}}).inc();
  pending_.set(pending->sales + 1);
  log::info(
      "offline sale",
      {{"drop", sale.drop}, {"serial", *serial}, {"channel", sale.channel}, {"sale_id", made->id}});
  return http::json_response(201, made->answer_json);
}

void add_edge_sales_routes(http::Router& router, SalesDesk& desk) {
  SalesDesk* d = &desk;
  router.add(
      http::Verb::post, "/v1/drops/{slug}/cash", [d](Request& r) { return d->cash(r); },
      http::RouteOptions{.body_bytes_max = limits::request_body_bytes_max_anonymous,
                         .name = "sales.cash"});
}

}  // namespace dg::edge
