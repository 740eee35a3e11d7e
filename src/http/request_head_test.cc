// The fast head parser, by example and side by side with Beast's parser: any
// head it takes must mean to it exactly what it means to Beast.
#include "http/request_head.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <random>
#include <string>
#include <vector>

#include "base/limits.h"
#include "http/internal.h"

namespace dg::http::internal {
namespace {

namespace bhttp = boost::beast::http;

bool parse(std::string_view bytes, SimpleRequestHead& head) {
  return parse_simple_request_head(bytes, head);
}

bool accepts(std::string_view bytes) {
  SimpleRequestHead head;
  return parse(bytes, head);
}

TEST(RequestHeadTest, TakesAPlainGet) {
  std::string bytes =
      "GET /v1/drops/a/files/x.bin?token=v4.public.abc_-%2B HTTP/1.1\r\n"
      "Host: edge.local:8080\r\n"
      "Range:   bytes=0-99 \t\r\n"
      "X-Empty:\r\n"
      "\r\n"
      "GET /next HTTP/1.1\r\n";
  SimpleRequestHead head;
  ASSERT_TRUE(parse(bytes, head));
  EXPECT_EQ(head.method, Verb::get);
  EXPECT_EQ(head.method_text, "GET");
  EXPECT_EQ(head.target, "/v1/drops/a/files/x.bin?token=v4.public.abc_-%2B");
  EXPECT_EQ(head.version, 11u);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_EQ(head.head_bytes, bytes.find("GET /next"));
  ASSERT_EQ(head.field_count, 3u);
  EXPECT_EQ(head.fields[0].first, "Host");
  EXPECT_EQ(head.fields[0].second, "edge.local:8080");
  EXPECT_EQ(head.fields[1].second, "bytes=0-99");  // spaces and tabs around the value go
  EXPECT_EQ(head.fields[2].second, "");
  EXPECT_EQ(head.field("range"), "bytes=0-99");
  EXPECT_EQ(head.field("If-Range"), "");
}

TEST(RequestHeadTest, KeepAliveFollowsTheVersionAndConnection) {
  SimpleRequestHead head;
  ASSERT_TRUE(parse("HEAD / HTTP/1.0\r\n\r\n", head));
  EXPECT_EQ(head.method, Verb::head);
  EXPECT_EQ(head.version, 10u);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_TRUE(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", head));
  EXPECT_TRUE(head.keep_alive);
  ASSERT_TRUE(parse("GET / HTTP/1.1\r\nconnection: CLOSE\r\n\r\n", head));
  EXPECT_FALSE(head.keep_alive);
  ASSERT_TRUE(parse("GET / HTTP/1.1\r\n\r\n", head));
  EXPECT_TRUE(head.keep_alive);
}

TEST(RequestHeadTest, DeclinesAnythingElse) {
  const std::vector<std::string> declined = {
      "",
      "GET / HTTP/1.1\r\nHost: a\r\n",             // not complete yet
      "GET / HTTP/1.1\r\nHost: a\r\n\r",           // nor this
      "POST / HTTP/1.1\r\n\r\n",                   // another method
      "get / HTTP/1.1\r\n\r\n",                    // methods are case-sensitive
      "GET  / HTTP/1.1\r\n\r\n",                   // two spaces
      "GET http://a/ HTTP/1.1\r\n\r\n",            // absolute form
      "GET * HTTP/1.1\r\n\r\n",                    // asterisk form
      "GET /a b HTTP/1.1\r\n\r\n",                 // a space in the target
      "GET /a\"b HTTP/1.1\r\n\r\n",                // not an RFC 3986 character
      "GET /\xc3\xa9 HTTP/1.1\r\n\r\n",            // nor raw UTF-8
      "GET / HTTP/2.0\r\n\r\n",                    // another version
      "GET / HTTP/1.1\n\n",                        // bare LF
      "GET / HTTP/1.1\r\nHost: a\n\r\n",           // bare LF after a field
      "GET / HTTP/1.1\r\nHost : a\r\n\r\n",        // space before the colon
      "GET / HTTP/1.1\r\n: a\r\n\r\n",             // no name
      "GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",   // obs-fold
      "GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n",  // obs-text
      "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n",        // DEL
      "GET / HTTP/1.1\r\nX: a\x01\r\n\r\n",        // a control character
      "GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
      "GET / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n",
      "GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n",
      "GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n",
      "GET / HTTP/1.1\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n",
  };
  for (const std::string& bytes : declined) EXPECT_FALSE(accepts(bytes)) << bytes;
}

TEST(RequestHeadTest, DeclinesTooManyFieldsOrBytes) {
  std::string fields;
  for (size_t i = 0; i < SimpleRequestHead::fields_max; ++i)
    fields += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_TRUE(accepts("GET / HTTP/1.1\r\n" + fields + "\r\n"));
  EXPECT_FALSE(accepts("GET / HTTP/1.1\r\n" + fields + "X-Last: v\r\n\r\n"));

  std::string head =
      "GET / HTTP/1.1\r\nX: " + std::string(limits::request_header_bytes_max, 'a') + "\r\n\r\n";
  EXPECT_FALSE(accepts(head));
  std::string fits = "GET / HTTP/1.1\r\nX: \r\n\r\n";
  fits.insert(fits.find("X: ") + 3,
              std::string(limits::request_header_bytes_max - fits.size(), 'a'));
  ASSERT_EQ(fits.size(), limits::request_header_bytes_max);
  EXPECT_TRUE(accepts(fits));
}

// --- Side by side with Beast.

// What Beast makes of a head; nullopt when it refuses it or wants more.
struct BeastView {
  size_t head_bytes = 0;
  bool done = false;
  Verb method{};
  std::string method_text, target;
  unsigned version = 0;
  bool keep_alive = false;
  std::vector<std::pair<std::string, std::string>> fields;
};

std::optional<BeastView> beast_parse(std::string_view bytes) {
  bhttp::request_parser<bhttp::empty_body> parser;
  parser.header_limit(limits::request_header_bytes_max);
  boost::system::error_code ec;
  size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec || !parser.is_header_done()) return std::nullopt;
  const auto& message = parser.get();
  BeastView view;
  view.head_bytes = used;
  view.done = parser.is_done();
  view.method = message.method();
  view.method_text = std::string(message.method_string());
  view.target = std::string(message.target());
  view.version = message.version();
  view.keep_alive = message.keep_alive();
  for (const auto& field : message) view.fields.emplace_back(field.name_string(), field.value());
  return view;
}

// Heads built from pieces that are mostly valid, with now and then a piece
// each parser may judge differently.
class HeadGenerator {
 public:
  explicit HeadGenerator(uint32_t seed) : random_(seed) {}

