#include <fcntl.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "base/problem_types.h"
#include "http/http.h"
#include "http/internal.h"
#include "http/scrape.h"

namespace dg::http {
namespace {

const std::string sha = std::string(64, 'a');
const std::string etag = "\"" + sha + "\"";

boost::json::object body_json(const Response& response) {
  return boost::json::parse(std::get<std::string>(response.body)).as_object();
}

Request get_with(std::initializer_list<std::pair<Field, std::string>> headers,
                 Verb method = Verb::get) {
  Request request;
  request.method = method;
  for (const auto& [field, value] : headers) request.headers.set(field, value);
  return request;
}

Response file_for(const Request& request) {
  return file_response(request, "/blobs/x", 1000, sha, "audio/flac");
}

TEST(Problem, HasRfc9457MembersAndContentType) {
  Response response = problem(409, "sold-out", "Sold out", "no serials left");
  EXPECT_EQ(response.status, 409u);
  EXPECT_EQ(response.headers[Field::content_type], "application/problem+json");
  boost::json::object body = body_json(response);
  EXPECT_EQ(body.at("type"), "https://dropgate.dev/problems/sold-out");
  EXPECT_EQ(body.at("title"), "Sold out");
  EXPECT_EQ(body.at("status"), 409);
  EXPECT_EQ(body.at("detail"), "no serials left");
  EXPECT_FALSE(body.contains("instance"));
}

TEST(Problem, MergesExtraMembersWithoutOverridingStandardOnes) {
  Response response =
      problem(429, "slow-down", "Slow down", "", R"({"retry_after_s":3,"status":200})");
  boost::json::object body = body_json(response);
  EXPECT_EQ(body.at("retry_after_s"), 3);
  EXPECT_EQ(body.at("status"), 429);
  EXPECT_FALSE(body.contains("detail"));  // empty detail is left out
}

TEST(Problem, FromStatusMapsEveryCode) {
  struct Case {
    Code code;
    unsigned status;
  };
  for (Case c :
       {Case{Code::not_found, 404}, Case{Code::invalid_argument, 400},
        Case{Code::unauthorized, 401}, Case{Code::forbidden, 403}, Case{Code::conflict, 409},
        Case{Code::limit_exceeded, 429}, Case{Code::too_large, 413}, Case{Code::corruption, 500},
        Case{Code::io_error, 500}, Case{Code::unavailable, 503}}) {
    Response response = problem_from_status(Status(c.code, "message for the log"));
    EXPECT_EQ(response.status, c.status) << code_name(c.code);
    EXPECT_EQ(body_json(response).at("status"), c.status);
  }
  EXPECT_EQ(body_json(problem_from_status(Status(Code::not_found, "no such drop"))).at("detail"),
            "no such drop");
  EXPECT_EQ(body_json(problem_from_status(Status(Code::not_found, "x"))).at("type"),
            "https://dropgate.dev/problems/not-found");
  EXPECT_EQ(body_json(problem_from_status(Status(Code::invalid_argument, "x"))).at("type"),
            "https://dropgate.dev/problems/invalid-request");
}

// RFC 9110 §15.5.2: a 401 names how to authenticate. Only 401s do.
TEST(Problem, Every401CarriesABearerChallengeAndNoOtherStatusDoes) {
  EXPECT_EQ(problem(401, "token-required", "Token required", "").headers[Field::www_authenticate],
            "Bearer");
  EXPECT_EQ(problem_from_status(Status(Code::unauthorized, "no")).headers[Field::www_authenticate],
            "Bearer");
  for (unsigned status : {400u, 403u, 404u, 429u, 503u}) {
    Response response = problem(status, "x", "X", "");
    EXPECT_EQ(response.headers.find(Field::www_authenticate), response.headers.end()) << status;
  }
}

// /metrics on a listener every venue guest can reach: without a token only
// this host reads it (and not through a proxy that forwards for others);
// with one, a scraper anywhere that presents it; an operator always.
TEST(Scrape, OnlyThisHostTheTokenOrAnOperatorMayReadMetrics) {
  auto request_from = [](std::string address,
                         std::initializer_list<std::pair<Field, std::string>> headers = {}) {
    Request request = get_with(headers);
    request.remote_address = std::move(address);
    return request;
  };
  auto status = [](const std::optional<Response>& refusal) {
    return refusal ? refusal->status : 200u;
  };
  for (std::string local : {"127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_EQ(status(refuse_scrape(request_from(local), "")), 200u) << local;
    EXPECT_EQ(status(refuse_scrape(request_from(local), "s3cret")), 200u) << local;
  }
  // A proxy on this host forwarding someone else's request is not this host.
  EXPECT_EQ(
      status(refuse_scrape(request_from("127.0.0.1", {{Field::forwarded, "for=192.0.2.7"}}), "")),
      403u);
  for (const char* name : {"X-Forwarded-For", "X-Real-IP"}) {
    Request proxied = request_from("::1");
    proxied.headers.set(name, "192.0.2.7");
    EXPECT_EQ(status(refuse_scrape(proxied, "")), 403u) << name;
  }
  // A guest on the venue's network.
  for (std::string guest :
       {"192.168.1.23", "10.0.0.5", "fe80::1", "::ffff:10.0.0.5", "1270.0.0.1"}) {
    EXPECT_EQ(status(refuse_scrape(request_from(guest), "")), 403u) << guest;
    std::optional<Response> refused = refuse_scrape(request_from(guest), "s3cret");
    EXPECT_EQ(status(refused), 401u) << guest;
    EXPECT_EQ(refused->headers[Field::www_authenticate], "Bearer") << guest;
    EXPECT_EQ(status(refuse_scrape(request_from(guest, {{Field::authorization, "Bearer s3cret"}}),
                                   "s3cret")),
              200u);
    EXPECT_EQ(status(refuse_scrape(request_from(guest, {{Field::authorization, "bearer s3cret"}}),
                                   "s3cret")),
              200u);
    for (std::string wrong :
         {"Bearer s3cre", "Bearer s3cret2", "Bearer S3CRET", "Basic s3cret", "s3cret", "Bearer "}) {
      EXPECT_EQ(
          status(refuse_scrape(request_from(guest, {{Field::authorization, wrong}}), "s3cret")),
          401u)
          << wrong;
    }
    // With no token configured, no Authorization value opens it.
    EXPECT_EQ(status(refuse_scrape(request_from(guest, {{Field::authorization, "Bearer "}}), "")),
              403u);
    Request operator_request = request_from(guest);
    operator_request.authenticated = true;
    EXPECT_EQ(status(refuse_scrape(operator_request, "")), 200u) << guest;
  }
}

// A 500 sends the client the generic type, title and detail only (the Server
// adds the request id); the message, which may name files, stays in
// internal_error for the Server's log line. Both failures of ours, whatever
// their code, and the HTTP layer's own 500s share the one type.
TEST(Problem, InternalErrorsKeepTheirMessageForTheLogAndSendNone) {
  for (Code code : {Code::io_error, Code::corruption}) {
    Response response = problem_from_status(Status(code, "open /srv/secret/path"));
    EXPECT_EQ(response.status, 500u);
    EXPECT_EQ(std::get<std::string>(response.body).find("/srv/secret"), std::string::npos);
    boost::json::object body = body_json(response);
    EXPECT_EQ(body.size(), 4u) << boost::json::serialize(body);  // type, title, status, detail
    EXPECT_EQ(body.at("type"), "https://dropgate.dev/problems/internal");
    EXPECT_EQ(body.at("title"), "Internal error");
    EXPECT_NE(std::string_view(body.at("detail").as_string()).find("request id"),
              std::string::npos);
    EXPECT_EQ(response.internal_error, std::string(code_name(code)) + ": open /srv/secret/path");
  }
  Response thrown = internal::server_problem(500, "the server failed to handle this request");
  EXPECT_EQ(body_json(thrown).at("type"), "https://dropgate.dev/problems/internal");
  EXPECT_EQ(body_json(thrown).at("title"), "Internal error");
  // Nothing else is kept aside.
  EXPECT_EQ(problem_from_status(Status(Code::conflict, "x")).internal_error, "");
}

// A Status that names a problem type is sent as that type, with its status
// and title, whatever its code's generic type would be; one that names none
// gets its code's generic type.
TEST(Problem, FromStatusSendsTheTypeTheStatusNames) {
  Response sold_out = problem_from_status(Status(problem::sold_out, "all 3 serials are taken"));
  EXPECT_EQ(sold_out.status, 409u);
  boost::json::object body = body_json(sold_out);
  EXPECT_EQ(body.at("type"), "https://dropgate.dev/problems/sold-out");
  EXPECT_EQ(body.at("title"), "Sold out");
  EXPECT_EQ(body.at("detail"), "all 3 serials are taken");
  // 451 and 422 exist only as named types.
  EXPECT_EQ(problem_from_status(Status(problem::territory_denied, "no")).status, 451u);
  EXPECT_EQ(problem_from_status(Status(problem::idempotency_key_reused, "no")).status, 422u);
  boost::json::object generic = body_json(problem_from_status(Status(Code::conflict, "busy row")));
  EXPECT_EQ(generic.at("type"), "https://dropgate.dev/problems/conflict");
  EXPECT_EQ(generic.at("title"), "Conflict");
}

// Retry-After is the hint the Status carries; a 503 without one says 5 s
// (a store briefly unavailable); nothing else gets one unasked.
TEST(Problem, RetryAfterComesFromTheStatus) {
  Response holds = problem_from_status(Status(problem::too_many_holds, "slow").with_retry_after(7));
  EXPECT_EQ(holds.status, 429u);
  EXPECT_EQ(holds.headers[Field::retry_after], "7");
  Response paused = problem_from_status(Status(problem::drop_paused, "p").with_retry_after(30));
  EXPECT_EQ(paused.headers[Field::retry_after], "30");
  EXPECT_EQ(problem_from_status(Status(Code::unavailable, "store")).headers[Field::retry_after],
            "5");
  Response conflict = problem_from_status(Status(Code::conflict, "x"));
  EXPECT_EQ(conflict.headers.find(Field::retry_after), conflict.headers.end());
}

// Extra members (the edge's "reason" of a refused token) are merged in, and
// never override the standard members.
TEST(Problem, FromStatusMergesExtraMembers) {
  Response response = problem_from_status(Status(problem::token_refused, "token expired"),
                                          R"({"reason":"expired","status":200})");
  boost::json::object body = body_json(response);
  EXPECT_EQ(body.at("reason"), "expired");
  EXPECT_EQ(body.at("status"), 401);
  EXPECT_EQ(body.at("type"), "https://dropgate.dev/problems/token-refused");
}

TEST(Problem, ServerAddsInstanceOnlyToProblems) {
  Response response = problem(404, "not-found", "Not Found", "");
  internal::add_problem_instance(response, "req-1");
  EXPECT_EQ(body_json(response).at("instance"), "req-1");
  Response json = json_response(200, R"({"a":1})");
  internal::add_problem_instance(json, "req-1");
  EXPECT_EQ(std::get<std::string>(json.body), R"({"a":1})");
}

TEST(JsonAndText, SetContentType) {
  EXPECT_EQ(json_response(201, "{}").headers[Field::content_type], "application/json");
  Response text = text_response(200, "hi", "text/plain; charset=utf-8");
  EXPECT_EQ(text.headers[Field::content_type], "text/plain; charset=utf-8");
  EXPECT_EQ(std::get<std::string>(text.body), "hi");
}

TEST(FileResponse, WholeFile) {
  Response response = file_for(get_with({}));
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(response.headers[Field::etag], etag);
  EXPECT_EQ(response.headers[Field::accept_ranges], "bytes");
  EXPECT_EQ(response.headers[Field::content_type], "audio/flac");
  const FileBody& body = std::get<FileBody>(response.body);
  EXPECT_EQ(body.path, "/blobs/x");
  EXPECT_EQ(body.offset, 0u);
  EXPECT_EQ(body.length, 1000u);
}

TEST(FileResponse, RangeIs206WithContentRange) {
  Response response = file_for(get_with({{Field::range, "bytes=100-199"}}));
  EXPECT_EQ(response.status, 206u);
  EXPECT_EQ(response.headers[Field::content_range], "bytes 100-199/1000");
  const FileBody& body = std::get<FileBody>(response.body);
  EXPECT_EQ(body.offset, 100u);
  EXPECT_EQ(body.length, 100u);
}

TEST(FileResponse, AnOpenFileIsCarriedIntoTheBodyAndItsRange) {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto file = std::make_shared<const OpenFile>(fd);
  Response response =
      file_response(get_with({{Field::range, "bytes=-10"}}), file, 1000, sha, "audio/flac");
  EXPECT_EQ(response.status, 206u);
  EXPECT_EQ(response.headers[Field::content_range], "bytes 990-999/1000");
  EXPECT_EQ(response.headers[Field::etag], etag);
  const FileBody& body = std::get<FileBody>(response.body);
  EXPECT_EQ(body.open, file);
  EXPECT_EQ(body.offset, 990u);
  EXPECT_EQ(body.length, 10u);
  // Refusals do not hold the file.
  Response not_modified =
      file_response(get_with({{Field::if_none_match, etag}}), file, 1000, sha, "audio/flac");
  EXPECT_EQ(not_modified.status, 304u);
  EXPECT_TRUE(std::holds_alternative<std::string>(not_modified.body));
}

TEST(FileResponse, UnsatisfiableRangeIs416WithStar) {
  Response response = file_for(get_with({{Field::range, "bytes=1000-"}}));
  EXPECT_EQ(response.status, 416u);
  EXPECT_EQ(response.headers[Field::content_range], "bytes */1000");
  EXPECT_EQ(response.headers[Field::content_type], "application/problem+json");
}

TEST(FileResponse, MultipleRangesServeWhole) {
  EXPECT_EQ(file_for(get_with({{Field::range, "bytes=0-1,4-5"}})).status, 200u);
}

TEST(FileResponse, HeadIgnoresRange) {
  Response response = file_for(get_with({{Field::range, "bytes=0-1"}}, Verb::head));
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(std::get<FileBody>(response.body).length, 1000u);
}

TEST(FileResponse, IfNoneMatchGives304) {
  for (std::string header : {etag, "W/" + etag, std::string("*"), "\"other\", " + etag,
                             "\"other\",W/" + etag + " , \"x\""}) {
    Response response = file_for(get_with({{Field::if_none_match, header}}));
    EXPECT_EQ(response.status, 304u) << header;
    EXPECT_EQ(response.headers[Field::etag], etag);
    EXPECT_EQ(std::get<std::string>(response.body), "");
  }
}

TEST(FileResponse, IfNoneMatchMissOrMalformedGivesTheFile) {
  for (std::string header : {std::string("\"other\""), std::string("\"unterminated"),
                             sha /* no quotes */, std::string("W/")}) {
    EXPECT_EQ(file_for(get_with({{Field::if_none_match, header}})).status, 200u) << header;
  }
}

TEST(FileResponse, IfNoneMatchWinsOverRange) {
  Response response =
      file_for(get_with({{Field::if_none_match, etag}, {Field::range, "bytes=0-1"}}));
  EXPECT_EQ(response.status, 304u);
}

TEST(FileResponse, IfRangeMatchingEtagKeepsTheRange) {
  Response response = file_for(get_with({{Field::range, "bytes=0-9"}, {Field::if_range, etag}}));
  EXPECT_EQ(response.status, 206u);
}

TEST(FileResponse, IfRangeMismatchWeakOrDateServesWhole) {
  for (std::string header :
       {std::string("\"other\""), "W/" + etag, std::string("Sat, 21 Nov 2026 06:00:00 GMT")}) {
    Response response =
        file_for(get_with({{Field::range, "bytes=0-9"}, {Field::if_range, header}}));
    EXPECT_EQ(response.status, 200u) << header;
    EXPECT_EQ(std::get<FileBody>(response.body).length, 1000u);
  }
}

TEST(Internal, RequestIdSanity) {
  EXPECT_TRUE(internal::is_sane_request_id("abc-123_x.y:z"));
  EXPECT_FALSE(internal::is_sane_request_id(""));
  EXPECT_FALSE(internal::is_sane_request_id("has space"));
  EXPECT_FALSE(internal::is_sane_request_id("quote\""));
  EXPECT_FALSE(internal::is_sane_request_id(std::string(65, 'a')));
  EXPECT_TRUE(internal::is_sane_request_id(std::string(64, 'a')));
}

TEST(Internal, HttpDateIsImfFixdate) {
  std::string_view date = internal::http_date_now();
  ASSERT_EQ(date.size(), 29u);  // "Sun, 06 Nov 1994 08:49:37 GMT"
  EXPECT_EQ(date.substr(3, 2), ", ");
  EXPECT_EQ(date.substr(25), " GMT");
}

}  // namespace
}  // namespace dg::http
