// The Server's exchanges as a client sees them: keep-alive, the fields the
// server owns, pipelining, routing (404/405), request ids, credentials
// (401 and its Bearer challenge), handler failures and the handler pool's
// bound. See server_test_support.h for the client and the fixture.
#include <gtest/gtest.h>

#include "base/log.h"
#include "base/spare_string.h"
#include "http/server_test_support.h"

namespace dg::http {
namespace {

using namespace server_test;

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start_server();
  Client client(port());
  ASSERT_TRUE(client.connected());
  for (std::string n : {"1", "2", "3"}) {
    auto response = client.exchange(get("/echo/" + n));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200u);
    EXPECT_EQ(response->body, n);
    EXPECT_EQ(response->header("connection"), "");
    EXPECT_FALSE(response->header("date").empty());
    EXPECT_FALSE(response->header("x-request-id").empty());
  }
}

// The server writes the header itself: a handler's Content-Length, Date,
// Connection, Transfer-Encoding and X-Request-Id give way to the server's.
TEST_F(ServerTest, ServerOwnedFieldsReplaceTheHandlersOnes) {
  router_.add(Verb::get, "/owned", [](Request&) {
    Response response = text_response(207, "body", "text/plain");
    response.headers.set(Field::content_length, "999");
    response.headers.set(Field::date, "yesterday");
    response.headers.set(Field::connection, "upgrade");
    response.headers.set(Field::transfer_encoding, "chunked");
    response.headers.set("x-request-id", "from-the-handler");
    response.headers.set("X-Custom", "kept");
    return response;
  });
  start_server();
  Client client(port());
  auto response = client.exchange(get("/owned", "X-Request-Id: trace-7\r\n"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->head_text.substr(0, 27), "HTTP/1.1 207 Multi-Status\r\n");
  EXPECT_EQ(response->body, "body");
  EXPECT_EQ(response->header("content-length"), "4");
  EXPECT_EQ(response->header("x-request-id"), "trace-7");
  EXPECT_EQ(response->header("x-custom"), "kept");
  EXPECT_EQ(response->header("connection"), "");
  EXPECT_EQ(response->header("transfer-encoding"), "");
  EXPECT_NE(response->header("date"), "yesterday");
  EXPECT_TRUE(response->header("date").ends_with(" GMT")) << response->header("date");
  auto count = [&](std::string_view name) {
    size_t n = 0;
    std::string lower = response->head_text;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (size_t at = lower.find(name); at != std::string::npos; at = lower.find(name, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("\r\ncontent-length:"), 1u);
  EXPECT_EQ(count("\r\ndate:"), 1u);
  EXPECT_EQ(count("\r\nx-request-id:"), 1u);
  // The connection stays usable: the next answer is framed right.
  auto next = client.exchange(get("/echo/2"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "2");
}

// Between requests a connection waits with a read posted into a block; idle
// for about a second, it gives the block back and waits without one. Either
// way its next request is served.
TEST_F(ServerTest, AnIdleConnectionGivesItsReadBlockBackAndIsStillServed) {
  start_server();
  Client client(port());
  auto held_becomes = [&](size_t want, std::chrono::milliseconds within) {
    return read_blocks_held_becomes(want, within);
  };
  EXPECT_EQ(server_->read_blocks_held(), 0u);  // a new connection waits without one
  for (std::string n : {"1", "2", "3"}) {
    auto response = client.exchange(get("/echo/" + n));
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, n);
    EXPECT_TRUE(held_becomes(1, std::chrono::milliseconds(2000))) << "after request " << n;
    if (n == "2") continue;  // the third request comes at once
    EXPECT_TRUE(held_becomes(0, std::chrono::milliseconds(5000))) << "idle after request " << n;
  }
  client.close();
  EXPECT_TRUE(held_becomes(0, std::chrono::milliseconds(5000)));
}

// A block holds 2 KiB; longer headers, alone or pipelined, are read whole.
TEST_F(ServerTest, HeadersLongerThanAReadBlockAreReadWhole) {
  start_server();
  Client client(port());
  ASSERT_TRUE(client.exchange(get("/echo/1")));
  ASSERT_TRUE(read_blocks_held_becomes(1, wait_max));  // waiting with a block now
  std::string long_field = "X-Pad: " + std::string(6000, 'p') + "\r\n";
  std::string medium_field = "X-Pad: " + std::string(1500, 'q') + "\r\n";
  ASSERT_TRUE(client.send(get("/echo/2", long_field) + get("/echo/3", medium_field) +
                          get("/echo/4", medium_field)));
  for (std::string n : {"2", "3", "4"}) {
    auto response = client.read_response();
    ASSERT_TRUE(response) << n;
    EXPECT_EQ(response->status, 200u) << n;
    EXPECT_EQ(response->body, n);
  }
}

// A plain head that arrives whole takes the server's fast path; one with an
// unusual byte, or that arrives in pieces, goes to Beast's parser. The
// handler must see the same request either way.
TEST_F(ServerTest, PlainAndUnusualHeadsOfOneRequestReachTheHandlerAlike) {
  router_.add(Verb::get, "/seen/{n}", [](Request& request) {
    size_t fields =
        static_cast<size_t>(std::distance(request.headers.begin(), request.headers.end()));
    std::string seen = std::string(request.param("n")) + "|" + request.path + "|" +
                       std::string(request.query_value("q").value_or("-")) + "|" +
                       std::string(request.header("X-Note")) + "|" +
                       std::string(request.header(Field::range)) + "|" + std::to_string(fields) +
                       "|" + request.request_id;
    return text_response(200, seen, "text/plain");
  });
  start_server();
  Client client(port());
  const std::string fields =
      "X-Note:  one \r\nRange: bytes=1-2\r\nX-Note: two\r\nX-Request-Id: r-1\r\n";
  const std::string expected = "a/b|/seen/a/b|1 2|one|bytes=1-2|5|r-1";
  auto served = [&](std::string_view what) {
    auto response = client.read_response();
    ASSERT_TRUE(response) << what;
    EXPECT_EQ(response->status, 200u) << what;
    EXPECT_EQ(response->body, expected) << what;
    EXPECT_EQ(response->header("x-request-id"), "r-1") << what;
  };
  // Plain, whole: the fast path.
  ASSERT_TRUE(client.send(get("/seen/a%2Fb?q=1+2", fields)));
  served("plain");
  // Once the read waits in a block.
  ASSERT_TRUE(read_blocks_held_becomes(1, wait_max));
  ASSERT_TRUE(client.send(get("/seen/a%2Fb?q=1+2", fields)));
  served("plain, into a block");
  // A byte the fast path leaves to Beast: obs-text in a field value.
  std::string unusual = get("/seen/a%2Fb?q=1+2", fields);
  unusual.replace(unusual.find("Host: t"), 7, "Host: caf\xc3\xa9");
  ASSERT_TRUE(client.send(unusual));
  served("obs-text");
  // In two pieces: the first is no whole head.
  std::string whole = get("/seen/a%2Fb?q=1+2", fields);
  ASSERT_TRUE(client.send(whole.substr(0, 30)));
  // Pacing, not synchronisation: the point is that the head arrives in two
  // packets. Should the server read both at once, the request is still served
  // alike (the fast path), so this cannot fail spuriously.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(client.send(whole.substr(30)));
  served("in pieces");
  // Two at once: the second is read from what follows the first.
  ASSERT_TRUE(client.send(whole + unusual));
  served("pipelined, first");
  served("pipelined, second");
}

TEST_F(ServerTest, PipelinedRequestsRunConcurrentlyAndAnswerInOrder) {
  Gate third_started;
  std::atomic<bool> first_waited_for_third{false};
  router_.add(Verb::get, "/pipe/{n}", [&](Request& request) {
    std::string n(request.param("n"));
    if (n == "1") first_waited_for_third = third_started.wait();  // read-ahead lets 3 start
    if (n == "3") third_started.open();
    return text_response(200, n, "text/plain");
  });
  start_server();
  Client client(port());
  ASSERT_TRUE(client.send(get("/pipe/1") + get("/pipe/2") + get("/pipe/3")));
  for (std::string n : {"1", "2", "3"}) {
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, n);
  }
  EXPECT_TRUE(first_waited_for_third);
}

// With pipeline_depth_max 1 a connection's next request is not even read
// while one is in flight. Seen without timing: the only handler job
// (handler_jobs_max 1) is held by the first request until the one I/O thread
// has served another connection, so it finished the turn in which it read
// all four requests; a request dispatched meanwhile would find no job (503).
TEST_F(ServerTest, PipelineDepthBoundsHandlersInFlightPerConnection) {
  Gate first_entered;
  Gate release;
  std::atomic<int> calls{0};
  router_.add(Verb::get, "/count", [&](Request&) {
    if (++calls == 1) {
      first_entered.open();
      release.wait();
    }
    return text_response(200, "ok", "text/plain");
  });
  router_.add(Verb::get, "/inline",
              [](Request&) { return text_response(200, "inline", "text/plain"); },
              {.blocking = false});
  start_server({.io_threads = 1, .handler_jobs_max = 1, .pipeline_depth_max = 1});
  Client client(port());
  ASSERT_TRUE(client.send(get("/count") + get("/count") + get("/count") + get("/count")));
  ASSERT_TRUE(first_entered.wait());
  Client other(port());
  auto served = other.exchange(get("/inline"));
  ASSERT_TRUE(served);
  EXPECT_EQ(served->body, "inline");
  release.open();
  for (int i = 0; i < 4; ++i) {
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200u) << i;
  }
  EXPECT_EQ(calls.load(), 4);
}

TEST_F(ServerTest, NotFoundVersusMethodNotAllowed) {
  start_server();
  Client client(port());
  auto missing = client.exchange(get("/nope", "X-Request-Id: trace-42\r\n"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404u);
  EXPECT_EQ(missing->header("content-type"), "application/problem+json");
  EXPECT_EQ(missing->header("x-request-id"), "trace-42");
  EXPECT_NE(missing->body.find("\"instance\":\"trace-42\""), std::string::npos);

  auto wrong = client.exchange(bodiless_request("DELETE", "/echo/1"));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405u);
  EXPECT_EQ(wrong->header("allow"), "GET, HEAD");
}

TEST_F(ServerTest, RequestIdIsEchoedWhenSaneAndGeneratedOtherwise) {
  start_server();
  Client client(port());
  auto first = client.exchange(get("/echo/1", "X-Request-Id: bad id with spaces\r\n"));
  auto second = client.exchange(get("/echo/1"));
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->header("x-request-id"), "bad id with spaces");
  EXPECT_FALSE(first->header("x-request-id").empty());
  EXPECT_NE(first->header("x-request-id"), second->header("x-request-id"));
}

