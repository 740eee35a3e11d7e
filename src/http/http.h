// dropgate's HTTP/1.1 layer: what a handler sees and returns. No domain
// knowledge lives here; origin/ and edge/ register routes on a Router and run
// a Server. A handler is a plain function from Request to Response, so tests
// call handlers directly without a socket.
#pragma once

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/limits.h"
#include "base/status.h"

namespace dg::http {

using Verb = boost::beast::http::verb;
using Fields = boost::beast::http::fields;
using Field = boost::beast::http::field;

// A request body that a streaming route received into a spool file: the
// server hashed it while it arrived and enforced the route's size limit.
// The file is not fsynced; a handler that keeps it syncs it. The server
// deletes the file at this path after the handler returns, so a handler keeps
// it by renaming it (within the spool folder's filesystem).
struct SpooledBody {
  std::filesystem::path path;
  uint64_t size_bytes = 0;
  std::string sha256;  // lower-case hex, from ServerOptions::make_body_hasher
};

// Route parameters by name, in pattern order (a route has a few: a list
// beats a map, and costs one allocation).
using Params = std::vector<std::pair<std::string, std::string>>;

struct Request {
  Verb method = Verb::get;
  std::string
      path;  // the target without the query, percent-decoded once; never joined onto a folder
  // The path split on '/' *before* decoding, then each piece decoded: "/a%2Fb/c" is
  // {"a/b", "c"} and "/" is {""}. Routing matches these, so an encoded slash
  // never creates a segment. parse_target() guarantees none is ".", ".." or
  // holds NUL, and none has "." or ".." between decoded slashes.
  std::vector<std::string> segments;
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  Fields headers;
  std::string body;                    // buffered routes
  std::optional<SpooledBody> spooled;  // streaming routes
  // From the route pattern: {slug}, {path*}.
  Params params;
  std::string request_id;
  std::string remote_address;
  bool authenticated = false;  // set when the router's authenticator accepted the request

  // First value of a query parameter.
  std::optional<std::string_view> query_value(std::string_view name) const;
  // Value of a header, or empty.
  std::string_view header(Field field) const;
  std::string_view header(std::string_view name) const;
  std::string_view param(std::string_view name) const;
};

// Fills request.path, segments and query from a request-target in
// origin form ("/path?query"). Query values decode '+' as a space. Errors:
// limit_exceeded (longer than limits::request_target_bytes_max: 414),
// invalid_argument (not origin form, bad percent-encoding, a dot segment or
// NUL, more than limits::query_params_max parameters: 400). On error `request`
// is left unchanged.
Status parse_target(std::string_view target_untrusted, Request& request);

// A file descriptor opened once and shared, e.g. by a cache of open files
// (as nginx's open_file_cache): closed when the last holder lets go.
class OpenFile {
 public:
  explicit OpenFile(int fd) : fd_(fd) {}
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile();
  int fd() const { return fd_; }

 private:
  int fd_;
};

// A file body sent with sendfile(2): bytes [offset, offset + length) of `path`.
struct FileBody {
  std::filesystem::path path;
  uint64_t offset = 0;
  uint64_t length = 0;
  // When set, the server sends from this descriptor instead of opening
  // `path`, and trusts that it holds the range (its giver checked).
  std::shared_ptr<const OpenFile> open;
  // When set, the file's bytes are held in memory (e.g. a small file a cache
  // keeps): the range goes out from them together with the header, in one
  // write, and no file is touched. Its giver checked they hold the range.
  std::shared_ptr<const std::string> bytes;
};

// One piece of a SegmentedBody: bytes held in memory, or a range of a file
// (sent with sendfile(2), like a FileBody).
using Segment = std::variant<std::string, FileBody>;

// A body sent as pieces in order, e.g. a ZIP archive: headers built in memory
// between ranges of files. Content-Length is the sum of the pieces' lengths.
// As for a FileBody, the server checks that every file holds its range before
// the status line goes out (else the response becomes a 500); it opens the
// files one at a time as their turn comes, so a body may name thousands. A
// file that vanishes or shrinks after the check cuts the body short (the
// connection closes and on_done reports it incomplete).
struct SegmentedBody {
  std::vector<Segment> segments;
};

struct Response {
  unsigned status = 200;
  // The server sets Content-Length, Connection, Date and X-Request-Id itself
  // (and drops Transfer-Encoding): values a handler puts there are replaced.
  Fields headers;
  std::variant<std::string, FileBody, SegmentedBody> body;
  // Called exactly once when the exchange ends, on an I/O thread (keep it
  // quick): `complete` is true only when every body byte was written to the
  // socket (a download "counts" on completion). A HEAD request delivers no
  // body and reports complete = false; so does an exchange cut short by the
  // client, a timeout or shutdown.
  std::function<void(bool complete, uint64_t body_bytes_sent)> on_done;
  // Never sent: a 500's real message (problem_from_status), which the Server
  // logs on the request's line beside its request id.
  std::string internal_error;
};

using Handler = std::function<Response(Request&)>;

// The answer a deferred handler (Router::add_deferred) owes its request:
// given exactly once, from any thread, by answer(), after the handler
// returned if need be (e.g. once a batch commit is durable). A Responder
// dropped without answering answers 500, so a client is never left waiting;
// when the connection closed meanwhile, the answer is dropped (its on_done
// reports incomplete). Move-only; answer() uses it up.
class Responder {
 public:
  using Sink = std::move_only_function<void(Response)>;
  // Runs a job where it may block (a store read): the Server's handler pool.
  using Runner = std::function<void(std::move_only_function<void()>)>;
  Responder(Sink sink, Runner run_blocking);
  Responder(Responder&& other) noexcept
      : sink_(std::exchange(other.sink_, nullptr)), run_blocking_(std::move(other.run_blocking_)) {}
  Responder& operator=(Responder&&) = delete;
  ~Responder();