  // Half the heads are built of valid pieces only (random in their
  // targets, names, values and spacing), half with any piece.
  std::string next() {
    clean_ = roll(2) == 0;
    std::string head =
        clean_ ? pick({"GET", "HEAD"}) : pick({"GET", "HEAD", "POST", "OPTIONS", "get"});
    head += clean_ ? " " : pick({" ", " ", "  ", "\t"});
    head += target();
    head += clean_ ? pick({" HTTP/1.1\r\n", " HTTP/1.0\r\n"})
                   : pick({" HTTP/1.1\r\n", " HTTP/1.0\r\n", " HTTP/1.2\r\n", " HTTP/1.1\n",
                           "HTTP/1.1\r\n"});
    size_t fields = roll(8);
    for (size_t i = 0; i < fields; ++i) head += field();
    head += clean_ ? "\r\n" : pick({"\r\n", "\r\n", "\n", "\r\n\r\n", ""});
    if (roll(4) == 0) head += "GET /pipelined HTTP/1.1\r\n\r\n";
    return head;
  }

 private:
  size_t roll(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random_); }
  std::string pick(std::initializer_list<const char*> options) {
    return *(options.begin() + static_cast<std::ptrdiff_t>(roll(options.size())));
  }

  std::string target() {
    static constexpr std::string_view alphabet =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?%";
    std::string text = !clean_ && roll(10) == 0 ? pick({"*", "http://a/b", ""}) : "/";
    size_t length = roll(3) == 0 ? roll(600) : roll(40);
    for (size_t i = 0; i < length; ++i) {
      if (!clean_ && roll(200) == 0) {
        text += static_cast<char>(roll(256));  // any byte at all, now and then
      } else {
        text += alphabet[roll(alphabet.size())];
      }
    }
    return text;
  }

  std::string field() {
    std::string name =
        clean_ ? pick({"Host", "Range", "If-None-Match", "X-Request-Id", "Connection", "Expect",
                       "User-Agent", "Accept", "X-Custom_Thing", "Cookie", "a"})
               : pick({"Host", "Range", "Connection", "connection", "Accept", "Content-Length",
                       "Transfer-Encoding", "Bad Name", "", "Cookie"});
    std::string value;
    if (clean_ && name == "Connection") {
      value = pick({"close", "keep-alive", "Keep-Alive", "CLOSE"});
    } else if (name == "Connection" || name == "connection") {
      value =
          pick({"close", "keep-alive", "Keep-Alive", "CLOSE", "upgrade", "close, keep-alive", ""});
    } else if (name == "Content-Length") {
      value = pick({"0", "5", "x"});
    } else {
      size_t length = roll(30);
      for (size_t i = 0; i < length; ++i) {
        value += !clean_ && roll(100) == 0 ? static_cast<char>(roll(256))
                                           : static_cast<char>(' ' + roll(95));
      }
    }
    std::string line =
        name + (clean_ ? pick({": ", ":", ":  ", ":\t"}) : pick({": ", ":", " : ", ":\t"}));
    line += value + pick({"", " ", "\t", "  "});
    line += clean_ ? "\r\n" : pick({"\r\n", "\r\n", "\r\n", "\n", "\r\n "});
    return line;
  }