TEST_F(ServerTest, AuthRouteRefusesWithout401AndServesWithCredentials) {
  router_.add(Verb::get, "/admin", [](Request&) { return text_response(200, "hi", "text/plain"); },
              {.requires_auth = true});
  start_server();
  Client client(port());
  auto refused = client.exchange(get("/admin"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401u);
  auto accepted = client.exchange(get("/admin", auth));  // no body, so the connection lives on
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->status, 200u);
  EXPECT_EQ(accepted->body, "hi");
}

// RFC 9110 §15.5.2 and RFC 6750 §3: every 401 says how to authenticate
// ("WWW-Authenticate: Bearer"), whether the router or a handler refused;
// when the request presented a credential (Authorization, or a download
// link's ?token=), the challenge adds error="invalid_token". A 403 has none.
TEST_F(ServerTest, Every401CarriesABearerChallengeNamingARefusedToken) {
  router_.add(Verb::get, "/admin", [](Request&) { return text_response(200, "hi", "text/plain"); },
              {.requires_auth = true});
  router_.add(Verb::get, "/download", [](Request& request) {
    if (request.query_value("token") == "good") return text_response(200, "file", "text/plain");
    if (request.query_value("token") == "other-drop")
      return problem(403, "token-wrong-drop", "Wrong drop", "");
    return problem(401, "token-refused", "Download token refused", "");
  });
  start_server();
  Client client(port());
  const std::pair<std::string, std::string> cases[] = {
      {get("/admin"), "Bearer"},
      {get("/admin", "Authorization: Bearer wrong\r\n"), "Bearer error=\"invalid_token\""},
      {get("/admin", "Authorization: Basic dTpw\r\n"), "Bearer error=\"invalid_token\""},
      {get("/download"), "Bearer"},
      {get("/download?token=forged"), "Bearer error=\"invalid_token\""},
      {get("/download", "Authorization: Bearer forged\r\n"), "Bearer error=\"invalid_token\""},
  };
  for (const auto& [request, challenge] : cases) {
    auto response = client.exchange(request);
    ASSERT_TRUE(response) << request;
    EXPECT_EQ(response->status, 401u) << request;
    EXPECT_EQ(response->header("www-authenticate"), challenge) << request;
  }
  auto forbidden = client.exchange(get("/download?token=other-drop"));
  ASSERT_TRUE(forbidden);
  EXPECT_EQ(forbidden->status, 403u);
  EXPECT_EQ(forbidden->header("www-authenticate"), "");
}