  void answer(Response response) &&;
  // For continuing the request's work off a thread that must not block
  // (e.g. the committer's, when a refusal needs a stored answer read).
  const Runner& blocking_runner() const { return run_blocking_; }

 private:
  Sink sink_;
  Runner run_blocking_;
};

// A handler that answers later, through its Responder.
using DeferredHandler = std::function<void(Request&, Responder)>;

// --- Responses made in one place.

Response json_response(unsigned status, std::string json_body);
Response text_response(unsigned status, std::string body, std::string_view content_type);

// RFC 9457 application/problem+json. `type` is a short slug that becomes
// "https://dropgate.dev/problems/<type>"; `extra_members_json` is a JSON
// object text (written by our code, not from input) whose members are merged
// in. The Server adds "instance": the request id. A 401 carries
// "WWW-Authenticate: Bearer" (RFC 9110 §15.5.2), to which the Server and
// Router::dispatch add error="invalid_token" when the request presented a
// credential (an Authorization field or a `token` query parameter).
// For the HTTP layer's own answers; a service's failure is a Status, sent
// with problem_from_status.
Response problem(unsigned status, std::string_view type, std::string_view title,
                 std::string_view detail, std::string extra_members_json = "");
// The one way from a failed Status to problem+json: the problem type the
// status names, else its code's generic type (base/problem_types.h: its HTTP
// status and title), the message as detail, and `extra_members_json` merged
// in as for problem(). Retry-After is the status's retry_after_s(); a 503
// without one says 5 s. A 500 (corruption, io_error) sends a generic detail,
// never the message, which may name files: the message goes to
// Response::internal_error, for the Server's log line with the request id.
Response problem_from_status(const Status& status, std::string extra_members_json = "");

// --- Files: Range (a single range; 416 when unsatisfiable), ETag = "<sha256>",
// If-None-Match (304; "*" and lists, weak comparison), If-Range (a strong ETag
// match; a date never matches since we send no Last-Modified), HEAD (the
// server sends headers only), Accept-Ranges, Content-Type. `size_bytes` is
// trusted (from a manifest); the server checks the file still holds them.
Response file_response(const Request& request, const std::filesystem::path& path,
                       uint64_t size_bytes, std::string_view sha256_hex,
                       std::string_view content_type);
// The same for a file its giver opened and checked (see FileBody::open):
// nothing is opened, stat'ed or copied per request.
Response file_response(const Request& request, std::shared_ptr<const OpenFile> file,
                       uint64_t size_bytes, std::string_view sha256_hex,
                       std::string_view content_type);
// The same for a file whose bytes its giver holds in memory, checked (see
// FileBody::bytes): the whole file is `*bytes`.
Response file_response(const Request& request, std::shared_ptr<const std::string> bytes,
                       std::string_view sha256_hex, std::string_view content_type);

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
};
// Parses a Range header against a body of `size_bytes`. nullopt: no range or
// a form we do not honour (multiple ranges, other units, bad syntax: served
// whole, as RFC 9110 §14.2 allows). Error (invalid_argument): unsatisfiable (416).
Result<std::optional<ByteRange>> parse_range(std::string_view header_untrusted,
                                             uint64_t size_bytes);

