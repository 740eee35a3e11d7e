#include "origin/seller.h"

#include <algorithm>

#include "base/log.h"
#include "core/lease.h"
#include "crypto/keys.h"

namespace dg::origin {

Seller::Seller(store::Store& store, const Clock& clock, SellerOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

std::string Seller::id() const {
  std::lock_guard lock(mutex_);
  return id_;
}

Status Seller::register_new_id() {
  std::string id = "origin:" + options_.instance + ":" + crypto::random_id().substr(0, 8);
  DG_RETURN_IF_ERROR(
      store_.register_seller(id, store::SellerKind::origin, options_.instance, clock_.now_ms()));
  std::lock_guard lock(mutex_);
  id_ = id;
  // Serials of the old id's leases are no longer ours to sell.
  ready_.clear();
  return Status();
}

Status Seller::start() {
  DG_RETURN_IF_ERROR(register_new_id());
  auto reclaimed = store_.reclaim_dead_sellers(clock_.now_ms(), options_.heartbeat_timeout_ms);
  if (!reclaimed) return reclaimed.error();
  log::info("seller started", {{"seller", id()}, {"reclaimed_serials", *reclaimed}});
  return Status();
}

uint32_t Seller::lease_size(int64_t drop_id) {
  // Without a count (the store failed), one serial: the lease after it sizes again.
  auto unleased = store_.unleased_count(drop_id);
  return core::lease_size(unleased ? *unleased : 0, options_.lease_share_divisor,
                          options_.lease_serials_max);
}

Result<uint32_t> Seller::take(int64_t drop_id) {
  std::lock_guard lock(mutex_);
  auto& ready = ready_[drop_id];
  if (ready.empty()) {
    // Holding the lock while leasing is deliberate: other requests for this
    // drop would only lease too, stranding stock in this process.
    auto lease = store_.issue_lease(drop_id, id_, lease_size(drop_id), clock_.now_ms());
    if (!lease) {
      if (lease.error().code() != Code::conflict) return error(lease.error());
      // conflict is "sold out" only when nothing is left to lease; otherwise the
      // store no longer knows this seller id, and the next tick registers anew.
      auto unleased = store_.unleased_count(drop_id);
      if (unleased && *unleased == 0) return error(lease.error());
      log::warn("lease refused to this seller",
                {{"seller", id_}, {"error", lease.error().to_string()}});
      return error(Code::unavailable, "this origin is re-registering as a seller; retry shortly");
    }
    for (uint32_t s = lease->first_serial; s <= lease->last_serial; ++s) ready.push_back(s);
  }
  uint32_t serial = ready.front();
  ready.pop_front();
  return serial;
}

std::optional<Seller::Taken> Seller::try_take(int64_t drop_id) {
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return std::nullopt;  // take() may be leasing, holding it
  auto ready = ready_.find(drop_id);
  if (ready == ready_.end() || ready->second.empty()) return std::nullopt;
  Taken taken{ready->second.front(), id_};
  ready->second.pop_front();
  return taken;
}

void Seller::give_back(int64_t drop_id, uint32_t serial) {
  std::lock_guard lock(mutex_);
  auto& ready = ready_[drop_id];
  ready.insert(std::lower_bound(ready.begin(), ready.end(), serial), serial);
}

Result<std::vector<store::Hold>> Seller::tick() {
  int64_t now_ms = clock_.now_ms();
  std::string id = this->id();
  Status beat = store_.heartbeat(id, now_ms);
  if (beat.code() == Code::conflict || beat.code() == Code::not_found) {
    // Another process took over this instance slot, or the store declared us
    // dead: start over with a new id rather than sell from reclaimed leases.
    log::warn("seller replaced; registering again", {{"seller", id}, {"error", beat.to_string()}});
    DG_RETURN_IF_ERROR_RESULT(register_new_id());
    id = this->id();
  } else if (!beat.ok()) {
    return error(beat);
  }
  auto expired = store_.expire_holds(id, now_ms);
  if (!expired) return expired;
  for (const auto& hold : *expired) give_back(hold.drop_id, hold.serial);
  // Expired holds of sellers that died need no sweeping: reclaim ignores
  // expired holds, so their serials come back with the rest of the lease.
  auto reclaimed = store_.reclaim_dead_sellers(now_ms, options_.heartbeat_timeout_ms);
  if (reclaimed && *reclaimed > 0) {
    log::info("reclaimed serials of dead sellers", {{"serials", *reclaimed}});
  }
  return expired;
}

Status Seller::stop() {
  auto released = store_.release_leases(id(), clock_.now_ms());
  if (!released) return released.error();
  std::lock_guard lock(mutex_);
  ready_.clear();
  log::info("seller stopped", {{"seller", id_}, {"released_serials", *released}});
  return Status();
}

uint32_t Seller::ready_count(int64_t drop_id) {
  std::lock_guard lock(mutex_);
  auto it = ready_.find(drop_id);
  return it == ready_.end() ? 0 : static_cast<uint32_t>(it->second.size());
}

}  // namespace dg::origin
