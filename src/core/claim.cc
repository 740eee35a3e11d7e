#include "core/claim.h"

#include <string>

#include "base/problem_types.h"
#include "base/time.h"

namespace dg::core {
namespace {

// How long a buyer is asked to wait before trying a paused drop again.
constexpr uint32_t kPausedRetryAfterS = 30;

}  // namespace

Status check_on_sale(DropState stored, const SaleWindow& window, bool published, int64_t now_ms) {
  switch (effective_state(stored, window.opens_at_ms, now_ms)) {
    case DropState::draft:
      return Status(problem::window_not_open, "this drop is not published");
    case DropState::scheduled:
      return Status(problem::window_not_open,
                    "sales open at " + format_rfc3339(window.opens_at_ms));
    case DropState::paused:
      return Status(problem::drop_paused, "the seller paused this drop; try again shortly")
          .with_retry_after(kPausedRetryAfterS);
    case DropState::closed:
      return Status(problem::window_closed, "this drop is closed");
    case DropState::live:
      break;
  }
  if (window.closes_at_ms && now_ms >= *window.closes_at_ms) {
    return Status(problem::window_closed,
                  "sales closed at " + format_rfc3339(*window.closes_at_ms));
  }
  if (!published) return Status(problem::window_not_open, "this drop has no manifest");
  return Status();
}

Status check_territory(const Rights& rights, std::string_view territory) {
  bool restricted = !rights.territories_allowed.empty() || !rights.territories_denied.empty();
  if (restricted && territory.empty()) {
    return Status(problem::territory_required,
                  "this drop is sold only in some territories; give the buyer's territory");
  }
  if (!territory.empty() && !rights.allows_territory(territory)) {
    return Status(problem::territory_denied,
                  "this drop is not offered in " + std::string(territory));
  }
  return Status();
}

Status check_claimable(DropState stored, const SaleWindow& window, bool published,
                       const Rights& rights, std::string_view territory, int64_t now_ms) {
  DG_RETURN_IF_ERROR(check_on_sale(stored, window, published, now_ms));
  return check_territory(rights, territory);
}

bool within_buyer_limit(uint64_t claims_count, uint64_t live_holds_count,
                        uint32_t per_buyer_limit) {
  // Not claims + holds < limit: the sum could wrap.
  return claims_count < per_buyer_limit && live_holds_count < per_buyer_limit - claims_count;
}

Status check_buyer_limit(uint64_t claims_count, uint32_t per_buyer_limit) {
  if (within_buyer_limit(claims_count, 0, per_buyer_limit)) return Status();
  return Status(problem::per_buyer_limit, "this account already holds its share of this drop");
}

Status claim_over_buyer_limit(uint32_t per_buyer_limit) {
  return Status(problem::per_buyer_limit,
                "this account already holds " + std::to_string(per_buyer_limit) + " of this drop");
}

Status hold_over_buyer_limit(uint32_t per_buyer_limit) {
  return Status(problem::per_buyer_limit,
                "this account's claims and holds already reach the limit of " +
                    std::to_string(per_buyer_limit) + " for this drop");
}

}  // namespace dg::core
