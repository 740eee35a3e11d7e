#include "base/metrics.h"

#include <gtest/gtest.h>

#include <iterator>
#include <limits>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace dg::metrics {
namespace {

TEST(Metrics, RendersCountersGaugesAndHistograms) {
  Registry r;
  r.counter("dropgate_claims_total", "Claims recorded.", {{"drop", "a"}}).inc(3);
  r.counter("dropgate_claims_total", "Claims recorded.", {{"drop", "a"}}).inc();
  r.gauge("dropgate_outbox_depth", "Events waiting.").set(7);
  auto& h = r.histogram("dropgate_request_seconds", "Latency.", {0.1, 1}, {{"route", "x"}});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  std::string text = r.render();
  EXPECT_NE(text.find("# TYPE dropgate_claims_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("dropgate_claims_total{drop=\"a\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("dropgate_outbox_depth 7\n"), std::string::npos);
  EXPECT_NE(text.find("dropgate_request_seconds_bucket{route=\"x\",le=\"0.1\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("dropgate_request_seconds_bucket{route=\"x\",le=\"1\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("dropgate_request_seconds_bucket{route=\"x\",le=\"+Inf\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("dropgate_request_seconds_count{route=\"x\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("dropgate_request_seconds_sum{route=\"x\"} 5.55\n"), std::string::npos);
}

// Numbers as Prometheus's own clients write them (Go's strconv 'g', -1;
// Python's repr): the shortest text that reads back as the same double, with
// no digits of binary noise; whole numbers in plain digits; +Inf, -Inf, NaN.
TEST(Metrics, WritesNumbersInTheirShortestExactForm) {
  Registry r;
  r.histogram("latency_seconds", "L.", Registry::latency_buckets_s()).observe(0.0003);
  const std::pair<double, std::string> gauges[] = {
      {0.1 + 0.2, "0.30000000000000004"},
      {1e6, "1000000"},
      {1234567.0, "1234567"},
      {-3, "-3"},
      {-0.0, "0"},
      {2.5e-7, "2.5e-07"},
      {1.5, "1.5"},
      {1e300, "1e+300"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"}};
  for (size_t i = 0; i < std::size(gauges); ++i) {
    r.gauge("g" + std::to_string(i), "G.").set(gauges[i].first);
  }
  std::string text = r.render();
  for (const char* le : {"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                         "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}) {
    EXPECT_NE(text.find(std::string("latency_seconds_bucket{le=\"") + le + "\"}"),
              std::string::npos)
        << le;
  }
  EXPECT_NE(text.find("latency_seconds_sum 0.0003\n"), std::string::npos);
  for (size_t i = 0; i < std::size(gauges); ++i) {
    std::string line = "\ng" + std::to_string(i) + " " + gauges[i].second + "\n";
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

TEST(Metrics, EscapesLabelValues) {
  Registry r;
  r.counter("x_total", "X.", {{"path", "a\"b\\c\nd"}}).inc();
  EXPECT_NE(r.render().find("x_total{path=\"a\\\"b\\\\c\\nd\"} 1"), std::string::npos);
}

TEST(RouteMetrics, RecordsByRouteAndStatusClassFromAnyThread) {
  Registry r;
  RouteMetrics route_metrics(r, {"http_requests_total", "Requests.", "http_seconds", "Latency."},
                             {"files.get", "healthz"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) route_metrics.record("files.get", 200, 0.001);
    });
  }
  for (auto& thread : threads) thread.join();
  route_metrics.record("files.get", 404, 0.002);
  route_metrics.record("", 0, 0.0);
  route_metrics.record("not.listed", 503, 0.5);  // still counted, through the registry
  std::string text = r.render();
  EXPECT_NE(text.find("http_requests_total{route=\"files.get\",status=\"2xx\"} 4000\n"),
            std::string::npos);
  EXPECT_NE(text.find("http_requests_total{route=\"files.get\",status=\"4xx\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("http_requests_total{route=\"\",status=\"0xx\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("http_requests_total{route=\"not.listed\",status=\"5xx\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("http_seconds_count{route=\"files.get\"} 4001\n"), std::string::npos);
  // Nothing is registered before it is recorded.
  EXPECT_EQ(text.find("healthz"), std::string::npos);
  // The series are the registry's own.
  EXPECT_EQ(
      r.counter("http_requests_total", "Requests.", {{"route", "files.get"}, {"status", "2xx"}})
          .value(),
      4000u);
}

TEST(RouteMetrics, WithoutLatencyNamesRecordsNoHistogram) {
  Registry r;
  RouteMetrics route_metrics(r, {"edge_requests_total", "Requests.", "", ""}, {"files.get"});
  route_metrics.record("files.get", 206, 0.1);
  std::string text = r.render();
  EXPECT_NE(text.find("edge_requests_total{route=\"files.get\",status=\"2xx\"} 1\n"),
            std::string::npos);
  EXPECT_EQ(text.find("histogram"), std::string::npos);
}

}  // namespace
}  // namespace dg::metrics
