#include "origin/rate_limit.h"

#include <algorithm>

#include "base/assert.h"

namespace dg::origin {

namespace {
constexpr int64_t kMinuteMs = 60'000;
}  // namespace

RateLimiter::RateLimiter(uint32_t per_minute, uint32_t keys_max)
    : interval_ms_(kMinuteMs / std::max<uint32_t>(per_minute, 1)),
      burst_ms_(kMinuteMs / std::max<uint32_t>(per_minute, 1) * std::max<uint32_t>(per_minute, 1)),
      keys_max_(keys_max) {
  DG_ASSERT(per_minute >= 1 && keys_max >= 1);
}

uint32_t RateLimiter::take(std::string_view key_view, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  std::string key(key_view);
  auto it = full_at_ms_.find(key);
  int64_t full_at_ms = it == full_at_ms_.end() ? now_ms : std::max(it->second, now_ms);
  int64_t next_ms = full_at_ms + interval_ms_;
  if (next_ms - now_ms > burst_ms_) {
    int64_t wait_ms = next_ms - now_ms - burst_ms_;
    return static_cast<uint32_t>((wait_ms + 999) / 1000);
  }
  if (it == full_at_ms_.end()) {
    if (full_at_ms_.size() >= keys_max_) make_room(now_ms);
    full_at_ms_.emplace(std::move(key), next_ms);
  } else {
    it->second = next_ms;
  }
  return 0;
}

void RateLimiter::make_room(int64_t now_ms) {
  std::erase_if(full_at_ms_, [now_ms](const auto& entry) { return entry.second <= now_ms; });
  if (full_at_ms_.size() < keys_max_) return;
  auto soonest = std::min_element(full_at_ms_.begin(), full_at_ms_.end(),
                                  [](const auto& a, const auto& b) { return a.second < b.second; });
  full_at_ms_.erase(soonest);
}

size_t RateLimiter::key_count() const {
  std::lock_guard lock(mutex_);
  return full_at_ms_.size();
}

}  // namespace dg::origin
