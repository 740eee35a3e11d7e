#include "base/metrics.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace dg::metrics
