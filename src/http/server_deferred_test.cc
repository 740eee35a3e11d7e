// Deferred handlers (Router::add_deferred): the answer comes after the
// handler returned, from another thread, exactly once; a connection closed
// meanwhile drops it; pipelined answers keep their order. See
// server_test_support.h.
#include <gtest/gtest.h>

#include "http/server_test_support.h"

namespace dg::http {
namespace {

using namespace server_test;

// Responders their handlers handed over, for the test to answer.
class Parked {
 public:
  void park(std::string name, Responder responder) {
    std::lock_guard lock(mutex_);
    parked_.emplace(std::move(name), std::move(responder));
    changed_.notify_all();
  }
  // Waits until `count` are parked.
  bool wait_for(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, wait_max, [&] { return parked_.size() >= count; });
  }
  void answer(const std::string& name, Response response) {
    std::optional<Responder> responder;
    {
      std::lock_guard lock(mutex_);
      auto it = parked_.find(name);
      ASSERT_NE(it, parked_.end()) << name;
      responder.emplace(std::move(it->second));
      parked_.erase(it);
    }
    std::move(*responder).answer(std::move(response));
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Responder> parked_;
};

class DeferredTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    router_.add_deferred(Verb::get, "/later/{n}", [this](Request& request, Responder responder) {
      parked_.park(std::string(request.param("n")), std::move(responder));
    });
  }
  Parked parked_;
};

// Checks the basic promise: the handler returns without answering, and the
// answer given later on another thread (the test's) reaches the client.
TEST_F(DeferredTest, AnAnswerGivenAfterTheHandlerReturnedReachesTheClient) {
  start_server();
  Client client(port());
  ASSERT_TRUE(client.send(get("/later/1")));
  ASSERT_TRUE(parked_.wait_for(1));
  parked_.answer("1", text_response(200, "answered later", "text/plain"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200u);
  EXPECT_EQ(response->body, "answered later");
}

// Checks that answers given out of order go out in request order: the
// connection's pipeline, not the answering thread, decides.
TEST_F(DeferredTest, PipelinedRequestsAnsweredInReverseGoOutInRequestOrder) {
  start_server();
  Client client(port());
  ASSERT_TRUE(client.send(get("/later/1") + get("/later/2") + get("/later/3")));
  ASSERT_TRUE(parked_.wait_for(3));
  for (std::string n : {"3", "2", "1"}) parked_.answer(n, text_response(200, n, "text/plain"));
  for (std::string n : {"1", "2", "3"}) {
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, n);
  }
}

// Checks that an answer to a connection already gone is dropped safely: its
// on_done reports once, and the answer gives back its handler job (the only
// one: handler_jobs_max 1), so the next connection is served, not refused 503.
TEST_F(DeferredTest, AnAnswerForAClosedConnectionIsDroppedAndFreesItsJob) {
  start_server({.handler_jobs_max = 1});
  Completions done;
  {
    Client client(port());
    ASSERT_TRUE(client.send(get("/later/gone")));
    ASSERT_TRUE(parked_.wait_for(1));
  }  // closed before the answer
  Response response = text_response(200, "too late", "text/plain");
  done.watch(response);
  parked_.answer("gone", std::move(response));
  EXPECT_EQ(done.wait_for(1).size(), 1u);
  Client next(port());
  ASSERT_TRUE(next.send(get("/later/next")));
  ASSERT_TRUE(parked_.wait_for(1));
  parked_.answer("next", text_response(200, "served", "text/plain"));
  auto served = next.read_response();
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200u);
  EXPECT_EQ(done.wait_for(1).size(), 1u);  // once, not again on the next exchange
}

// Checks that a handler cannot leave its client waiting: a Responder dropped
// unanswered (here, by a handler that throws) answers 500.
TEST_F(DeferredTest, AResponderDroppedUnansweredAnswers500) {
  router_.add_deferred(Verb::get, "/drops",
                       [](Request&, Responder) { throw std::runtime_error("forgot to answer"); });
  start_server();
  Client client(port());
  auto response = client.exchange(get("/drops") + get("/echo/after"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500u);
  auto after = client.read_response();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->body, "after");
}

// Checks Router::dispatch (tests, tools): it waits for a deferred answer.
TEST_F(DeferredTest, DispatchWaitsForTheDeferredAnswer) {
  Router router;
  std::thread answerer;
  router.add_deferred(Verb::get, "/now", [&answerer](Request&, Responder responder) {
    answerer = std::thread([r = std::move(responder)]() mutable {
      std::move(r).answer(text_response(200, "from elsewhere", "text/plain"));
    });
  });
  Request request;
  ASSERT_TRUE(parse_target("/now", request).ok());
  Response response = router.dispatch(request);
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(std::get<std::string>(response.body), "from elsewhere");
  answerer.join();
}

}  // namespace
}  // namespace dg::http
