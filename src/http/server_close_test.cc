// How connections end: header and body deadlines (slow and trickling
// clients), idle keep-alive, Connection: close and HTTP/1.0, a graceful stop
// and SIGTERM. See server_test_support.h.
#include <gtest/gtest.h>

#include "http/server_test_support.h"

namespace dg::http {
namespace {

using namespace server_test;

TEST_F(ServerTest, SlowHeaderIsDisconnectedAfterTheHeaderTimeout) {
  start_server({.header_read_timeout = 300ms});
  Client client(port());
  ASSERT_TRUE(client.send("GET /echo/1 HTTP/1.1\r\nHost: t\r\n"));  // never finished
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(ServerTest, SilentNewConnectionIsDisconnectedAfterTheHeaderTimeout) {
  start_server({.header_read_timeout = 300ms});
  Client client(port());
  EXPECT_TRUE(client.closed_by_server());
}

// Sends `bytes` one at a time, `gap` apart, on its own thread, until they
// run out, the server hangs up, or stop() is called. The pacing is the point:
// a client that keeps bytes coming must still be cut off.
class Trickle {
 public:
  Trickle(Client& client, std::string bytes, std::chrono::milliseconds gap)
      : thread_([this, &client, bytes = std::move(bytes), gap] {
          for (char byte : bytes) {
            if (stop_.load() || !client.send(std::string_view(&byte, 1))) return;
            std::this_thread::sleep_for(gap);  // pacing: each byte is its own packet
          }
        }) {}
  ~Trickle() { stop(); }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A head has a total deadline, from accept for the first request: lines
// that keep arriving do not extend it (slowloris).
TEST_F(ServerTest, TrickledHeaderIsCutOffAtItsTotalDeadline) {
  start_server({.header_read_timeout = 300ms});
  Client client(port());
  std::string lines = "GET /echo/1 HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 100; ++i) lines += "X-" + std::to_string(i) + ": x\r\n";
  Trickle trickle(client, lines + "\r\n", 20ms);  // the whole head would take ~25 s
  EXPECT_TRUE(client.closed_by_server());
}

// A body has a total deadline too (a floor plus its length at a minimum
// rate), which its bytes arriving do not extend: one byte every 50 ms keeps
// the per-byte stall check (200 ms) happy, but not the total (300 ms). The
// handler never runs.
TEST_F(ServerTest, TrickledBodyIsCutOffAtItsTotalDeadline) {
  Inbox<std::string> bodies;
  router_.add(Verb::post, "/sink",
              [&](Request& request) {
                bodies.push(request.body);
                return text_response(200, "sunk", "text/plain");
              },
              {.body_bytes_max = 1024});
  start_server({.body_read_timeout = 200ms, .body_time_floor = 300ms});
  Client client(port());
  ASSERT_TRUE(client.send(post_head("/sink", 100)));
  Trickle trickle(client, std::string(100, 'b'), 50ms);  // the whole body would take 5 s
  EXPECT_TRUE(client.closed_by_server());
  trickle.stop();
  // A body that arrives in time is still served on a new connection.
  Client prompt(port());
  auto response = prompt.exchange(post("/sink", "quick"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "sunk");
  EXPECT_EQ(bodies.wait_for(1), (std::vector<std::string>{"quick"}));
}

TEST_F(ServerTest, IdleKeepAliveIsClosedAfterItsTimeout) {
  start_server({.idle_keep_alive_timeout = 300ms});
  Client client(port());
  ASSERT_TRUE(client.exchange(get("/echo/1")));
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(ServerTest, ConnectionCloseAndHttp10AreHonoured) {
  start_server();
  Client closing(port());
  auto response = closing.exchange(get("/echo/1", "Connection: close\r\n"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(closing.closed_by_server());

  Client old(port());
  auto old_response = old.exchange("GET /echo/2 HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(old_response);
  EXPECT_EQ(old_response->body, "2");
  EXPECT_TRUE(old.closed_by_server());
}

TEST_F(ServerTest, GracefulStopFinishesInFlightAndClosesIdle) {
  Gate entered;
  Gate release;
  router_.add(Verb::get, "/hold", [&](Request&) {
    entered.open();
    release.wait();
    return text_response(200, "finished", "text/plain");
  });
  start_server();
  uint16_t server_port = port();
  Client idle(server_port);
  ASSERT_TRUE(idle.exchange(get("/echo/1")));
  Client busy(server_port);
  ASSERT_TRUE(busy.send(get("/hold")));
  ASSERT_TRUE(entered.wait());

  server_->stop();  // run() shuts down on its thread; the handler is still running
  EXPECT_TRUE(idle.closed_by_server());
  Client late(server_port);
  EXPECT_FALSE(late.connected() && late.exchange(get("/echo/2")));

  release.open();
  auto response = busy.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200u);
  EXPECT_EQ(response->body, "finished");
  // The connection ends after its last exchange. (Whether that response
  // already says "Connection: close" depends on whether the session saw the
  // shutdown before the handler returned, which this test does not order.)
  EXPECT_TRUE(busy.closed_by_server());
  run_thread_.join();  // run() returns once the last exchange is done
}

TEST_F(ServerTest, SigtermStopsAServerThatHandlesSignals) {
  server_ = std::make_unique<Server>(router_, ServerOptions{.port = 0, .io_threads = 1});
  ASSERT_TRUE(server_->start().ok());
  run_thread_ = std::thread([this] { server_->run(/*handle_signals=*/true); });
  Client client(port());
  // Once answered, run() is serving, so its signal handler is installed.
  ASSERT_TRUE(client.exchange(get("/echo/1")));
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  run_thread_.join();
  EXPECT_TRUE(client.closed_by_server());
}

}  // namespace
}  // namespace dg::http
