// Edges giving serials back (issue #13; DESIGN.md "Scarcity", rule 4;
// docs/formats/sync.md "Releases" and "Lost edges").
//
// The release rule. An edge asks to release a lease only after (a) its
// sell_until has passed by its own clock, so it sells nothing more from it,
// and (b) the origin acknowledged every sale it made: it reports its sales
// first in the same round. The origin then gives back only the serials of
// that lease that are not claims; the lease row is deleted in the same
// transaction. A sale of that lease reported later (an edge that broke rule
// (b), or a lost edge) can no longer become a claim: the claim path requires
// the serial to lie in a lease the edge's seller still holds, or, once the
// serial was leased and sold again, UNIQUE(drop, serial) refuses it. Either
// way the origin records the refusal (offline.sale_refused, or
// edge.lost_sale for a lost edge): never a silent drop, never a double sale.
// The origin also refuses to release a lease before its sell_until less the
// clock-skew margin by its own clock, so an edge with a fast clock cannot
// hand back serials it may still sell.
//
// A revoked edge keeps its leases (DESIGN.md rule 4: edge leases are never
// reclaimed by timeout): it may hold sales it has not reported, and the
// origin refuses its reports (edge-revoked) while the edge keeps them. Only
// declaring it lost returns its serials, at the operator's word; from then
// on its reports are recorded as refused and listed for follow-up.
#include "origin/edge_lost.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/problem_types.h"
#include "base/time.h"
#include "crypto/sha256.h"
#include "origin/edge_leases.h"
#include "origin/edges.h"

namespace dg::origin {
namespace {

constexpr std::string_view kLostKind = "edge.lost";
constexpr std::string_view kLostSaleKind = "edge.lost_sale";

std::string_view bearer_of(const http::Request& r) {
  std::string_view auth = r.header(http::Field::authorization);
  return auth.size() > 7 && auth.substr(0, 7) == "Bearer " ? auth.substr(7) : std::string_view{};
}

std::optional<boost::json::object> detail_of(const store::Event& event) {
  boost::system::error_code ec;
  auto detail = boost::json::parse(event.detail_json, ec);
  if (ec || !detail.is_object()) return std::nullopt;
  return std::move(detail.as_object());
}

int64_t edge_id_of(const store::Event& event) {
  auto detail = detail_of(event);
  if (!detail) return 0;
  const auto* id = detail->if_contains("edge_id");
  return id && id->is_int64() ? id->as_int64() : 0;
}

int64_t skew_ms_of(const OriginConfig& config) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(config.clock_skew).count();
}

}  // namespace

Result<uint32_t> release_edge_lease(store::Store& store, int64_t edge_id,
                                    const core::GrantLease& lease, int64_t now_ms,
                                    int64_t skew_ms) {
  if (now_ms < lease.sell_until_ms - skew_ms) {
    return error(problem::conflict, "the lease of " + lease.drop + " sells until " +
                                        format_rfc3339(lease.sell_until_ms) +
                                        ": too early to release it");
  }
  auto drop = store.get_drop(lease.drop);
  if (!drop) return error(problem::not_found, "no drop \"" + lease.drop + "\"");
  auto count = store.release_lease(edge_seller_id(edge_id), drop->id, lease.first_serial,
                                   lease.last_serial, now_ms);
  if (!count && count.error().code() == Code::not_found) return 0u;  // released before
  return count;
}

Result<std::optional<store::Event>> edge_lost_record(store::Store& store, int64_t edge_id) {
  auto events = store.list_events(0, kLostKind, limits::events_list_count_max);
  if (!events) return error(events.error());
  for (auto& e : *events) {
    if (edge_id_of(e) == edge_id) return std::optional<store::Event>(std::move(e));
  }
  return std::optional<store::Event>();
}

Result<uint32_t> declare_edge_lost(store::Store& store, int64_t edge_id, const std::string& reason,
                                   const std::string& by, int64_t now_ms) {
  auto edge = store.get_edge(edge_id);
  if (!edge) return error(edge.error());
  auto already = edge_lost_record(store, edge_id);
  if (!already) return error(already.error());
  if (*already)
    return error(problem::conflict, "edge " + std::to_string(edge_id) + " is lost already");
  // Revoked first: from here its syncs and reports are refused, so no sale
  // of it can become a claim while its serials go back.
  if (edge->state != store::EdgeState::revoked) {
    auto updated = store.update_edge(edge_id, store::EdgeState::revoked, {}, "", now_ms);
    if (!updated) return error(updated.error());
  }
  // Every serial of its leases that is not a claim returns to the pool;
  // what it sold and never reported is refused when (if ever) it reports.
  auto returned = store.release_leases(edge_seller_id(edge_id), now_ms);
  if (!returned && returned.error().code() != Code::not_found) return error(returned.error());
  const uint32_t n = returned ? *returned : 0;
  boost::json::object detail{{"edge_id", edge_id}, {"reason", reason}, {"by", by}, {"returned", n}};
  auto stored = store.append_events(
      {{std::string(kLostKind), 0, std::nullopt, "", boost::json::serialize(detail), now_ms,
        "edge-lost:" + std::to_string(edge_id)}});
  if (!stored) return error(stored.error());
  log::warn("edge declared lost",
            {{"edge_id", edge_id}, {"by", by}, {"returned", n}, {"reason", reason}});
  return n;
}

