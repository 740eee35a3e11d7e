// Prometheus metrics: counters and histograms with fixed label sets,
// rendered in the text exposition format (version 0.0.4). Recording is
// lock-free (atomics); registration takes a lock and happens at start-up.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace dg::metrics {

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound, then +Inf; and the sum.
  std::vector<uint64_t> cumulative_counts() const;
  double sum() const;
  uint64_t count() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // one per bound, plus +Inf
  std::atomic<uint64_t> sum_micro_{0};                 // sum in millionths, for atomic adds
};

// Label pairs in a fixed order, e.g. {{"route","drop.get"},{"status","200"}}.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Registry {
 public:
  // Families are created on first use; the same (name, labels) returns the same
  // object. Names follow Prometheus rules; `help` is written once per family.
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                       const Labels& labels = {});

  // The text exposition of every metric.
  std::string render() const;

  // Latency buckets in seconds, 100 µs to 10 s.
  static std::vector<double> latency_buckets_s();

 private:
  enum class Type { counter, gauge, histogram };
  struct Family {
    Type type;
    std::string help;
    std::vector<double> bounds;
    // deque: stable addresses for the objects handed out.
    std::map<std::string, size_t> index_by_labels;
    std::deque<Counter> counters;
    std::deque<Gauge> gauges;
    std::deque<Histogram> histograms;
    std::vector<std::string> label_texts;  // rendered labels, by index
  };
  Family& family(std::string_view name, std::string_view help, Type type);
  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace dg::metrics