// --- Routing.

struct RouteOptions {
  // Requests must pass the router's authenticator (e.g. an operator API key).
  bool requires_auth = false;
  // Largest accepted body. Unauthenticated requests are further held to
  // limits::request_body_bytes_max_anonymous.
  uint64_t body_bytes_max = 0;
  // Receive the body into a spool file (SpooledBody) instead of memory.
  bool streaming = false;
  // Label for metrics and logs, e.g. "drop.get". Router::add() sets it to the pattern when empty.
  std::string name;
  // Handlers that may block (store, batch commit) run on the handler pool;
  // quick, non-blocking ones (health, cached lookups, file serving) run on the
  // I/O thread and skip the hop.
  bool blocking = true;
  // For a route whose callers prove themselves in the request (an edge's
  // signed grant) rather than to the router's authenticator: checked on the
  // I/O thread when the header arrives, so it must be quick, thread-safe and
  // never block (no store). When it passes, the body may be as large as
  // body_bytes_max, as for an authenticated request; the handler still
  // decides whether to serve. A check that throws refuses.
  std::function<bool(const Request&)> admits_large_body;
};

struct Route {
  Verb method;
  // "/v1/drops/{slug}/files/{path*}" ({name*} matches the rest, slashes included).
  std::string pattern;
  Handler handler;  // empty for a deferred route
  DeferredHandler deferred;
  RouteOptions options;
};

// Thread safety: add() and set_authenticator() before serving; then const use
// from any thread. The authenticator runs on I/O threads right after a header
// arrives (it decides the body limit), so it must be thread-safe and quick.
class Router {
 public:
  // Patterns: "/" then segments separated by '/'; a segment is a literal, a
  // {name} (one non-empty segment) or, last only, {name*} (one or more
  // non-empty segments, joined with '/'). A bad pattern is a programmer error.
  // The first route added wins when two match.
  void add(Verb method, std::string pattern, Handler handler, RouteOptions options = {});
  // A route whose handler answers later through a Responder (see there),
  // e.g. after a group commit, instead of holding a thread until then. It
  // runs where options.blocking says; until it answers, the request counts
  // against ServerOptions::handler_jobs_max.
  void add_deferred(Verb method, std::string pattern, DeferredHandler handler,
                    RouteOptions options = {});

  // Checks credentials; consulted for every request (an authenticated caller
  // gets the route's body limit, others the anonymous one); routes with
  // requires_auth turn away a request it rejects (401).
  void set_authenticator(std::function<bool(const Request&)> authenticator);

  struct Match {
    const Route* route = nullptr;  // null: no route
    std::string allow;             // when the path exists for other methods: "GET, HEAD" (405)
  };
  // Matches request.segments (see parse_target). Fills request.params on
  // success. HEAD matches GET routes.
  Match match(Request& request) const;
  // False when there is no authenticator or it refuses.
  bool authenticate(const Request& request) const;
  // Every route, for the OpenAPI cross-check.
  const std::vector<Route>& routes() const { return routes_; }
  // Every route's name (RouteOptions::name), e.g. for per-route metrics.
  std::vector<std::string> route_names() const;

  // The checks a request passes before any handler runs, the same for the
  // Server (when the header arrives, before any body is read) and for
  // dispatch(): a route for the path and method (else 404, or 405 with Allow),
  // then the authenticator (sets request.authenticated; 401 when the route
  // requires auth and it refuses). Fills request.params. Returns the route,
  // or the refusal as a problem (the caller adds the Bearer error).
  std::expected<const Route*, Response> admit(Request& request) const;
  // Runs the whole pipeline for a request already read and parsed
  // (parse_target): admit(), then invoke(). For a deferred route it waits
  // for the answer, and runs the Responder's blocking jobs inline.
  Response dispatch(Request& request) const;
  // Calls the route's handler, turning an exception into a logged 500 problem.
  // The Server uses this after it admitted the request at header time.
  Response invoke(const Route& route, Request& request) const;
  // The same for a deferred route: a handler that throws has its Responder
  // answer 500.
  void invoke_deferred(const Route& route, Request& request, Responder responder) const;