Status record_lost_sales(store::Store& store, int64_t edge_id, const std::vector<LostSale>& sales,
                         int64_t now_ms) {
  std::vector<store::Event> events;
  for (const auto& sale : sales) {
    boost::json::object detail{{"edge_id", edge_id},
                               {"sale_id", sale.id},
                               {"drop", sale.drop},
                               {"channel", sale.channel},
                               {"amount", sale.amount_minor},
                               {"currency", sale.currency},
                               {"verified", sale.serial.has_value()}};
    events.push_back({std::string(kLostSaleKind), 0, sale.serial, sale.account,
                      boost::json::serialize(detail), now_ms,
                      "edge-lost-sale:" + std::to_string(edge_id) + ":" + sale.id});
    log::warn("sale of a lost edge refused", {{"edge_id", edge_id}, {"sale_id", sale.id}});
  }
  if (events.empty()) return Status();
  auto stored = store.append_events(events);
  return stored ? Status() : stored.error();
}

Result<std::string> lost_sales_json(store::Store& store, int64_t edge_id) {
  auto edge = store.get_edge(edge_id);
  if (!edge) return error(edge.error());
  auto lost = edge_lost_record(store, edge_id);
  if (!lost) return error(lost.error());
  auto events = store.list_events(0, kLostSaleKind, limits::events_list_count_max);
  if (!events) return error(events.error());
  boost::json::array sales;
  for (const auto& e : *events) {
    auto detail = detail_of(e);
    if (!detail || edge_id_of(e) != edge_id) continue;
    detail->erase("edge_id");
    (*detail)["account"] = e.account;
    if (e.serial) (*detail)["serial"] = *e.serial;
    (*detail)["reported_at"] = format_rfc3339(e.at_ms);
    sales.push_back(std::move(*detail));
  }
  boost::json::object out{
      {"edge_id", edge_id}, {"lost", lost->has_value()}, {"sales", std::move(sales)}};
  if (*lost) {
    out["lost_at"] = format_rfc3339((*lost)->at_ms);
    if (auto d = detail_of(**lost)) {
      out["reason"] = (*d)["reason"];
      out["by"] = (*d)["by"];
    }
  }
  return boost::json::serialize(out);
}

// --- HTTP.

Result<std::string> EdgeHub::release_leases(const http::Request& request) {
  auto edge = authenticate(request);
  if (!edge) return std::unexpected(edge.error());
  auto body = json::parse_object(request.body, limits::request_body_bytes_max_json);
  if (!body) return error(body.error());
  auto leases = json::get_array(*body, "leases", "releases", limits::token_assets_count_max);
  if (!leases) return error(leases.error());
  const int64_t now_ms = parts_.clock.now_ms();
  // sell_until as the grant names it: only leases of the edge's own grant.
  core::VerifyOptions untimed{now_ms, parts_.config.clock_skew, parts_.config.issuer};
  untimed.check_times = false;
  auto grant = core::verify_edge_grant(parts_.keyring, edge->grant_token, untimed);
  if (!grant) return error(problem::conflict, "this edge holds no grant");
  uint32_t returned = 0;
  boost::json::array released;
  for (const auto& item : **leases) {
    if (!item.is_object()) return error(problem::invalid_request, "leases are objects");
    const auto& o = item.as_object();
    auto slug = json::get_string(o, "drop", "lease", limits::drop_slug_bytes_max);
    auto first = json::get_int(o, "first", "lease", 1, limits::edition_size_max);
    auto last = json::get_int(o, "last", "lease", 1, limits::edition_size_max);
    if (!slug || !first || !last)
      return error(problem::invalid_request, "a lease is {drop, first, last}");
    const core::GrantLease* named = nullptr;
    for (const auto& l : grant->fields.leases) {
      if (l.drop == *slug && l.first_serial == *first && l.last_serial == *last) named = &l;
    }
    if (named == nullptr)
      return error(problem::not_found, "the grant names no such lease of " + *slug);
    auto count =
        release_edge_lease(parts_.store, edge->id, *named, now_ms, skew_ms_of(parts_.config));
    if (!count) return error(count.error());
    returned += *count;
    released.push_back(boost::json::object{
        {"drop", *slug}, {"first", *first}, {"last", *last}, {"returned", *count}});
  }
  if (returned > 0)
    log::info("edge released serials", {{"edge_id", edge->id}, {"returned", returned}});
  return boost::json::serialize(
      boost::json::object{{"released", std::move(released)}, {"returned", returned}});
}