TEST_F(ServerTest, EncodedTraversalNeverReachesTheHandler) {
  Inbox<std::string> paths;
  router_.add(Verb::get, "/files/{path*}", [&](Request& request) {
    paths.push(std::string(request.param("path")));
    return text_response(200, std::string(request.param("path")), "text/plain");
  });
  start_server();
  for (std::string target : {"/files/..%2F..%2Fetc%2Fpasswd", "/files/%2e%2e/x",
                             "/files/a/../../etc/passwd", "/files/%2E%2E%2fetc", "/files/x%00"}) {
    Client client(port());
    auto response = client.exchange(get(target));
    ASSERT_TRUE(response) << target;
    EXPECT_EQ(response->status, 400u) << target;
  }
  Client client(port());
  auto response = client.exchange(get("/files/disc%201/a%2Fb.flac"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "disc 1/a/b.flac");
  auto seen = paths.wait_for(1);
  ASSERT_EQ(seen.size(), 1u);  // only the benign request got through
  EXPECT_EQ(seen[0].find(".."), std::string::npos);
}

TEST_F(ServerTest, SaturatedHandlerPoolAnswers503WithRetryAfter) {
  Gate entered;
  Gate release;
  router_.add(Verb::get, "/hold", [&](Request&) {
    entered.open();
    release.wait();
    return text_response(200, "held", "text/plain");
  });
  start_server({.handler_threads = 1, .handler_jobs_max = 1});
  Client holder(port());
  ASSERT_TRUE(holder.send(get("/hold")));
  ASSERT_TRUE(entered.wait());
  Client other(port());
  auto busy = other.exchange(get("/echo/1"));
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->status, 503u);
  EXPECT_EQ(busy->header("retry-after"), "1");
  release.open();
  auto held = holder.read_response();
  ASSERT_TRUE(held);
  EXPECT_EQ(held->body, "held");
}

