// serialize_head on its own: the exact bytes of a response head, with no
// server or socket. The server tests check the same rules end to end.
#include "http/response_head.h"

#include <gtest/gtest.h>

#include <string>

#include "http/http.h"

namespace dg::http::internal {
namespace {

constexpr std::string_view date = "Sun, 06 Nov 1994 08:49:37 GMT";

std::string head_of(const Response& response, bool close = false, uint64_t content_length = 0) {
  std::string out;
  serialize_head(response, {date, "req-1", close, content_length}, out);
  return out;
}

// The whole head, byte for byte: the status line with its reason phrase, the
// handler's fields in the order it set them, then the server's own (Date,
// X-Request-Id, Content-Length) and the blank line.
TEST(SerializeHead, StatusLineThenTheHandlersFieldsInOrderThenTheServersOwn) {
  Response response = text_response(200, "hello", "text/plain");
  response.headers.set(Field::etag, "\"abc\"");
  response.headers.set("X-Custom", "1");
  EXPECT_EQ(head_of(response, false, 5),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain\r\n"
            "ETag: \"abc\"\r\n"
            "X-Custom: 1\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "X-Request-Id: req-1\r\n"
            "Content-Length: 5\r\n"
            "\r\n");
}

// A handler cannot frame the body or name the exchange: its Content-Length,
// Transfer-Encoding, Connection, Date and X-Request-Id (in any letter case)
// are dropped and the server's values stand alone. A field that merely
// starts like one of them is the handler's and stays.
TEST(SerializeHead, TheHandlersValuesForServerOwnedFieldsAreDropped) {
  Response response = text_response(200, "", "text/plain");
  response.headers.set(Field::content_length, "999");
  response.headers.set(Field::transfer_encoding, "chunked");
  response.headers.set(Field::connection, "upgrade");
  response.headers.set(Field::date, "yesterday");
  response.headers.set("x-REQUEST-id", "forged");
  response.headers.set("X-Request-Ids", "kept");
  EXPECT_EQ(head_of(response, true, 0),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain\r\n"
            "X-Request-Ids: kept\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "X-Request-Id: req-1\r\n"
            "Connection: close\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
}

// "Connection: close" marks the last response on a connection, and only
// that one: keep-alive is HTTP/1.1's default and is never written.
TEST(SerializeHead, ConnectionCloseIsWrittenOnlyWhenTheConnectionCloses) {
  Response response = text_response(404, "", "text/plain");
  EXPECT_NE(head_of(response, true).find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(head_of(response, false).find("Connection"), std::string::npos);
  EXPECT_TRUE(head_of(response).starts_with("HTTP/1.1 404 Not Found\r\n"));
}

// 1xx, 204 and 304 end with their head: no Content-Length, whatever length
// the caller passes (a 304's would be the 200's, which we do not state).
// Every other status states its length, an empty body's 0 included.
TEST(SerializeHead, StatusesWithoutABodyCarryNoContentLength) {
  for (unsigned status : {100u, 103u, 204u, 304u}) {
    Response response;
    response.status = status;
    std::string head = head_of(response, false, 42);
    EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
    EXPECT_TRUE(head.ends_with("X-Request-Id: req-1\r\n\r\n")) << head;
    EXPECT_FALSE(status_has_body(status)) << status;
  }
  for (unsigned status : {200u, 205u, 206u, 404u, 500u}) {
    Response response;
    response.status = status;
    EXPECT_TRUE(head_of(response, false, 0).ends_with("\r\nContent-Length: 0\r\n\r\n")) << status;
    EXPECT_TRUE(status_has_body(status)) << status;
  }
}

// The head states the length it is given, not the length of the body it
// holds: a HEAD request gets the Content-Length a GET would get (the
// caller passes the GET body's length and sends no body), and a body sent
// from files states the sum of their ranges.
TEST(SerializeHead, ContentLengthIsTheCallersNotTheHeldBodys) {
  Response response = text_response(200, "", "application/zip");
  EXPECT_NE(head_of(response, false, 123456789012).find("\r\nContent-Length: 123456789012\r\n"),
            std::string::npos);
}

// The head is appended: the server writes it into a string it reuses, and
// what that string held stays in front.
TEST(SerializeHead, AppendsToWhatTheOutputHolds) {
  std::string out = "kept";
  serialize_head(text_response(201, "", "text/plain"), {date, "id", false, 0}, out);
  EXPECT_TRUE(out.starts_with("keptHTTP/1.1 201 Created\r\n")) << out;
}

}  // namespace
}  // namespace dg::http::internal
