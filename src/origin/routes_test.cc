// The origin's route table, its handlers called as the Server calls them
// (matched, then invoked), over a real SQLite store in a temporary folder and
// an injected clock that is years away from the system's: what a handler
// dates comes from that clock, and a failure is sent as problem+json.
#include "origin/routes.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>

#include "base/env.h"
#include "base/time.h"
#include "http/http.h"
#include "origin/operator_keys.h"
#include "support/test_origin.h"

namespace dg::origin {
namespace {

// 2031-03-04T05:06:07Z: far enough from any test run's system clock that a
// time taken from it cannot pass for the injected one.
constexpr int64_t kNow = 1'930'367'167'000;

class OriginRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status started = origin_.start(clock_);
    ASSERT_TRUE(started.ok()) << started.to_string();
    keys_ = std::make_unique<OperatorKeys>(origin_.store());
    add_routes(router_, origin_.service(), origin_.store(), origin_.metrics, *keys_);
  }

  // Matches and invokes as the Server does once a request was admitted.
  http::Response call(http::Verb method, std::string_view target, std::string body = "") {
    http::Request request;
    request.method = method;
    request.body = std::move(body);
    request.request_id = "test-1";
    EXPECT_TRUE(http::parse_target(target, request).ok()) << target;
    http::Router::Match match = router_.match(request);
    EXPECT_NE(match.route, nullptr) << target;
    if (match.route == nullptr) return {};
    return router_.invoke(*match.route, request);
  }

  static boost::json::object body_of(const http::Response& response) {
    return boost::json::parse(std::get<std::string>(response.body)).as_object();
  }
  static std::string opens_at(const http::Response& status) {
    return std::string(body_of(status).at("opens_at").as_string());
  }

  ManualClock clock_{kNow};
  dg::testing::TestOrigin origin_;  // after the clock it reads
  std::unique_ptr<OperatorKeys> keys_;
  http::Router router_;
};

// A drop created without opens_at opens "now": the injected clock's now, not
// the system's (the route used to read the system clock itself).
TEST_F(OriginRoutesTest, ADropCreatedWithoutOpensAtOpensAtTheInjectedClocksNow) {
  http::Response created =
      call(http::Verb::post, "/v1/drops", R"({"slug":"tape","title":"Tape","edition":3})");
  ASSERT_EQ(created.status, 201u) << std::get<std::string>(created.body);
  http::Response status = call(http::Verb::get, "/v1/drops/tape/status");
  ASSERT_EQ(status.status, 200u) << std::get<std::string>(status.body);
  EXPECT_EQ(opens_at(status), format_rfc3339(kNow));

  // An update that leaves opens_at out keeps it, whatever the clock says.
  clock_.advance_ms(3'600'000);
  http::Response updated =
      call(http::Verb::patch, "/v1/drops/tape", R"({"title":"Tape, second pressing"})");
  ASSERT_EQ(updated.status, 200u) << std::get<std::string>(updated.body);
  EXPECT_EQ(opens_at(call(http::Verb::get, "/v1/drops/tape/status")), format_rfc3339(kNow));
}

// A refusal the service names reaches the client as its problem type, with
// the status and title of base/problem_types.h; one it does not name (the
// store's not_found) as its code's generic type.
TEST_F(OriginRoutesTest, ServiceRefusalsAreSentAsTheirProblemTypes) {
  ASSERT_EQ(
      call(http::Verb::post, "/v1/drops", R"({"slug":"empty","title":"E","edition":1})").status,
      201u);
  http::Response publish = call(http::Verb::post, "/v1/drops/empty/publish");
  EXPECT_EQ(publish.status, 409u);
  EXPECT_EQ(body_of(publish).at("type"), "https://dropgate.dev/problems/no-assets");
  EXPECT_EQ(body_of(publish).at("title"), "Nothing to publish");
  http::Response missing = call(http::Verb::get, "/v1/drops/nothing-here");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(body_of(missing).at("type"), "https://dropgate.dev/problems/not-found");
}

}  // namespace
}  // namespace dg::origin