TEST_F(ServerTest, OnRequestHookSeesRouteAndStatus) {
  Inbox<std::pair<std::string, unsigned>> seen;
  start_server(
      {.on_request = [&](std::string_view route, unsigned status, std::chrono::microseconds) {
        seen.push({std::string(route), status});
      }});
  Client client(port());
  ASSERT_TRUE(client.exchange(get("/echo/1") + get("/missing")));
  ASSERT_TRUE(client.read_response());
  auto calls = seen.wait_for(2);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0], (std::pair<std::string, unsigned>{"echo", 200}));
  EXPECT_EQ(calls[1], (std::pair<std::string, unsigned>{"", 404}));
}

TEST_F(ServerTest, HandlerExceptionIs500) {
  router_.add(Verb::get, "/boom", [](Request&) -> Response { throw std::runtime_error("x"); });
  start_server();
  Client client(port());
  auto boom = client.exchange(get("/boom") + get("/echo/ok"));
  ASSERT_TRUE(boom);
  EXPECT_EQ(boom->status, 500u);
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "ok");
}

TEST_F(ServerTest, HeadOnABufferedRouteSendsTheLengthOnly) {
  start_server();
  Client client(port());
  ASSERT_TRUE(client.send(head("/echo/abc") + get("/echo/next")));
  auto head = client.read_response(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200u);
  EXPECT_EQ(head->header("content-length"), "3");
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "next");
}

// The access log line (log::Line) builds in the I/O thread's spare string
// and must have given it back before on_done runs: the edge's on_done
// builds its outbox event there, and without the spare it allocates anew
// as the event grows. Checks that on_done finds the spare holding a buffer
// (capacity beyond the string's inline room), for a log line at info.
TEST_F(ServerTest, OnDoneFindsTheThreadsSpareStringGivenBackByTheLogLine) {
  ASSERT_LE(static_cast<int>(log::level()), static_cast<int>(log::Level::info));
  Inbox<size_t> spare_capacity;
  router_.add(Verb::get, "/done",
              [&](Request&) {
                Response response = text_response(200, "ok", "text/plain");
                response.on_done = [&](bool, uint64_t) {
                  std::string text;
                  take_spare_string(text);
                  spare_capacity.push(text.capacity());
                  give_back_spare_string(text);
                };
                return response;
              },
              {.blocking = false});
  start_server();
  Client client(port());
  auto response = client.exchange(get("/done"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200u);
  auto capacities = spare_capacity.wait_for(1);
  ASSERT_EQ(capacities.size(), 1u);
  EXPECT_GT(capacities[0], std::string().capacity());
}

}  // namespace
}  // namespace dg::http
