// The origin's side of offline sales: an edge reports what it sold from its
// lease (docs/formats/sync.md, "Offline sales"). Each sale is checked through
// the chain of signatures (core::verify_edge_cert) and recorded with the
// existing claim path of the store — UNIQUE(drop, serial), inside a lease the
// edge's seller still holds — as a claim whose payment reference names the
// edge and the sale id, so a sale reported any number of times counts once.
#include <boost/json.hpp>
#include <variant>

#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/problem_types.h"
#include "base/time.h"
#include "origin/edge_leases.h"
#include "origin/edges.h"

namespace dg::origin {
namespace {

struct ReportedSale {
  std::string id;
  std::string drop;
  std::string channel;
  std::string account;
  int64_t amount_minor = 0;
  std::string currency;
  std::string certificate;
  std::string grant;
};

Result<ReportedSale> parse_sale(const boost::json::value& item) {
  if (!item.is_object()) return error(problem::invalid_request, "sales are objects");
  const auto& o = item.as_object();
  auto id = json::get_string(o, "id", "sale", limits::identifier_bytes_max);
  auto drop = json::get_string(o, "drop", "sale", limits::drop_slug_bytes_max);
  auto channel = json::get_string(o, "channel", "sale", limits::identifier_bytes_max);
  auto account = json::get_string(o, "account", "sale", limits::identifier_bytes_max);
  auto amount = json::get_int(o, "amount", "sale", 0, limits::price_amount_max);
  auto currency = json::get_string(o, "currency", "sale", 3);
  auto cert = json::get_string(o, "certificate", "sale", limits::token_bytes_max);
  auto grant = json::get_string(o, "grant", "sale", limits::token_bytes_max);
  if (!id || !drop || !channel || !account || !amount || !currency || !cert || !grant) {
    return error(problem::invalid_request,
                 "a sale needs id, drop, channel, account, amount, currency, certificate, grant");
  }
  return ReportedSale{*id, *drop, *channel, *account, *amount, *currency, *cert, *grant};
}

// The claim source of a channel.
std::optional<store::ClaimSource> source_of(std::string_view channel) {
  if (channel == "receipt") return store::ClaimSource::receipt;
  if (channel == "cash") return store::ClaimSource::cash;
  if (channel == "code") return store::ClaimSource::code;
  return std::nullopt;
}

// The claim a reported sale becomes, or why it is refused.
std::variant<store::ClaimInsert, std::string> claim_for(store::Store& store,
                                                        const crypto::Keyring& keyring,
                                                        const core::VerifyOptions& options,
                                                        const store::EdgeRecord& edge,
                                                        const ReportedSale& sale) {
  auto verified = core::verify_edge_cert(keyring, sale.grant, sale.certificate, options);
  if (!verified) return verified.error().message();
  if (verified->grant.edge_key.key_id() != edge.key_id) return "the grant is another edge's";
  auto drop = store.get_drop(sale.drop);
  if (!drop || verified->cert.fields.drop != sale.drop)
    return std::string("the certificate is for another drop");
  auto source = source_of(sale.channel);
  if (!source) return "unknown channel \"" + sale.channel + "\"";
  if (sale.amount_minor != drop->spec.price_minor || sale.currency != drop->spec.currency)
    return std::string("the amount is not the drop's price");
  store::ClaimInsert insert;
  insert.drop_id = drop->id;
  insert.serial = verified->cert.fields.serial;
  insert.account = sale.account;
  insert.source = *source;
  insert.payment_ref = "edge:" + std::to_string(edge.id) + ":" + sale.id;
  insert.cert_id = verified->cert.common.token_id;
  insert.cert_token = sale.certificate;
  // The sale happened offline: the per-buyer limit cannot undo it.
  insert.per_buyer_limit = limits::edition_size_max;
  insert.at_ms = verified->cert.common.issued_at_ms;
  insert.seller_id = edge_seller_id(edge.id);
  boost::json::object detail{{"source", store::claim_source_name(*source)},
                             {"channel", sale.channel},
                             {"edge_id", edge.id},
                             {"sale_id", sale.id}};
  insert.events.push_back({"claim", drop->id, insert.serial, sale.account,
                           boost::json::serialize(detail), insert.at_ms, ""});
  return insert;
}

}  // namespace

Result<std::string> EdgeHub::ingest_sales(const http::Request& request) {
  auto edge = authenticate(request);
  auto body = json::parse_object(request.body, limits::request_body_bytes_max_json);
  if (!body) return error(body.error());
  auto sales = json::get_array(*body, "sales", "sales", limits::edge_push_sales_max);
  if (!sales) return error(sales.error());
  // A revoked edge, or one whose grant ended, may be a lost one: its sales
  // are then recorded and refused.
  if (!edge && (edge.error().type() == &problem::edge_revoked ||
                edge.error().type() == &problem::grant_refused))
    return refuse_lost_sales(request, **sales, edge.error());
  if (!edge) return std::unexpected(edge.error());
  const int64_t now_ms = parts_.clock.now_ms();
  core::VerifyOptions options{now_ms, parts_.config.clock_skew, parts_.config.issuer};
  std::vector<store::ClaimInsert> inserts;
  std::vector<ReportedSale> inserted;
  std::vector<store::Event> refusals;
  boost::json::array acknowledged;
  auto refuse = [&](const ReportedSale& sale, const std::string& why) {
    log::warn("offline sale refused", {{"edge_id", edge->id}, {"sale_id", sale.id}, {"why", why}});
    boost::json::object detail{{"edge_id", edge->id}, {"sale_id", sale.id}, {"reason", why}};
    refusals.push_back({"offline.sale_refused", 0, std::nullopt, sale.account,
                        boost::json::serialize(detail), now_ms,
                        edge->key_id + ":sale-refused:" + sale.id});
    acknowledged.push_back(boost::json::value(sale.id));  // recorded, so the edge may forget it
  };
  for (const auto& item : **sales) {
    auto sale = parse_sale(item);
    if (!sale) return error(sale.error());
    auto claim = claim_for(parts_.store, parts_.keyring, options, *edge, *sale);
    if (auto* why = std::get_if<std::string>(&claim)) {
      refuse(*sale, *why);
    } else {
      inserts.push_back(std::move(std::get<store::ClaimInsert>(claim)));
      inserted.push_back(std::move(*sale));
    }
  }
  uint32_t accepted = 0, repeated = 0;
  auto results = parts_.store.record_claims(inserts);
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& sale = inserted[i];
    if (results[i]) {
      ++accepted;
      acknowledged.push_back(boost::json::value(sale.id));
      if (parts_.metrics) {
        parts_.metrics
            ->counter("dropgate_sales_total", "Sales by channel.", {{"channel", sale.channel}})
            .inc();
      }
      continue;
    }
    if (results[i].error().code() == Code::unavailable) continue;  // the edge reports it again
    auto existing = parts_.store.get_claim(inserts[i].drop_id, inserts[i].serial);
    if (existing && existing->payment_ref == inserts[i].payment_ref) {
      ++repeated;  // reported before: counted once
      acknowledged.push_back(boost::json::value(sale.id));
      continue;
    }
    refuse(sale, results[i].error().message());
  }
  if (!refusals.empty()) {
    auto stored = parts_.store.append_events(refusals);
    if (!stored) return error(stored.error());  // nothing acknowledged: the edge reports again
  }
  return boost::json::serialize(boost::json::object{{"acknowledged", std::move(acknowledged)},
                                                    {"accepted", accepted},
                                                    {"repeated", repeated},
                                                    {"refused", refusals.size()}});
}

}  // namespace dg::origin
