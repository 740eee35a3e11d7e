// Request accessors, request-target parsing and the route table. No Asio here:
// this unit stays cheap to compile.
#include <algorithm>
#include <array>
#include <exception>
#include <future>
#include <optional>

#include "base/assert.h"
#include "base/limits.h"
#include "base/log.h"
#include "http/http.h"
#include "http/internal.h"
#include "http/request_head.h"

namespace dg::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The origin-form grammar's characters (RFC 3986): pchar without
// pct-encoded (unreserved / sub-delims / ":" / "@") and "/" are plain; "?"
// starts the query; "%" starts an escape; anything else is refused.
enum CharClass : uint8_t { refused = 0, plain, question, percent };
constexpr std::array<CharClass, 256> target_chars = [] {
  std::array<CharClass, 256> table{};
  for (int c = 0; c < 256; ++c) {
    if (internal::is_plain_target_char(static_cast<unsigned char>(c))) table[c] = plain;
  }
  table['?'] = question;
  table['%'] = percent;
  return table;
}();

// Checks the origin-form grammar (RFC 9112 section 3.2.1, RFC 3986):
//   absolute-path [ "?" query ],  absolute-path = 1*( "/" segment ),
//   segment = *pchar,  query = *( pchar / "/" / "?" ),
// where every '%' starts a two-hex-digit escape. Returns where the query
// starts (target.size() when there is none), or npos when it is not origin form.
size_t check_origin_form(std::string_view target) {
  if (target.empty() || target.front() != '/') return std::string_view::npos;
  size_t query_start = target.size();
  const size_t size = target.size();
  for (size_t i = 0; i < size; ++i) {
    // Most characters are plain: a fast scan over them first.
    i += internal::plain_target_run(target.substr(i));
    if (i == size) break;
    switch (target_chars[static_cast<unsigned char>(target[i])]) {
      case plain:
        break;
      case question:
        query_start = std::min(query_start, i);
        break;
      case percent:
        if (i + 2 >= target.size() || hex_value(target[i + 1]) < 0 ||
            hex_value(target[i + 2]) < 0) {
          return std::string_view::npos;
        }
        i += 2;
        break;
      case refused:
        return std::string_view::npos;
    }
  }
  return query_start;
}

// Decodes %XX escapes once; refuses a '%' without two hex digits after it.
// `plus_as_space` applies the form encoding that query strings use.
std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space) {
  // Most text has nothing to decode (a download token is base64url): copy it whole.
  size_t first = std::min(text.find('%'), plus_as_space ? text.find('+') : std::string_view::npos);
  if (first == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  out.append(text.substr(0, first));
  for (size_t i = first; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+' && plus_as_space) {
      out += ' ';
    } else if (c != '%') {
      out += c;
    } else {
      if (i + 2 >= text.size()) return std::nullopt;
      int high = hex_value(text[i + 1]);
      int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    }
  }
  return out;
}

