// RateLimiter: at most `per_minute` events per key in any minute, in bursts of
// up to `per_minute` (GCRA, the token bucket kept as one time per key).
// Used for holds: a hold takes a serial off sale for hold_ttl_s, so a flood
// of holds would make a drop look sold out.
//
// Memory: at most `keys_max` keys. When full, keys whose allowance has come
// back in full are forgotten first (they carry no state); if none has, the key
// whose allowance comes back soonest goes.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace dg::origin {

class RateLimiter {
 public:
  // per_minute >= 1, keys_max >= 1.
  RateLimiter(uint32_t per_minute, uint32_t keys_max);

  // Counts one event of `key` at `now_ms` and returns 0 when it is allowed;
  // otherwise counts nothing and returns the whole seconds (>= 1) after which
  // the next event of `key` is allowed.
  uint32_t take(std::string_view key, int64_t now_ms);

  size_t key_count() const;

 private:
  void make_room(int64_t now_ms);

  const int64_t interval_ms_;  // one event's share of the minute
  const int64_t burst_ms_;     // how far ahead of now a key's time may run
  const uint32_t keys_max_;
  mutable std::mutex mutex_;
  // The time at which each key's allowance is back in full ("theoretical
  // arrival time"); a key at or before now is as good as absent.
  std::unordered_map<std::string, int64_t> full_at_ms_;  // guarded by mutex_
};

}  // namespace dg::origin