 private:
  struct PatternSegment {
    enum class Kind { literal, param, rest } kind;
    std::string text;  // the literal, or the parameter name
  };
  using Pattern = std::vector<PatternSegment>;
  static Pattern compile_pattern(std::string_view pattern);
  static bool match_pattern(const Pattern& pattern, const std::vector<std::string>& segments,
                            Params& params);

  std::vector<Route> routes_;
  std::vector<Pattern> patterns_;  // parallel to routes_
  std::function<bool(const Request&)> authenticator_;
};

// Hashes a streaming body as it arrives. http/ depends only on base, so the
// composition root supplies the algorithm (crypto::Sha256 for SpooledBody::sha256).
class BodyHasher {
 public:
  virtual ~BodyHasher() = default;
  virtual void update(std::span<const uint8_t> bytes) = 0;
  // Lower-case hex digest of everything given to update().
  virtual std::string finish_hex() = 0;
};

// "HOST:PORT" (or "[v6]:PORT") → host and port; refuses anything else.
Result<std::pair<std::string, uint16_t>> parse_listen(std::string_view listen);

struct ServerOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 8080;           // 0: pick a free port (see Server::port())
  uint32_t io_threads = 0;        // 0: one per core
  uint32_t handler_threads = 32;  // handlers may block on the store
  // Blocking handlers queued or running, and deferred ones not yet
  // answered; beyond, 503 with Retry-After.
  uint32_t handler_jobs_max = 4096;
  // Until a header is complete: the first request's counts from accept, a
  // later one's from its first byte. Slow or stalled headers are cut off.
  // At most limits::request_head_max.
  std::chrono::milliseconds header_read_timeout = limits::request_head_max;
  // The longest a body upload may go without receiving a byte.
  std::chrono::milliseconds body_read_timeout{60'000};
  // A body must be whole within body_time_floor plus its length (declared,
  // else the route's limit) at body_bytes_per_s_min, however steadily it
  // trickles in; then the connection closes. Options may tighten these (a
  // shorter floor, a higher rate), never loosen them past limits.h.
  std::chrono::milliseconds body_time_floor = limits::request_body_time_floor;
  uint32_t body_bytes_per_s_min = limits::request_body_bytes_per_s_min;
  // Connections open at once from one client address; one more is closed
  // at accept. At most limits::connections_per_address_max. Loopback
  // clients are exempt unless cap_loopback (a same-host reverse proxy
  // carries every client over loopback).
  uint32_t connections_per_address_max = limits::connections_per_address_max;
  bool cap_loopback = false;
  std::chrono::milliseconds idle_keep_alive_timeout{30'000};
  // The longest a response may go without the client taking a byte.
  std::chrono::milliseconds send_stall_timeout{60'000};
  std::chrono::milliseconds shutdown_grace{10'000};
  uint32_t pipeline_depth_max = 8;  // requests queued per connection
  uint32_t connections_max = 20'000;
  std::filesystem::path spool_dir;  // for streaming bodies; must exist
  // Makes one hasher per streaming body. Required when a route is streaming.
  std::function<std::unique_ptr<BodyHasher>()> make_body_hasher;
  // Called after each exchange on an I/O thread: route name ("" when
  // unmatched), status (0 when none was sent), duration.
  std::function<void(std::string_view route, unsigned status, std::chrono::microseconds)>
      on_request;
};

// The TCP server: sessions own their sockets; deadlines, byte limits and the
// pipeline bound live there. Logs one JSON line per request. The Router and
// the callbacks must outlive the Server. Starting ignores SIGPIPE process-wide:
// sendfile(2) has no MSG_NOSIGNAL.
class Server {
 public:
  Server(const Router& router, ServerOptions options);
  // Call after run() returned (or when it never ran).
  ~Server();
  // Checks the options, binds and listens; after this, port() is known.
  Status start();
  uint16_t port() const;
  // After start(), once. Blocks until stop() or SIGTERM/SIGINT (when
  // handle_signals), then shuts down gracefully: stops accepting, closes idle
  // connections, lets in-flight exchanges finish within shutdown_grace, then
  // closes the rest and waits for running handlers.
  void run(bool handle_signals);
  // Thread-safe; may be called from a handler, before or during run().
  void stop();
  // Read blocks held by connections waiting for their next request; a
  // connection idle for about a second holds none. For tests and diagnostics.
  size_t read_blocks_held() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg::http