// Calls `visit` for each piece of `text` between `separator`s (empty pieces included).
template <typename Visit>
bool for_each_piece(std::string_view text, char separator, Visit visit) {
  size_t start = 0;
  while (true) {
    size_t end = text.find(separator, start);
    std::string_view piece = text.substr(start, end == std::string_view::npos ? end : end - start);
    if (!visit(piece)) return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

// A decoded segment may hold '/' (from %2F); it is still one segment, but a
// "." or ".." between its slashes would become a traversal the moment anyone
// splits it again, so it is refused like a plain dot segment.
Status check_segment(std::string_view segment) {
  if (segment.find('\0') != std::string_view::npos) {
    return Status(Code::invalid_argument, "path segment holds NUL");
  }
  bool dot = false;
  for_each_piece(segment, '/', [&](std::string_view piece) {
    dot = piece == "." || piece == "..";
    return !dot;
  });
  if (dot) return Status(Code::invalid_argument, "path holds a dot segment");
  return Status::ok_status();
}

// What parse_target fills, parsed aside so a refused target changes nothing.
struct ParsedTarget {
  std::string path;
  std::vector<std::string> segments;
  std::vector<std::pair<std::string, std::string>> query;
};

// Fills parsed.path and parsed.segments.
Status parse_path(std::string_view raw_path, ParsedTarget& parsed) {
  Status status;
  parsed.segments.reserve(static_cast<size_t>(std::count(raw_path.begin(), raw_path.end(), '/')));
  parsed.path.reserve(raw_path.size());
  // Bounded by limits::request_target_bytes_max: at most one segment per byte.
  for_each_piece(raw_path.substr(1), '/', [&](std::string_view raw) {
    std::optional<std::string> segment = percent_decode(raw, /*plus_as_space=*/false);
    if (!segment) {
      status = Status(Code::invalid_argument, "bad percent-encoding in path");
      return false;
    }
    status = check_segment(*segment);
    if (!status.ok()) return false;
    parsed.path += '/';
    parsed.path += *segment;
    parsed.segments.push_back(std::move(*segment));
    return true;
  });
  return status;
}

// Fills parsed.query.
Status parse_query(std::string_view raw_query, ParsedTarget& parsed) {
  Status status;
  for_each_piece(raw_query, '&', [&](std::string_view pair) {
    if (pair.empty()) return true;
    if (parsed.query.size() == limits::query_params_max) {
      status = Status(Code::invalid_argument, "too many query parameters");
      return false;
    }
    size_t equals = pair.find('=');
    std::optional<std::string> name = percent_decode(pair.substr(0, equals), true);
    std::optional<std::string> value =
        percent_decode(equals == std::string_view::npos ? "" : pair.substr(equals + 1), true);
    if (!name || !value) {
      status = Status(Code::invalid_argument, "bad percent-encoding in query");
      return false;
    }
    parsed.query.emplace_back(std::move(*name), std::move(*value));
    return true;
  });
  return status;
}

void append_method(std::string& allow, Verb method) {
  std::string_view name = boost::beast::http::to_string(method);
  for_each_piece(allow, ',', [&](std::string_view piece) {
    if (!piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
    if (piece == name) name = {};
    return !name.empty();
  });
  if (name.empty()) return;
  if (!allow.empty()) allow += ", ";
  allow += name;
}

}  // namespace

std::optional<std::string_view> Request::query_value(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::string_view Request::header(Field field) const {
  auto it = headers.find(field);
  return it == headers.end() ? std::string_view() : std::string_view(it->value());
}

std::string_view Request::header(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string_view() : std::string_view(it->value());
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

Status parse_target(std::string_view target_untrusted, Request& request) {
  if (target_untrusted.size() > limits::request_target_bytes_max) {
    return Status(Code::limit_exceeded, "request target too long");
  }
  size_t query_start = check_origin_form(target_untrusted);
  if (query_start == std::string_view::npos) {
    return Status(Code::invalid_argument, "request target is not in origin form");
  }
  return internal::parse_checked_target(target_untrusted, query_start, request);
}

Status internal::parse_checked_target(std::string_view target_untrusted, size_t query_start,
                                      Request& request) {
  if (target_untrusted.size() > limits::request_target_bytes_max) {
    return Status(Code::limit_exceeded, "request target too long");
  }
  DG_ASSERT(query_start <= target_untrusted.size());
  ParsedTarget parsed;
  DG_RETURN_IF_ERROR(parse_path(target_untrusted.substr(0, query_start), parsed));
  if (query_start < target_untrusted.size()) {
    DG_RETURN_IF_ERROR(parse_query(target_untrusted.substr(query_start + 1), parsed));
  }
  request.path = std::move(parsed.path);
  request.segments = std::move(parsed.segments);
  request.query = std::move(parsed.query);
  return Status::ok_status();
}

Router::Pattern Router::compile_pattern(std::string_view pattern) {
  DG_ASSERT(!pattern.empty() && pattern.front() == '/');
  Pattern compiled;
  for_each_piece(pattern.substr(1), '/', [&](std::string_view piece) {
    DG_ASSERT(compiled.empty() || compiled.back().kind != PatternSegment::Kind::rest);
    if (piece.size() < 2 || piece.front() != '{' || piece.back() != '}') {
      DG_ASSERT(piece.find_first_of("{}%") == std::string_view::npos);
      compiled.push_back({PatternSegment::Kind::literal, std::string(piece)});
      return true;
    }
    std::string_view name = piece.substr(1, piece.size() - 2);
    auto kind = PatternSegment::Kind::param;
    if (name.ends_with('*')) {
      kind = PatternSegment::Kind::rest;
      name.remove_suffix(1);
    }
    DG_ASSERT(!name.empty() && name.find_first_of("{}*/") == std::string_view::npos);
    compiled.push_back({kind, std::string(name)});
    return true;
  });
  return compiled;
}

bool Router::match_pattern(const Pattern& pattern, const std::vector<std::string>& segments,
                           Params& params) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    const PatternSegment& piece = pattern[i];
    if (i >= segments.size()) return false;
    if (piece.kind == PatternSegment::Kind::literal) {
      if (segments[i] != piece.text) return false;
    } else if (piece.kind == PatternSegment::Kind::param) {
      if (segments[i].empty()) return false;
      params.emplace_back(piece.text, segments[i]);
    } else {
      std::string rest;
      for (size_t j = i; j < segments.size(); ++j) {
        if (segments[j].empty()) return false;
        if (j > i) rest += '/';
        rest += segments[j];
      }
      params.emplace_back(piece.text, std::move(rest));
      return true;
    }
  }
  return pattern.size() == segments.size();
}

void Router::add(Verb method, std::string pattern, Handler handler, RouteOptions options) {
  DG_ASSERT(handler != nullptr);
  Pattern compiled = compile_pattern(pattern);
  if (options.name.empty()) options.name = pattern;
  routes_.push_back(
      Route{method, std::move(pattern), std::move(handler), nullptr, std::move(options)});
  patterns_.push_back(std::move(compiled));
}

void Router::add_deferred(Verb method, std::string pattern, DeferredHandler handler,
                          RouteOptions options) {
  DG_ASSERT(handler != nullptr);
  Pattern compiled = compile_pattern(pattern);
  if (options.name.empty()) options.name = pattern;
  routes_.push_back(
      Route{method, std::move(pattern), nullptr, std::move(handler), std::move(options)});
  patterns_.push_back(std::move(compiled));
}

void Router::set_authenticator(std::function<bool(const Request&)> authenticator) {
  authenticator_ = std::move(authenticator);
}

Router::Match Router::match(Request& request) const {
  Match result;
  Params params;  // one list for every route tried: cleared, it keeps its room
  params.reserve(4);
  for (size_t i = 0; i < routes_.size(); ++i) {
    params.clear();
    if (!match_pattern(patterns_[i], request.segments, params)) continue;
    const Route& route = routes_[i];
    if (route.method == request.method ||
        (request.method == Verb::head && route.method == Verb::get)) {
      request.params = std::move(params);
      result.route = &route;
      result.allow.clear();
      return result;
    }
    append_method(result.allow, route.method);
    if (route.method == Verb::get) append_method(result.allow, Verb::head);
  }
  return result;
}

std::vector<std::string> Router::route_names() const {
  std::vector<std::string> names;
  for (const Route& route : routes_) names.push_back(route.options.name);
  return names;
}

bool Router::authenticate(const Request& request) const {
  if (!authenticator_) return false;
  try {
    return authenticator_(request);
  } catch (const std::exception& e) {
    // A throwing authenticator refuses: failing open would be the worse bug.
    log::error("authenticator threw", {{"request_id", request.request_id}, {"what", e.what()}});
    return false;
  }
}

std::expected<const Route*, Response> Router::admit(Request& request) const {
  Match found = match(request);
  if (found.route == nullptr) {
    if (found.allow.empty()) {
      return std::unexpected(internal::server_problem(404, "no resource at this path"));
    }
    Response response = internal::server_problem(405, "this path does not accept that method");
    response.headers.set(Field::allow, found.allow);
    return std::unexpected(std::move(response));
  }
  request.authenticated = authenticate(request);
  if (found.route->options.requires_auth && !request.authenticated) {
    return std::unexpected(internal::server_problem(401, "missing or refused credentials"));
  }
  return found.route;
}

Response Router::dispatch(Request& request) const {
  const bool credentials_presented = internal::presents_credentials(request);
  std::expected<const Route*, Response> admitted = admit(request);
  Response response;
  if (!admitted) {
    response = std::move(admitted.error());
  } else if ((*admitted)->deferred) {
    std::promise<Response> answered;
    std::future<Response> answer = answered.get_future();
    invoke_deferred(**admitted, request,
                    Responder([&answered](Response r) { answered.set_value(std::move(r)); },
                              [](std::move_only_function<void()> job) { job(); }));
    response = answer.get();
  } else {
    response = invoke(**admitted, request);
  }
  internal::add_bearer_error(response, credentials_presented);
  return response;
}

Response Router::invoke(const Route& route, Request& request) const {
  std::string what;
  try {
    return route.handler(request);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "an exception not derived from std::exception";
  }
  log::error("handler threw",
             {{"route", route.options.name}, {"request_id", request.request_id}, {"what", what}});
  return internal::server_problem(500, "the server failed to handle this request");
}

void Router::invoke_deferred(const Route& route, Request& request, Responder responder) const {
  DG_ASSERT(route.deferred != nullptr);
  try {
    // A handler that throws has dropped its Responder on the way out: it answered 500.
    return route.deferred(request, std::move(responder));
  } catch (const std::exception& e) {
    log::error(
        "handler threw",
        {{"route", route.options.name}, {"request_id", request.request_id}, {"what", e.what()}});
  } catch (...) {
    log::error("handler threw", {{"route", route.options.name},
                                 {"request_id", request.request_id},
                                 {"what", "an exception not derived from std::exception"}});
  }
}

Responder::Responder(Sink sink, Runner run_blocking)
    : sink_(std::move(sink)), run_blocking_(std::move(run_blocking)) {
  DG_ASSERT(sink_ != nullptr && run_blocking_ != nullptr);
}

Responder::~Responder() {
  if (sink_ == nullptr) return;
  log::error("a deferred handler dropped its request unanswered", {});
  std::move(*this).answer(
      internal::server_problem(500, "the server failed to handle this request"));
}

void Responder::answer(Response response) && {
  DG_ASSERT(sink_ != nullptr);  // answered once
  Sink sink = std::exchange(sink_, nullptr);
  sink(std::move(response));
}

}  // namespace dg::http
