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
  std::atomic<uint64_t> sum_micro_{0};                // sum in millionths, for atomic adds
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

// What an HTTP server records per request: a counter by route and status
// class ("2xx"), and optionally a latency histogram by route. The server
// records every request on its I/O threads, so the series are looked up in a
// table built once from the route names and filled on first use; after that
// recording takes no lock and allocates nothing. Series appear in the
// registry when first recorded, as with direct registration.
class RouteMetrics {
 public:
  struct Names {
    std::string requests_name, requests_help;  // the counter
    std::string latency_name, latency_help;    // the histogram; empty: none
  };
  // `routes`: the route names that will be recorded ("" for unmatched
  // requests is added); other names still work, through the registry.
  RouteMetrics(Registry& registry, Names names, const std::vector<std::string>& routes);
  RouteMetrics(const RouteMetrics&) = delete;
  RouteMetrics& operator=(const RouteMetrics&) = delete;

  // `status` 0 (no response sent) counts as "0xx".
  void record(std::string_view route, unsigned status, double seconds);

 private:
  static constexpr size_t status_classes = 6;  // 0xx to 5xx
  struct Series {
    std::atomic<Counter*> requests[status_classes] = {};
    std::atomic<Histogram*> latency{nullptr};
  };
  Counter& requests(std::string_view route, size_t status_class);
  Histogram& latency(std::string_view route);

  Registry& registry_;
  const Names names_;
  std::deque<Series> series_;  // one per route; never grows after construction
  std::map<std::string, Series*, std::less<>> by_route_;
};

}  // namespace dg::metrics