Result<std::string> EdgeHub::declare_lost(int64_t edge_id, const http::Request& request) {
  auto body = json::parse_object(request.body, limits::request_body_bytes_max_json);
  if (!body) return error(body.error());
  auto reason = json::get_string(*body, "reason", "lost", limits::identifier_bytes_max * 4);
  if (!reason || reason->empty())
    return error(problem::invalid_request, "say why: {\"reason\": \"...\"}");
  // Who: the operator key, by the first 12 hex digits of its SHA-256.
  std::string by = "key:" + hex_encode(crypto::sha256(as_bytes(bearer_of(request)))).substr(0, 12);
  const int64_t now_ms = parts_.clock.now_ms();
  auto returned = declare_edge_lost(parts_.store, edge_id, *reason, by, now_ms);
  if (!returned) return error(returned.error());
  return boost::json::serialize(boost::json::object{{"edge_id", edge_id},
                                                    {"state", "lost"},
                                                    {"reason", *reason},
                                                    {"by", by},
                                                    {"at", format_rfc3339(now_ms)},
                                                    {"returned", *returned}});
}

Result<std::string> EdgeHub::lost_sales_json(int64_t edge_id) {
  return origin::lost_sales_json(parts_.store, edge_id);
}

Result<std::string> EdgeHub::refuse_lost_sales(const http::Request& request,
                                               const boost::json::array& sales,
                                               const Status& refusal) {
  // The grant's signature, not its times: a lost edge's grant may have
  // ended, and what it reports must still be recorded.
  const int64_t now_ms = parts_.clock.now_ms();
  core::VerifyOptions untimed{now_ms, parts_.config.clock_skew, parts_.config.issuer};
  untimed.check_times = false;
  auto grant = core::verify_edge_grant(parts_.keyring, bearer_of(request), untimed);
  if (!grant) return std::unexpected(refusal);
  auto edge = parts_.store.get_edge_by_key_id(grant->edge_key.key_id());
  if (!edge) return std::unexpected(refusal);
  auto lost = edge_lost_record(parts_.store, edge->id);
  if (!lost) return error(lost.error());
  if (!*lost) return std::unexpected(refusal);
  std::vector<LostSale> refused;
  for (const auto& item : sales) {
    if (!item.is_object()) return error(problem::invalid_request, "sales are objects");
    const auto& o = item.as_object();
    auto id = json::get_string(o, "id", "sale", limits::identifier_bytes_max);
    auto drop = json::get_string(o, "drop", "sale", limits::drop_slug_bytes_max);
    auto account = json::get_string(o, "account", "sale", limits::identifier_bytes_max);
    auto amount = json::get_int(o, "amount", "sale", 0, limits::price_amount_max);
    auto currency = json::get_string(o, "currency", "sale", 3);
    auto channel = json::get_string(o, "channel", "sale", limits::identifier_bytes_max);
    auto cert = json::get_string(o, "certificate", "sale", limits::token_bytes_max);
    auto sale_grant = json::get_string(o, "grant", "sale", limits::token_bytes_max);
    if (!id || !drop || !account || !amount || !currency || !channel || !cert || !sale_grant) {
      return error(problem::invalid_request,
                   "a sale needs id, drop, channel, account, amount, currency, certificate, grant");
    }
    // The serial as the edge signed it; a certificate that does not verify
    // is still listed, without a serial, for the operator to judge.
    std::optional<uint32_t> serial;
    if (auto v = core::verify_edge_cert(parts_.keyring, *sale_grant, *cert, untimed);
        v && v->grant.edge_key.key_id() == edge->key_id && v->cert.fields.drop == *drop)
      serial = v->cert.fields.serial;
    refused.push_back({*id, *drop, serial, *channel, *account, *amount, *currency});
  }
  if (Status s = record_lost_sales(parts_.store, edge->id, refused, now_ms); !s.ok())
    return error(s);
  return error(problem::edge_lost,
               "edge " + std::to_string(edge->id) +
                   " was declared lost: its sales are refused and listed for the operator (" +
                   std::to_string(refused.size()) + " recorded)");
}

}  // namespace dg::origin