  std::mt19937 random_;
  bool clean_ = false;
};

TEST(RequestHeadTest, AgreesWithBeastOnEveryHeadItTakes) {
  HeadGenerator generator(20261121);
  size_t taken = 0, declined = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string bytes = generator.next();
    SimpleRequestHead head;
    if (!parse(bytes, head)) {
      ++declined;
      continue;
    }
    ++taken;
    std::optional<BeastView> beast = beast_parse(bytes);
    ASSERT_TRUE(beast) << "Beast refuses a head the fast path took:\n" << bytes;
    EXPECT_TRUE(beast->done) << bytes;  // no body
    EXPECT_EQ(beast->head_bytes, head.head_bytes) << bytes;
    EXPECT_EQ(beast->method, head.method) << bytes;
    EXPECT_EQ(beast->method_text, head.method_text) << bytes;
    EXPECT_EQ(beast->target, head.target) << bytes;
    EXPECT_EQ(beast->version, head.version) << bytes;
    EXPECT_EQ(beast->keep_alive, head.keep_alive) << bytes;
    // The server inserts the fields into a Request's Fields, as Beast's
    // parser does (Fields groups fields of one name): the result must match.
    Fields fields;
    for (size_t f = 0; f < head.field_count; ++f)
      fields.insert(head.fields[f].first, head.fields[f].second);
    std::vector<std::pair<std::string, std::string>> ours;
    for (const auto& field : fields) ours.emplace_back(field.name_string(), field.value());
    EXPECT_EQ(beast->fields, ours) << bytes;
    if (HasFailure()) return;
  }
  // Both outcomes must be common, or the comparison proves little.
  EXPECT_GT(taken, 10000u);
  EXPECT_GT(declined, 10000u);
}

// --- The plain-character scan.

bool plain_by_definition(unsigned char c) {
  return std::isalnum(c) != 0 ||
         std::string_view("-._~!$&'()*+,;=:@/").find(static_cast<char>(c)) !=
             std::string_view::npos;
}

TEST(RequestHeadTest, PlainRunStopsAtTheFirstOtherByteWhereverItIs) {
  // Every byte value, at every offset of a run long enough for two 16-byte
  // steps and a tail.
  for (size_t length : {0u, 1u, 15u, 16u, 17u, 31u, 32u, 47u}) {
    std::string plain(length, 'a');
    EXPECT_EQ(plain_target_run(plain), length);
    for (size_t at = 0; at < length; ++at) {
      for (int c = 0; c < 256; ++c) {
        std::string text = plain;
        text[at] = static_cast<char>(c);
        size_t expected = plain_by_definition(static_cast<unsigned char>(c)) ? length : at;
        ASSERT_EQ(plain_target_run(text), expected)
            << "byte " << c << " at " << at << " of " << length;
      }
    }
  }
}

// The fast path hands its target to parse_checked_target, which skips
// parse_target's origin-form scan: for every target the fast path takes,
// that must give the same status (message included) and fill the request
// alike, and a bad escape must leave the whole check to parse_target.
TEST(RequestHeadTest, ItsCheckedTargetParsesAsParseTargetWould) {
  const std::string token(600, 'T');
  const std::vector<std::string> targets = {
      "/", "/a/b", "/a?x=1", "/a?x=1?y&z", "/a%2Fb?q=1+2&r=%41", "/%41%4a/?%3f", "/a?", "/?",
      "/a/..?x", "/a/%2e%2e/b", "/a//b", "/a?=&&b=", "/v1/drops/d/files/f.bin?token=" + token,
      // Bad escapes: the fast path takes the head but not the target's check.
      "/a%zz", "/a%4", "/a%", "/a?%g1", "/x?q=%", "/a%4?x"};
  for (const std::string& target : targets) {
    const std::string bytes = "GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n";
    SimpleRequestHead head;  // its views point into bytes
    ASSERT_TRUE(parse(bytes, head)) << target;
    ASSERT_EQ(head.target, target);
    Request full;
    const Status expected = parse_target(target, full);
    if (!head.target_checked) {
      EXPECT_FALSE(expected.ok()) << target;
      continue;
    }
    EXPECT_EQ(head.query_start, std::min(target.find('?'), target.size())) << target;
    Request checked;
    const Status got = parse_checked_target(head.target, head.query_start, checked);
    EXPECT_EQ(got.to_string(), expected.to_string()) << target;
    EXPECT_EQ(checked.path, full.path) << target;
    EXPECT_EQ(checked.segments, full.segments) << target;
    EXPECT_EQ(checked.query, full.query) << target;
  }
  for (std::string_view bad : {"/a%zz", "/a%4", "/a%", "/a?%g1", "/x?q=%", "/a%4?x"}) {
    SimpleRequestHead head;
    ASSERT_TRUE(parse("GET " + std::string(bad) + " HTTP/1.1\r\nHost: h\r\n\r\n", head));
    EXPECT_FALSE(head.target_checked) << bad;
  }
}

}  // namespace
}  // namespace dg::http::internal
