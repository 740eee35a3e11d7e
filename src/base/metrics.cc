#include "base/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdint>

#include "base/assert.h"

namespace dg::metrics {
namespace {

std::string escape_label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string render_labels(const Labels& labels, std::string_view extra = {}) {
  if (labels.empty() && extra.empty()) return "";
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (out.size() > 1) out += ',';
    out += k + "=\"" + escape_label(v) + "\"";
  }
  if (!extra.empty()) {
    if (out.size() > 1) out += ',';
    out += extra;
  }
  return out + "}";
}

// As Prometheus's own clients write numbers: the shortest text that reads
// back as the same double ("0.00025", not "0.00025000000000000001"), "+Inf",
// "-Inf" and "NaN", and whole numbers of up to 2^53 in plain digits
// ("1000000", not "1e+06").
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  constexpr double exact_integer_max = 9007199254740992.0;  // 2^53
  if (v == std::trunc(v) && std::fabs(v) <= exact_integer_max) {
    return std::to_string(static_cast<int64_t>(v));  // also turns -0 into "0"
  }
  // Go's rule for 'g': an exponent when it would be below -4 ("2.5e-07",
  // but "0.0001"), else plain digits. Larger non-integers do not exist.
  auto format = std::fabs(v) < 1e-4 || std::fabs(v) > exact_integer_max
                    ? std::chars_format::scientific
                    : std::chars_format::fixed;
  char buf[400];  // a fixed double needs at most ~330 characters
  auto end = std::to_chars(buf, buf + sizeof buf, v, format).ptr;
  return std::string(buf, end);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micro_.fetch_add(static_cast<uint64_t>(std::llround(std::max(0.0, value) * 1e6)),
                       std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

double Histogram::sum() const {
  return static_cast<double>(sum_micro_.load()) / 1e6;
}
uint64_t Histogram::count() const {
  return cumulative_counts().back();
}

Registry::Family& Registry::family(std::string_view name, std::string_view help, Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_
             .emplace(std::string(name), Family{type, std::string(help), {}, {}, {}, {}, {}, {}})
             .first;
  }
  DG_ASSERT(it->second.type == type);  // one name, one type: a programming error otherwise
  return it->second;
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::counter);
  std::string key = render_labels(labels);
  auto [it, inserted] = f.index_by_labels.emplace(key, f.counters.size());
  if (inserted) {
    f.counters.emplace_back();
    f.label_texts.push_back(key);
  }
  return f.counters[it->second];
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::gauge);
  std::string key = render_labels(labels);
  auto [it, inserted] = f.index_by_labels.emplace(key, f.gauges.size());
  if (inserted) {
    f.gauges.emplace_back();
    f.label_texts.push_back(key);
  }
  return f.gauges[it->second];
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               std::vector<double> bounds, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::histogram);
  std::string key = render_labels(labels);
  auto [it, inserted] = f.index_by_labels.emplace(key, f.histograms.size());
  if (inserted) {
    f.histograms.emplace_back(std::move(bounds));
    f.label_texts.push_back(key);
  }
  return f.histograms[it->second];
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::counter ? "counter"
                       : f.type == Type::gauge ? "gauge"
                                               : "histogram";
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + type + "\n";
    for (size_t i = 0; i < f.label_texts.size(); ++i) {
      const std::string& labels = f.label_texts[i];
      if (f.type == Type::counter) {
        out += name + labels + " " + std::to_string(f.counters[i].value()) + "\n";
      } else if (f.type == Type::gauge) {
        out += name + labels + " " + number(f.gauges[i].value()) + "\n";
      } else {
        const Histogram& h = f.histograms[i];
        auto counts = h.cumulative_counts();
        // Re-open the label set to add "le"; labels is "" or "{...}".
        std::string base = labels.empty() ? "" : labels.substr(1, labels.size() - 2);
        auto with_le = [&](const std::string& le) {
          return "{" + base + (base.empty() ? "" : ",") + "le=\"" + le + "\"}";
        };
        for (size_t b = 0; b < h.bounds().size(); ++b) {
          out += name + "_bucket" + with_le(number(h.bounds()[b])) + " " +
                 std::to_string(counts[b]) + "\n";
        }
        out += name + "_bucket" + with_le("+Inf") + " " + std::to_string(counts.back()) + "\n";
        out += name + "_sum" + labels + " " + number(h.sum()) + "\n";
        out += name + "_count" + labels + " " + std::to_string(counts.back()) + "\n";
      }
    }
  }
  return out;
}

std::vector<double> Registry::latency_buckets_s() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

RouteMetrics::RouteMetrics(Registry& registry, Names names, const std::vector<std::string>& routes)
    : registry_(registry), names_(std::move(names)) {
  auto add = [&](const std::string& route) {
    if (by_route_.contains(route)) return;
    by_route_.emplace(route, &series_.emplace_back());
  };
  add("");
  for (const auto& route : routes) add(route);
}

Counter& RouteMetrics::requests(std::string_view route, size_t status_class) {
  std::string status = std::to_string(status_class) + "xx";
  return registry_.counter(names_.requests_name, names_.requests_help,
                           {{"route", std::string(route)}, {"status", std::move(status)}});
}

Histogram& RouteMetrics::latency(std::string_view route) {
  return registry_.histogram(names_.latency_name, names_.latency_help,
                             Registry::latency_buckets_s(), {{"route", std::string(route)}});
}

void RouteMetrics::record(std::string_view route, unsigned status, double seconds) {
  size_t status_class = std::min<size_t>(status / 100, status_classes - 1);
  auto it = by_route_.find(route);
  if (it == by_route_.end()) {  // a name not given up front: the slow way
    requests(route, status_class).inc();
    if (!names_.latency_name.empty()) latency(route).observe(seconds);
    return;
  }
  Series& series = *it->second;
  // Two threads may both register on first use: the registry returns the
  // same object to both, so either store is right.
  Counter* counter = series.requests[status_class].load(std::memory_order_acquire);
  if (counter == nullptr) {
    counter = &requests(route, status_class);
    series.requests[status_class].store(counter, std::memory_order_release);
  }
  counter->inc();
  if (names_.latency_name.empty()) return;
  Histogram* histogram = series.latency.load(std::memory_order_acquire);
  if (histogram == nullptr) {
    histogram = &latency(route);
    series.latency.store(histogram, std::memory_order_release);
  }
  histogram->observe(seconds);
}

}  // namespace dg::metrics
