#include "core/offline.h"

#include <algorithm>
#include <string>

#include "base/problem_types.h"
#include "base/time.h"

namespace dg::core {
namespace {

constexpr std::string_view kCapPrefix = "offline cap ";

Status cap_reached(std::string_view cap, std::string detail) {
  return Status(problem::offline_cap_reached,
                std::string(kCapPrefix) + std::string(cap) + ": " + std::move(detail));
}

}  // namespace

uint32_t offline_top_up(uint32_t expected_sales, uint32_t unsold_held, uint32_t serials_max) {
  if (unsold_held >= expected_sales) return 0;
  return std::min(expected_sales - unsold_held, serials_max);
}

const GrantLease* grant_lease_covering(std::span<const GrantLease> leases, std::string_view drop,
                                       uint32_t serial) {
  for (const auto& lease : leases) {
    if (lease.drop == drop && lease.first_serial <= serial && serial <= lease.last_serial)
      return &lease;
  }
  return nullptr;
}

Status check_offline_sale(const EdgeGrantFields& grant, std::string_view drop, uint32_t serial,
                          int64_t price_minor, int64_t now_ms, int64_t skew_margin_ms,
                          const OfflineTally& tally) {
  const GrantLease* lease = grant_lease_covering(grant.leases, drop, serial);
  if (lease == nullptr) {
    return Status(problem::offline_no_lease,
                  "this edge holds no leased serial of \"" + std::string(drop) + "\" to sell");
  }
  if (now_ms >= lease->sell_until_ms - skew_margin_ms) {
    return Status(problem::offline_sell_until_passed,
                  "this edge may sell \"" + std::string(drop) + "\" until " +
                      format_rfc3339(lease->sell_until_ms) + " less a clock-skew margin of " +
                      std::to_string(skew_margin_ms / 1000) + " s; its clock says " +
                      format_rfc3339(now_ms));
  }
  if (!grant.caps) return Status();
  const OfflineCaps& caps = *grant.caps;
  if (tally.sales >= caps.sales_max) {
    return cap_reached("sales", "this edge made its " + std::to_string(caps.sales_max) +
                                    " offline sales; it sells again once it has reconciled");
  }
  if (price_minor > caps.sale_value_minor_max) {
    return cap_reached("sale_value", "one offline sale may be worth at most " +
                                         std::to_string(caps.sale_value_minor_max));
  }
  if (tally.value_minor + price_minor > caps.value_minor_max) {
    return cap_reached("value", "offline sales may be worth at most " +
                                    std::to_string(caps.value_minor_max) + " in all");
  }
  return Status();
}

std::string_view offline_cap_of(const Status& refusal) {
  if (refusal.type() != &problem::offline_cap_reached) return {};
  std::string_view m = refusal.message();
  if (!m.starts_with(kCapPrefix)) return {};
  m.remove_prefix(kCapPrefix.size());
  return m.substr(0, m.find(':'));
}

}  // namespace dg::core
