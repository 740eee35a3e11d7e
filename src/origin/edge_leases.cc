#include "origin/edge_leases.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>

#include "base/json.h"
#include "base/limits.h"
#include "base/problem_types.h"
#include "core/offline.h"

namespace dg::origin {

std::string edge_seller_id(int64_t edge_id) {
  return "edge:" + std::to_string(edge_id);
}

Result<OfflineSettings> parse_offline_settings(const boost::json::object& body,
                                               const std::vector<std::string>& drops) {
  OfflineSettings settings;
  if (const auto* targets = body.if_contains("offline_sales")) {
    if (!targets->is_object())
      return error(problem::invalid_request, "offline_sales is {\"<slug>\": expected sales}");
    for (const auto& [slug, value] : targets->as_object()) {
      if (std::find(drops.begin(), drops.end(), std::string_view(slug)) == drops.end()) {
        return error(problem::invalid_request,
                     "offline_sales names \"" + std::string(slug) + "\", not one of the drops");
      }
      if (!value.is_int64() || value.as_int64() < 0 ||
          value.as_int64() > int64_t{limits::edition_size_max}) {
        return error(problem::invalid_request, "offline_sales are counts of sales");
      }
      if (value.as_int64() > 0)
        settings.targets.push_back({std::string(slug), static_cast<uint32_t>(value.as_int64())});
    }
  }
  if (body.contains("caps")) {
    auto caps = json::get_object(body, "caps", "approval");
    if (!caps) return error(caps.error());
    if (Status s = json::only_keys(**caps, {"sales_max", "value_minor_max", "sale_value_minor_max"},
                                   "caps");
        !s.ok())
      return error(s);
    auto sales = json::get_int(**caps, "sales_max", "caps", 0, limits::edition_size_max);
    auto value = json::get_int(**caps, "value_minor_max", "caps", 0, limits::price_amount_max);
    auto per_sale =
        json::get_int(**caps, "sale_value_minor_max", "caps", 0, limits::price_amount_max);
    if (!sales) return error(sales.error());
    if (!value) return error(value.error());
    if (!per_sale) return error(per_sale.error());
    settings.caps = core::OfflineCaps{static_cast<uint32_t>(*sales), *value, *per_sale};
  }
  return settings;
}

namespace {

// Unsold leased serials per drop id, as the store knows them.
std::map<int64_t, uint32_t> unsold_by_drop(const std::vector<store::Store::LeaseState>& leases) {
  std::map<int64_t, uint32_t> out;
  for (const auto& l : leases)
    out[l.lease.drop_id] += static_cast<uint32_t>(l.available_serials.size());
  return out;
}

}  // namespace

Result<std::vector<core::GrantLease>> top_up_edge_leases(store::Store& store, int64_t edge_id,
                                                         const std::vector<std::string>& drops,
                                                         const OfflineSettings& settings,
                                                         int64_t sell_until_ms, int64_t now_ms,
                                                         uint32_t lease_serials_max,
                                                         uint32_t* leased) {
  const std::string seller = edge_seller_id(edge_id);
  uint32_t leased_now = 0;
  if (settings.sells_offline()) {
    // Re-registering an edge seller only refreshes it: edge leases are never reclaimed.
    if (Status s = store.register_seller(seller, store::SellerKind::edge, seller, now_ms); !s.ok())
      return error(s);
  }
  auto held = store.seller_leases(seller, now_ms);
  if (!held) return error(held.error());
  auto unsold = unsold_by_drop(*held);
  for (const auto& target : settings.targets) {
    auto drop = store.get_drop(target.drop);
    if (!drop) return error(drop.error());
    // A closed drop sells no more: leasing it again would only be released again.
    if (drop->spec.closes_at_ms && *drop->spec.closes_at_ms <= now_ms) continue;
    uint32_t want = core::offline_top_up(target.sales, unsold[drop->id], lease_serials_max);
    // One lease is one contiguous run: a run of returned serials may come
    // short, so ask again, a bounded number of times.
    for (uint32_t round = 0; want > 0 && round < limits::token_assets_count_max / 8; ++round) {
      auto lease = store.issue_lease(drop->id, seller, want, now_ms);
      if (!lease) {
        if (lease.error().code() == Code::conflict) break;  // sold out: lease what there was
        return error(lease.error());
      }
      uint32_t got = lease->last_serial - lease->first_serial + 1;
      want -= std::min(want, got);
      leased_now += got;
    }
  }
  if (leased) *leased = leased_now;
  if (leased_now > 0) {
    held = store.seller_leases(seller, now_ms);
    if (!held) return error(held.error());
  }
  std::vector<core::GrantLease> out;
  std::map<int64_t, store::Drop> drop_by_id;
  for (const auto& l : *held) {
    auto found = drop_by_id.find(l.lease.drop_id);
    if (found == drop_by_id.end()) {
      auto drop = store.get_drop_by_id(l.lease.drop_id);
      if (!drop) return error(drop.error());
      found = drop_by_id.emplace(l.lease.drop_id, std::move(*drop)).first;
    }
    const store::Drop& drop = found->second;
    if (std::find(drops.begin(), drops.end(), drop.spec.slug) == drops.end()) continue;
    int64_t until_ms = std::min(sell_until_ms, drop.spec.closes_at_ms.value_or(sell_until_ms));
    out.push_back({drop.spec.slug, l.lease.first_serial, l.lease.last_serial, until_ms});
  }
  if (out.size() > limits::token_assets_count_max) {
    return error(problem::limit_exceeded, "this edge holds more leases than one grant can name");
  }
  return out;
}

Result<std::vector<core::OfflinePrice>> offline_prices(store::Store& store,
                                                       const OfflineSettings& settings) {
  std::vector<core::OfflinePrice> out;
  for (const auto& target : settings.targets) {
    auto drop = store.get_drop(target.drop);
    if (!drop) return error(drop.error());
    out.push_back({target.drop, drop->spec.price_minor, drop->spec.currency});
  }
  return out;
}

Result<std::string> edge_leases_json(store::Store& store, int64_t edge_id, int64_t now_ms) {
  auto held = store.seller_leases(edge_seller_id(edge_id), now_ms);
  if (!held) return error(held.error());
  boost::json::array leases;
  for (const auto& l : *held) {
    auto drop = store.get_drop_by_id(l.lease.drop_id);
    if (!drop) return error(drop.error());
    leases.push_back(boost::json::object{{"drop", drop->spec.slug},
                                         {"first", l.lease.first_serial},
                                         {"last", l.lease.last_serial},
                                         {"unsold", l.available_serials.size()}});
  }
  return boost::json::serialize(
      boost::json::object{{"edge_id", edge_id}, {"leases", std::move(leases)}});
}

}  // namespace dg::origin
