// The environment a component runs in, injected so tests control it:
// the clock now; files and randomness follow as components need them.
#pragma once

#include <atomic>
#include <cstdint>

namespace dg {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, Unix milliseconds.
  virtual int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override;
};

// A clock that moves only when told; for tests and simulations.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms) : now_ms_(now_ms) {}
  int64_t now_ms() const override { return now_ms_.load(); }
  void set_ms(int64_t now_ms) { now_ms_.store(now_ms); }
  void advance_ms(int64_t delta_ms) { now_ms_.fetch_add(delta_ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

// The process-wide real clock.
const Clock& system_clock();

}  // namespace dg
