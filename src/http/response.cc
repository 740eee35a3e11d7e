// Responses made in one place: JSON, text, RFC 9457 problems, files with
// Range and conditional requests. No Asio here: this unit stays cheap to compile.
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "base/assert.h"
#include "base/limits.h"
#include "base/problem_types.h"
#include "http/http.h"
#include "http/internal.h"
#include "http/scrape.h"

namespace dg::http {

OpenFile::~OpenFile() {
  if (fd_ >= 0) ::close(fd_);
}
namespace {

constexpr std::string_view problem_type_prefix = "https://dropgate.dev/problems/";
constexpr std::string_view problem_content_type = "application/problem+json";
constexpr std::string_view bearer_challenge = "Bearer";
// Every 500's detail: the request id in "instance" is what leads to the log.
constexpr std::string_view internal_error_detail =
    "the server failed to handle this request; the request id (instance) identifies it in the "
    "server's log";
// Retry-After of a 503 whose Status gives no hint (a store that is briefly unavailable).
constexpr uint32_t unavailable_retry_after_s = 5;

// RFC 9110 §15 reason phrases for the statuses dropgate sends.
std::string_view reason_phrase(unsigned status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

// "Content Too Large" -> "content-too-large".
std::string slug_of(std::string_view title) {
  std::string slug;
  for (char c : title) {
    slug += c == ' ' ? '-' : static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return slug;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// Decimal digits only; a value beyond uint64 saturates, which every caller
// treats correctly (past the end of any file).
std::optional<uint64_t> parse_position(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (end != digits.data() + digits.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) return UINT64_MAX;
  return ec == std::errc() ? std::optional<uint64_t>(value) : std::nullopt;
}

// If-None-Match: "*" or a list of entity-tags, compared weakly (RFC 9110
// §13.1.2): the opaque part matches, "W/" or not. A malformed list matches
// nothing, so the client simply gets the full response.
bool none_match_hits(std::string_view header, std::string_view sha256_hex) {
  header = trim(header);
  if (header == "*") return true;
  // Each pass consumes at least one character: bounded by the header length.
  while (!header.empty()) {
    while (!header.empty() &&
           (header.front() == ',' || header.front() == ' ' || header.front() == '\t')) {
      header.remove_prefix(1);
    }
    if (header.empty()) return false;
    if (header.starts_with("W/")) header.remove_prefix(2);
    if (header.empty() || header.front() != '"') return false;
    size_t close = header.find('"', 1);
    if (close == std::string_view::npos) return false;
    if (header.substr(1, close - 1) == sha256_hex) return true;
    header.remove_prefix(close + 1);
  }
  return false;
}

// If-Range (RFC 9110 §13.1.5): the range applies only if the strong ETag
// matches. We send no Last-Modified, so a date never matches.
bool if_range_allows(std::string_view header, std::string_view etag) {
  header = trim(header);
  return header.empty() || header == etag;
}

Response file_range_not_satisfiable(const Status& why, uint64_t size_bytes) {
  Response response = problem_from_status(Status(problem::range_not_satisfiable, why.message()));
  response.headers.set(Field::content_range, "bytes */" + std::to_string(size_bytes));
  return response;
}

}  // namespace

Response json_response(unsigned status, std::string json_body) {
  return text_response(status, std::move(json_body), "application/json");
}

Response text_response(unsigned status, std::string body, std::string_view content_type) {
  Response response;
  response.status = status;
  response.headers.set(Field::content_type, content_type);
  response.body = std::move(body);
  return response;
}

Response problem(unsigned status, std::string_view type, std::string_view title,
                 std::string_view detail, std::string extra_members_json) {
  boost::json::object body;
  body["type"] = std::string(problem_type_prefix) + std::string(type);
  body["title"] = title;
  body["status"] = status;
  if (!detail.empty()) body["detail"] = detail;
  if (!extra_members_json.empty()) {
    boost::system::error_code ec;
    boost::json::value extra = boost::json::parse(extra_members_json, ec);
    DG_ASSERT(!ec && extra.is_object());  // written by our code, never from input
    for (auto& member : extra.as_object()) {
      if (!body.contains(member.key())) body[member.key()] = std::move(member.value());
    }
  }
  Response response = text_response(status, boost::json::serialize(body), problem_content_type);
  if (status == 401) response.headers.set(Field::www_authenticate, bearer_challenge);
  return response;
}

Response problem_from_status(const Status& status, std::string extra_members_json) {
  DG_ASSERT(!status.ok());
  const ProblemType& type = problem::type_of(status);
  if (type.http_status == 500) {
    // The message may name files and internals: the client gets the request
    // id (the Server adds it as "instance"), the log line the message.
    Response response = problem(500, type.name, type.title, internal_error_detail);
    response.internal_error = status.to_string();
    return response;
  }
  Response response = problem(type.http_status, type.name, type.title, status.message(),
                              std::move(extra_members_json));
  uint32_t retry_after_s = status.retry_after_s();
  if (retry_after_s == 0 && type.http_status == 503) retry_after_s = unavailable_retry_after_s;
  if (retry_after_s > 0) response.headers.set(Field::retry_after, std::to_string(retry_after_s));
  return response;
}

Result<std::optional<ByteRange>> parse_range(std::string_view header_untrusted,
                                             uint64_t size_bytes) {
  std::string_view spec = trim(header_untrusted);
  if (!starts_with_ignoring_case(spec, "bytes=")) return std::nullopt;
  spec = trim(spec.substr(6));
  if (spec.find(',') != std::string_view::npos) return std::nullopt;  // served whole
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string_view first_text = spec.substr(0, dash);
  std::string_view last_text = spec.substr(dash + 1);
  if (first_text.empty()) {  // "-n": the last n bytes
    std::optional<uint64_t> suffix_bytes = parse_position(last_text);
    if (!suffix_bytes) return std::nullopt;
    if (*suffix_bytes == 0 || size_bytes == 0) {
      return error(Code::invalid_argument, "the range selects no bytes");
    }
    uint64_t first = *suffix_bytes >= size_bytes ? 0 : size_bytes - *suffix_bytes;
    return ByteRange{first, size_bytes - 1};
  }
  std::optional<uint64_t> first = parse_position(first_text);
  if (!first) return std::nullopt;
  std::optional<uint64_t> last = size_bytes == 0 ? 0 : size_bytes - 1;
  if (!last_text.empty()) {
    last = parse_position(last_text);
    if (!last || *last < *first) return std::nullopt;  // invalid: ignored, not 416
  }
  if (*first >= size_bytes) return error(Code::invalid_argument, "the range starts past the end");
  return ByteRange{*first, std::min(*last, size_bytes - 1)};
}

namespace {

// `whole` is the whole file as a body; a range narrows it.
Response file_response_for(const Request& request, FileBody whole, std::string_view sha256_hex,
                           std::string_view content_type) {
  const uint64_t size_bytes = whole.length;
  // "<sha256>", on the stack: this runs for every download.
  char etag_inline[130];
  std::string etag_long;
  std::string_view etag;
  if (sha256_hex.size() + 2 <= sizeof etag_inline) {
    etag_inline[0] = '"';
    std::memcpy(etag_inline + 1, sha256_hex.data(), sha256_hex.size());
    etag_inline[sha256_hex.size() + 1] = '"';
    etag = std::string_view(etag_inline, sha256_hex.size() + 2);
  } else {
    etag_long = "\"" + std::string(sha256_hex) + "\"";
    etag = etag_long;
  }
  Response response;
  std::string_view none_match = request.header(Field::if_none_match);
  if (!none_match.empty() && none_match_hits(none_match, sha256_hex)) {
    response.status = 304;
  } else {
    // RFC 9110 §14.2: GET is the only method with range handling; HEAD gets the 200 headers.
    std::string_view range_header = request.header(Field::range);
    std::optional<ByteRange> range;
    if (request.method == Verb::get && !range_header.empty() &&
        if_range_allows(request.header(Field::if_range), etag)) {
      Result<std::optional<ByteRange>> parsed = parse_range(range_header, size_bytes);
      if (!parsed) return file_range_not_satisfiable(parsed.error(), size_bytes);
      range = *parsed;
    }
    response.headers.set(Field::content_type, content_type);
    if (range) {
      response.status = 206;
      response.headers.set(Field::content_range, "bytes " + std::to_string(range->first) + "-" +
                                                     std::to_string(range->last) + "/" +
                                                     std::to_string(size_bytes));
      whole.offset = range->first;
      whole.length = range->last - range->first + 1;
    }
    response.body = std::move(whole);
  }
  response.headers.set(Field::etag, etag);
  response.headers.set(Field::accept_ranges, "bytes");
  return response;
}

}  // namespace

Response file_response(const Request& request, const std::filesystem::path& path,
                       uint64_t size_bytes, std::string_view sha256_hex,
                       std::string_view content_type) {
  return file_response_for(request, FileBody{path, 0, size_bytes}, sha256_hex, content_type);
}

Response file_response(const Request& request, std::shared_ptr<const OpenFile> file,
                       uint64_t size_bytes, std::string_view sha256_hex,
                       std::string_view content_type) {
  return file_response_for(request, FileBody{{}, 0, size_bytes, std::move(file)}, sha256_hex,
                           content_type);
}

Response file_response(const Request& request, std::shared_ptr<const std::string> bytes,
                       std::string_view sha256_hex, std::string_view content_type) {
  const uint64_t size_bytes = bytes->size();
  return file_response_for(request, FileBody{{}, 0, size_bytes, nullptr, std::move(bytes)},
                           sha256_hex, content_type);
}

bool is_loopback_address(std::string_view address) {
  return address.starts_with("127.") || address == "::1" || address.starts_with("::ffff:127.");
}

std::optional<Response> refuse_scrape(const Request& request, std::string_view token) {
  if (request.authenticated) return std::nullopt;
  if (!token.empty()) {
    std::string_view presented = request.header(Field::authorization);
    constexpr std::string_view scheme = "Bearer ";
    if (presented.size() == scheme.size() + token.size() &&
        starts_with_ignoring_case(presented, "bearer ")) {
      presented.remove_prefix(scheme.size());
      unsigned char differ = 0;  // constant time: the token is a secret
      for (size_t i = 0; i < token.size(); ++i)
        differ |= static_cast<unsigned char>(presented[i] ^ token[i]);
      if (differ == 0) return std::nullopt;
    }
  }
  bool forwarded = !request.header(Field::forwarded).empty() ||
                   !request.header("X-Forwarded-For").empty() ||
                   !request.header("X-Real-IP").empty();
  if (is_loopback_address(request.remote_address) && !forwarded) return std::nullopt;
  if (!token.empty()) {
    return problem_from_status(
        Status(problem::metrics_token_required,
               "send Authorization: Bearer <metrics_token>, or scrape from this host"));
  }
  return problem_from_status(
      Status(problem::metrics_local_only,
             "metrics are served to this host only; set metrics_token to scrape from elsewhere"));
}

namespace internal {

std::string_view http_date_now() {
  static constexpr const char* day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached_s = -1;
  thread_local char text[32];
  std::time_t now_s = std::time(nullptr);
  if (now_s != cached_s) {
    std::tm utc{};
    gmtime_r(&now_s, &utc);
    // Written by hand: strftime's %a and %b follow the locale.
    std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[utc.tm_wday],
                  utc.tm_mday, month_names[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
                  utc.tm_sec);
    cached_s = now_s;
  }
  return text;
}

void add_problem_instance(Response& response, std::string_view request_id) {
  auto* body = std::get_if<std::string>(&response.body);
  auto type = response.headers.find(Field::content_type);
  if (body == nullptr || type == response.headers.end() || type->value() != problem_content_type) {
    return;
  }
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(*body, ec);
  if (ec || !value.is_object() || value.as_object().contains("instance")) return;
  value.as_object()["instance"] = request_id;
  *body = boost::json::serialize(value);
}

bool is_sane_request_id(std::string_view id_untrusted) {
  if (id_untrusted.empty() || id_untrusted.size() > limits::request_id_bytes_max) return false;
  for (char c : id_untrusted) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool presents_credentials(const Request& request) {
  return !request.header(Field::authorization).empty() || request.query_value("token").has_value();
}

void add_bearer_error(Response& response, bool credentials_presented) {
  if (response.status != 401 || !credentials_presented) return;
  auto challenge = response.headers.find(Field::www_authenticate);
  if (challenge == response.headers.end() || challenge->value() != bearer_challenge) return;
  response.headers.set(Field::www_authenticate, "Bearer error=\"invalid_token\"");
}

Response server_problem(unsigned status, std::string_view detail) {
  // One type for every 500, whoever makes it (docs/api/problems.md).
  if (status == 500) return problem(500, problem::internal.name, problem::internal.title, detail);
  std::string_view title = reason_phrase(status);
  return problem(status, slug_of(title), title, detail);
}

}  // namespace internal
}  // namespace dg::http
