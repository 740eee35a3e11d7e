#include "base/metrics.h"

#include <gtest/gtest.h>

#include <thread>
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
  EXPECT_NE(text.find("dropgate_request_seconds_bucket{route=\"x\",le=\"0.10000000000000001\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("dropgate_request_seconds_bucket{route=\"x\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("dropgate_request_seconds_count{route=\"x\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("dropgate_request_seconds_sum{route=\"x\"} 5.5499999999999998\n"), std::string::npos);
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
  EXPECT_NE(text.find("http_requests_total{route=\"files.get\",status=\"2xx\"} 4000\n"), std::string::npos);
  EXPECT_NE(text.find("http_requests_total{route=\"files.get\",status=\"4xx\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("http_requests_total{route=\"\",status=\"0xx\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("http_requests_total{route=\"not.listed\",status=\"5xx\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("http_seconds_count{route=\"files.get\"} 4001\n"), std::string::npos);
  // Nothing is registered before it is recorded.
  EXPECT_EQ(text.find("healthz"), std::string::npos);
  // The series are the registry's own.
  EXPECT_EQ(r.counter("http_requests_total", "Requests.", {{"route", "files.get"}, {"status", "2xx"}}).value(),
            4000u);
}

TEST(RouteMetrics, WithoutLatencyNamesRecordsNoHistogram) {
  Registry r;
  RouteMetrics route_metrics(r, {"edge_requests_total", "Requests.", "", ""}, {"files.get"});
  route_metrics.record("files.get", 206, 0.1);
  std::string text = r.render();
  EXPECT_NE(text.find("edge_requests_total{route=\"files.get\",status=\"2xx\"} 1\n"), std::string::npos);
  EXPECT_EQ(text.find("histogram"), std::string::npos);
}

}  // namespace
}  // namespace dg::metrics
