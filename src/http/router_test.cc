#include <gtest/gtest.h>

#include <boost/url/parse.hpp>
#include <random>
#include <stdexcept>
#include <string>

#include "base/limits.h"
#include "http/http.h"

namespace dg::http {
namespace {

Request make_request(Verb method, std::string_view target) {
  Request request;
  request.method = method;
  Status status = parse_target(target, request);
  EXPECT_TRUE(status.ok()) << target << ": " << status.to_string();
  return request;
}

Response ok_handler(Request&) {
  return text_response(200, "ok", "text/plain");
}

TEST(ParseTarget, SplitsBeforeDecodingSoAnEncodedSlashStaysInItsSegment) {
  Request request = make_request(Verb::get, "/a%2Fb/c%20d?x=1");
  EXPECT_EQ(request.segments, (std::vector<std::string>{"a/b", "c d"}));
  EXPECT_EQ(request.path, "/a/b/c d");
  EXPECT_EQ(request.query, (std::vector<std::pair<std::string, std::string>>{{"x", "1"}}));
}

TEST(ParseTarget, RootAndTrailingSlashHaveEmptySegments) {
  EXPECT_EQ(make_request(Verb::get, "/").segments, (std::vector<std::string>{""}));
  EXPECT_EQ(make_request(Verb::get, "/a/").segments, (std::vector<std::string>{"a", ""}));
}

TEST(ParseTarget, RefusesDotSegmentsPlainOrEncoded) {
  for (std::string_view target :
       {"/files/../x", "/files/./x", "/files/%2e%2e/x", "/files/%2E%2e", "/files/.%2E/x",
        "/files/..%2F..%2Fetc%2Fpasswd", "/files/a%2F..%2Fb", "/files/a%2F.", "/.."}) {
    Request request;
    Status status = parse_target(target, request);
    EXPECT_EQ(status.code(), Code::invalid_argument) << target;
  }
}

TEST(ParseTarget, AcceptsDotsThatAreNotDotSegments) {
  Request request = make_request(Verb::get, "/files/...%2F.hidden/a..b");
  EXPECT_EQ(request.segments, (std::vector<std::string>{"files", ".../.hidden", "a..b"}));
}

TEST(ParseTarget, RefusesNulAndBadEscapes) {
  for (std::string_view target : {"/a%00b", "/a%", "/a%4", "/a%zz", "/a?x=%g0"}) {
    Request request;
    EXPECT_EQ(parse_target(target, request).code(), Code::invalid_argument) << target;
  }
}

TEST(ParseTarget, RefusesWhatIsNotOriginForm) {
  for (std::string_view target : {"", "*", "a/b", "http://host/a", "/a#frag", "/a b", "/a\\b"}) {
    Request request;
    EXPECT_EQ(parse_target(target, request).code(), Code::invalid_argument) << target;
  }
}

// parse_target checks the origin-form grammar by hand (it is on every
// request's path); Boost.URL's parser is the reference it must agree with.
TEST(ParseTarget, AcceptsExactlyTheOriginFormsBoostUrlAccepts) {
  std::mt19937 random(20261121);
  // Characters that matter to the grammar, and a few that must be refused.
  const std::string alphabet = "/?%#aZ09-._~!$&'()*+,;=:@ \\\"<>[]{}|^`\x01\x7f\xc3\x80";
  std::vector<std::string> targets = {"/",   "/?", "/??",    "/a?b?c", "/%41",
                                      "/%4", "/%", "/%zz",   "/a%2",   "/a/%2F/",
                                      "//",  "/#", "/a?b#c", "/a?%"};
  for (int i = 0; i < 20000; ++i) {
    std::string target = random() % 8 == 0 ? "" : "/";
    size_t length = random() % 12;
    for (size_t j = 0; j < length; ++j) target += alphabet[random() % alphabet.size()];
    targets.push_back(std::move(target));
  }
  int accepted = 0;
  for (const std::string& target : targets) {
    bool reference = boost::urls::parse_origin_form(target).has_value();
    Request request;
    Status status = parse_target(target, request);
    // Beyond the grammar, parse_target refuses what decodes to a dot
    // segment, NUL or a malformed escape in the query.
    bool grammar_ok = status.ok() || status.message() != "request target is not in origin form";
    EXPECT_EQ(grammar_ok, reference) << "target: " << target;
    accepted += status.ok() ? 1 : 0;
  }
  EXPECT_GT(accepted, 1000);  // the random targets exercise the accepting side too
}

TEST(ParseTarget, TargetLongerThanTheLimitIsLimitExceeded) {
  std::string target = "/" + std::string(limits::request_target_bytes_max, 'a');
  Request request;
  EXPECT_EQ(parse_target(target, request).code(), Code::limit_exceeded);
}

TEST(ParseTarget, DecodesQueryInOrderWithPlusAsSpace) {
  Request request = make_request(Verb::get, "/p?token=a%2Bb&q=x+y&flag&&q=second");
  ASSERT_EQ(request.query.size(), 4u);
  EXPECT_EQ(request.query[0], (std::pair<std::string, std::string>{"token", "a+b"}));
  EXPECT_EQ(request.query[1], (std::pair<std::string, std::string>{"q", "x y"}));
  EXPECT_EQ(request.query[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(request.query_value("q"), "x y");
  EXPECT_EQ(request.query_value("missing"), std::nullopt);
}

TEST(ParseTarget, RefusesTooManyQueryParameters) {
  std::string target = "/p?";
  for (uint32_t i = 0; i <= limits::query_params_max; ++i) target += "k=v&";
  Request request;
  EXPECT_EQ(parse_target(target, request).code(), Code::invalid_argument);
}

TEST(Router, MatchesLiteralsAndParams) {
  Router router;
  router.add(Verb::get, "/v1/drops/{slug}", ok_handler, {.name = "drop.get"});
  router.add(Verb::get, "/v1/drops/{slug}/files/{path*}", ok_handler);
  Request request = make_request(Verb::get, "/v1/drops/summer-tape");
  Router::Match match = router.match(request);
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->options.name, "drop.get");
  EXPECT_EQ(request.param("slug"), "summer-tape");

  request = make_request(Verb::get, "/v1/drops/x/files/disc%201/a%20b.flac");
  match = router.match(request);
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->options.name, "/v1/drops/{slug}/files/{path*}");  // defaults to pattern
  EXPECT_EQ(request.param("slug"), "x");
  EXPECT_EQ(request.param("path"), "disc 1/a b.flac");
}

TEST(Router, EncodedSlashDoesNotCreateASegment) {
  Router router;
  router.add(Verb::get, "/{a}/{b}", ok_handler);
  router.add(Verb::get, "/{only}", ok_handler, {.name = "one"});
  Request request = make_request(Verb::get, "/x%2Fy");
  Router::Match match = router.match(request);
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->options.name, "one");
  EXPECT_EQ(request.param("only"), "x/y");
}

TEST(Router, ParamsDoNotMatchEmptySegments) {
  Router router;
  router.add(Verb::get, "/d/{slug}", ok_handler);
  router.add(Verb::get, "/f/{path*}", ok_handler);
  for (std::string_view target : {"/d/", "/f/", "/f/a//b", "/f"}) {
    Request request = make_request(Verb::get, target);
    EXPECT_EQ(router.match(request).route, nullptr) << target;
  }
}

TEST(Router, NotFoundVersusMethodNotAllowedWithAllow) {
  Router router;
  router.add(Verb::get, "/things/{id}", ok_handler);
  router.add(Verb::put, "/things/{id}", ok_handler);
  Request missing = make_request(Verb::get, "/nothing");
  Router::Match match = router.match(missing);
  EXPECT_EQ(match.route, nullptr);
  EXPECT_EQ(match.allow, "");

  Request wrong = make_request(Verb::delete_, "/things/7");
  match = router.match(wrong);
  EXPECT_EQ(match.route, nullptr);
  EXPECT_EQ(match.allow, "GET, HEAD, PUT");

  Response response = router.dispatch(wrong);
  EXPECT_EQ(response.status, 405u);
  EXPECT_EQ(response.headers[Field::allow], "GET, HEAD, PUT");
  EXPECT_EQ(router.dispatch(missing).status, 404u);
}

TEST(Router, HeadMatchesGetRoutes) {
  Router router;
  router.add(Verb::get, "/x", ok_handler);
  Request request = make_request(Verb::head, "/x");
  EXPECT_NE(router.match(request).route, nullptr);
  Request post = make_request(Verb::post, "/x");
  EXPECT_EQ(router.match(post).allow, "GET, HEAD");
}

TEST(Router, FirstAddedRouteWins) {
  Router router;
  router.add(Verb::get, "/v1/drops/new", ok_handler, {.name = "literal"});
  router.add(Verb::get, "/v1/drops/{slug}", ok_handler, {.name = "param"});
  Request request = make_request(Verb::get, "/v1/drops/new");
  EXPECT_EQ(router.match(request).route->options.name, "literal");
}

TEST(Router, DispatchRefusesWithoutCredentialsAndPassesWithThem) {
  Router router;
  router.set_authenticator(
      [](const Request& request) { return request.header(Field::authorization) == "Bearer k"; });
  router.add(Verb::get, "/admin",
             [](Request& request) {
               return text_response(200, request.authenticated ? "yes" : "no", "text/plain");
             },
             {.requires_auth = true});
  router.add(Verb::get, "/open", [](Request& request) {
    return text_response(200, request.authenticated ? "yes" : "no", "text/plain");
  });

  // RFC 6750 §3: no credential gets a bare challenge; a refused one is named invalid.
  Request anonymous = make_request(Verb::get, "/admin");
  Response refused = router.dispatch(anonymous);
  EXPECT_EQ(refused.status, 401u);
  EXPECT_EQ(refused.headers[Field::content_type], "application/problem+json");
  EXPECT_EQ(refused.headers[Field::www_authenticate], "Bearer");
  Request wrong_key = make_request(Verb::get, "/admin");
  wrong_key.headers.set(Field::authorization, "Bearer not-k");
  EXPECT_EQ(router.dispatch(wrong_key).headers[Field::www_authenticate],
            "Bearer error=\"invalid_token\"");

  Request operator_request = make_request(Verb::get, "/admin");
  operator_request.headers.set(Field::authorization, "Bearer k");
  Response accepted = router.dispatch(operator_request);
  EXPECT_EQ(accepted.status, 200u);
  EXPECT_EQ(std::get<std::string>(accepted.body), "yes");

  Request open = make_request(Verb::get, "/open");
  EXPECT_EQ(std::get<std::string>(router.dispatch(open).body), "no");
}

// admit() holds the 404/405/401 checks that the Server makes when a header
// arrives and dispatch() makes before invoking: each refusal comes back as
// its problem, and no handler runs for any of them.
TEST(Router, AdmitRefusesMissingPathWrongMethodAndRefusedCredentialsWithoutAHandler) {
  Router router;
  int handled = 0;
  auto counting = [&handled](Request&) {
    ++handled;
    return text_response(200, "ok", "text/plain");
  };
  router.set_authenticator(
      [](const Request& request) { return request.header(Field::authorization) == "Bearer k"; });
  router.add(Verb::get, "/things/{id}", counting, {.requires_auth = true});
  router.add(Verb::put, "/things/{id}", counting);

  Request missing = make_request(Verb::get, "/nothing");
  std::expected<const Route*, Response> admitted = router.admit(missing);
  ASSERT_FALSE(admitted.has_value());
  EXPECT_EQ(admitted.error().status, 404u);

  Request wrong_method = make_request(Verb::delete_, "/things/7");
  admitted = router.admit(wrong_method);
  ASSERT_FALSE(admitted.has_value());
  EXPECT_EQ(admitted.error().status, 405u);
  EXPECT_EQ(admitted.error().headers[Field::allow], "GET, HEAD, PUT");

  Request wrong_key = make_request(Verb::get, "/things/7");
  wrong_key.headers.set(Field::authorization, "Bearer not-k");
  admitted = router.admit(wrong_key);
  ASSERT_FALSE(admitted.has_value());
  EXPECT_EQ(admitted.error().status, 401u);
  EXPECT_EQ(admitted.error().headers[Field::www_authenticate], "Bearer");
  EXPECT_FALSE(wrong_key.authenticated);
  EXPECT_EQ(handled, 0);
}

// On success admit() hands back the route with the request's params and its
// authentication filled in, still without running the handler: the Server
// reads the body first, and a route that does not require credentials
// admits anyone while saying whether they passed.
TEST(Router, AdmitHandsBackTheRouteWithParamsAndAuthenticationFilledIn) {
  Router router;
  int handled = 0;
  auto counting = [&handled](Request&) {
    ++handled;
    return text_response(200, "ok", "text/plain");
  };
  router.set_authenticator(
      [](const Request& request) { return request.header(Field::authorization) == "Bearer k"; });
  router.add(Verb::get, "/things/{id}", counting, {.requires_auth = true, .name = "thing.get"});
  router.add(Verb::put, "/things/{id}", counting, {.name = "thing.put"});

  Request operator_request = make_request(Verb::head, "/things/7");
  operator_request.headers.set(Field::authorization, "Bearer k");
  std::expected<const Route*, Response> admitted = router.admit(operator_request);
  ASSERT_TRUE(admitted.has_value());
  EXPECT_EQ((*admitted)->options.name, "thing.get");
  EXPECT_EQ(operator_request.param("id"), "7");
  EXPECT_TRUE(operator_request.authenticated);

  Request anonymous = make_request(Verb::put, "/things/8");
  admitted = router.admit(anonymous);
  ASSERT_TRUE(admitted.has_value());
  EXPECT_EQ((*admitted)->options.name, "thing.put");
  EXPECT_EQ(anonymous.param("id"), "8");
  EXPECT_FALSE(anonymous.authenticated);
  EXPECT_EQ(handled, 0);
}

TEST(Router, NoAuthenticatorMeansNobodyIsAuthenticated) {
  Router router;
  router.add(Verb::get, "/admin", ok_handler, {.requires_auth = true});
  Request request = make_request(Verb::get, "/admin");
  EXPECT_FALSE(router.authenticate(request));
  EXPECT_EQ(router.dispatch(request).status, 401u);
}

TEST(Router, DispatchTurnsExceptionsIntoProblems) {
  Router router;
  router.add(Verb::get, "/boom", [](Request&) -> Response { throw std::runtime_error("secret"); });
  router.add(Verb::get, "/int", [](Request&) -> Response { throw 7; });
  for (std::string_view target : {"/boom", "/int"}) {
    Request request = make_request(Verb::get, target);
    Response response = router.dispatch(request);
    EXPECT_EQ(response.status, 500u);
    EXPECT_EQ(response.headers[Field::content_type], "application/problem+json");
    EXPECT_EQ(std::get<std::string>(response.body).find("secret"), std::string::npos);
  }
}

TEST(Router, UnparsedRequestMatchesNothing) {
  Router router;
  router.add(Verb::get, "/", ok_handler);
  Request request;  // parse_target never ran: no segments
  EXPECT_EQ(router.match(request).route, nullptr);
}

TEST(Request, HeaderLookupIsCaseInsensitive) {
  Request request;
  request.headers.set("X-Thing", "v");
  EXPECT_EQ(request.header("x-thing"), "v");
  EXPECT_EQ(request.header(Field::host), "");
  EXPECT_EQ(request.param("none"), "");
}

}  // namespace
}  // namespace dg::http
