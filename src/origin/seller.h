// Seller: this origin process as a seller of serials. It holds leases from
// the store and hands out the serials in them one at a time; the store never
// sees a sale until the claim row is written, and the drop's row is touched
// once per lease, not once per sale (docs/DESIGN.md, "Scarcity").
//
// Thread safety: all methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "store/store.h"

namespace dg::origin {

struct SellerOptions {
  std::string instance;  // stable per machine slot, e.g. "host:8080"
  uint32_t lease_serials_max = 1000;
  // A lease takes at most unleased / lease_share_divisor serials, so stock is
  // not stranded in one process near sell-out (the size shrinks toward 1).
  uint32_t lease_share_divisor = 16;
  int64_t heartbeat_timeout_ms = 15'000;
};

class Seller {
 public:
  Seller(store::Store& store, const Clock& clock, SellerOptions options);

  // Registers with the store (a fresh id per start) and reclaims earlier
  // incarnations of this instance, so a restart after kill -9 sells on at once.
  Status start();
  // This process's current seller id (it changes if the store declared the
  // previous one dead and this process registered again).
  std::string id() const;

  // One serial of the drop to sell now; leases more when this process has
  // none left. conflict when the drop is sold out.
  Result<uint32_t> take(int64_t drop_id);
  // A serial from the leases this process already holds, and the seller id
  // it is sold under, without ever waiting: nullopt when none is ready or
  // another thread is leasing or registering (call take() from a thread that
  // may block). For a claim signed on an I/O thread.
  struct Taken {
    uint32_t serial = 0;
    std::string seller_id;
  };
  std::optional<Taken> try_take(int64_t drop_id);
  // Puts back a serial taken but not sold (its claim failed, its hold expired).
  void give_back(int64_t drop_id, uint32_t serial);

  // Periodic work, every second or so: heartbeat, expire holds (own serials
  // come back here), reclaim dead sellers' serials. Returns expired holds.
  Result<std::vector<store::Hold>> tick();

  // Graceful shutdown: returns unsold serials to the pool.
  Status stop();

  // Serials this process holds ready to sell, per drop (metrics, tests).
  uint32_t ready_count(int64_t drop_id);

 private:
  uint32_t lease_size(int64_t drop_id);
  Status register_new_id();

  store::Store& store_;
  const Clock& clock_;
  SellerOptions options_;
  std::string id_;
  mutable std::mutex mutex_;
  std::map<int64_t, std::deque<uint32_t>> ready_;  // drop id -> serials, lowest first
};

}  // namespace dg::origin
