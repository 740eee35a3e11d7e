// Reading requests: the head (the fast path or Beast's parser), admission
// from the head alone (route, credentials, body limit), the body (buffered
// or spooled), then the handler, inline or on the handler pool.
#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <cstring>

#include "http/request_head.h"
#include "http/session_internal.h"

namespace dg::http::internal {
namespace {

bool is_http_error(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category();
}

}  // namespace

void Session::begin() {
  error_code ec;
  // sendfile(2) on the native handle needs O_NONBLOCK; Asio's own ops cope
  // with it. Synchronous reads (parse_header_bytes) return would_block.
  socket_.native_non_blocking(true, ec);
  socket_.non_blocking(true, ec);
  // Responses are written whole; Nagle would only delay the last segment.
  socket_.set_option(tcp::no_delay(true), ec);
  tcp::endpoint remote = socket_.remote_endpoint(ec);
  if (ec) {
    close();
    return;
  }
  remote_ = remote.address().to_string();
  read_next();
}

void Session::read_next() {
  read_state_ = ReadState::none;
  if (closed_ || lingering_) return;
  if (!accepting_requests_) {
    if (queue_.empty()) close();
    return;
  }
  if (queue_.size() >= server_.options().pipeline_depth_max) {
    read_state_ = ReadState::paused;  // resumed when a response is written
    cancel_read_timer();
    return;
  }
  if (buffer_.size() > 0) {  // a pipelined request already arrived
    read_header();
    return;
  }
  read_state_ = ReadState::waiting;
  if (queue_.empty()) {
    // An idle connection holds no buffer. (Keeping it while a connection is
    // busy saves an allocation a request, but 10,000 connections that each
    // made a request in the same second then hold 10,000 buffers, and the
    // heap keeps that peak: 4.7 KB per idle connection instead of 0.8.)
    buffer_.shrink_to_fit();
    // The first request must arrive within the header timeout of accept.
    arm_read_timer(requests_read_ == 0 ? accepted_at_ + server_.options().header_read_timeout
                                       : Clock::now() + server_.options().idle_keep_alive_timeout);
  } else {
    cancel_read_timer();  // responses are owed; no deadline on the client meanwhile
  }
  waiting_since_ = Clock::now();
  // The first request is awaited without a block: a connection may never send one.
  if (requests_read_ == 0) return wait_readable();
  block_ = thread_.blocks.take();
  if (block_ == nullptr) return wait_readable();
  if (quiet_wait_supported && drained_) return wait_quietly();
  socket_.async_read_some(asio::buffer(block_, ReadBlockPool::block_bytes),
                          [self = shared_from_this()](const error_code& ec, size_t bytes) {
                            self->on_block_read(ec, bytes);
                          });
}

// Waits for readability without holding a buffer (Asio re-arms the
// descriptor with an epoll_ctl each time: fine for connections that wait long).
void Session::wait_readable() {
  socket_.async_wait(tcp::socket::wait_read,
                     [self = shared_from_this()](const error_code& ec) { self->on_readable(ec); });
}

// Waits with the block taken, without a system call (see QuietWaitOp): only
// while drained_ says the socket was just read dry.
void Session::wait_quietly() {
  DG_ASSERT(drained_ && block_ != nullptr);
  quiet_wait_.start(thread_.reactor, socket_, shared_from_this());
}

void QuietWaitOp::complete(void* owner, asio::detail::scheduler_operation* base, const error_code&,
                           size_t) {
  auto* op = static_cast<QuietWaitOp*>(base);
  std::shared_ptr<Session> session = std::move(op->session_);
  if (owner != nullptr) session->on_quiet_readable(op->ec_);
}

// The socket is readable (or the wait was cancelled, or failed): read into
// the block now, and go on as an asynchronous read into it would.
void Session::on_quiet_readable(const error_code& ec) {
  if (ec || closed_ || lingering_) return on_block_read(ec, 0);
  error_code read_ec;
  size_t bytes = socket_.read_some(asio::buffer(block_, ReadBlockPool::block_bytes), read_ec);
  if (read_ec == asio::error::would_block) {
    // Readiness that a read of ours already took: the socket is dry.
    DrainedScope drained(drained_, true);
    return wait_quietly();
  }
  DrainedScope drained(drained_, !read_ec && bytes < ReadBlockPool::block_bytes);
  on_block_read(read_ec, bytes);
}

// Idle for limits::idle_read_block_hold_max: the read into the block is cancelled, and its handler
// waits the bufferless way. Bytes it already took are kept (on_block_read).
void Session::park() {
  parking_ = true;
  error_code ignored;
  socket_.cancel(ignored);
}

void Session::on_block_read(const error_code& ec, size_t bytes) {
  char* block = std::exchange(block_, nullptr);
  // The common case: a whole plain request in the block, parsed where it
  // lies (only what follows it is copied to buffer_).
  if (bytes > 0 && !ec && !closed_ && !lingering_ && accepting_requests_ && buffer_.size() == 0) {
    readable_ = bytes == ReadBlockPool::block_bytes;
    parking_ = false;
    bool taken = begin_simple_exchange({block, bytes}, /*in_buffer=*/false);
    if (taken) {
      thread_.blocks.give_back(block);
      return;
    }
  }
  if (bytes > 0) {
    auto room = buffer_.prepare(bytes);
    std::memcpy(room.data(), block, bytes);
    buffer_.commit(bytes);
  }
  thread_.blocks.give_back(block);
  bool parked = std::exchange(parking_, false) && ec == asio::error::operation_aborted;
  if (closed_) return;
  read_state_ = ReadState::none;
  if (lingering_) return linger_read();
  if (parked && bytes == 0) {
    read_state_ = ReadState::waiting;
    return wait_readable();
  }
  if (ec == asio::error::eof && bytes == 0) {
    // The client is done sending: answer what it asked, then close.
    accepting_requests_ = false;
    cancel_read_timer();
    if (queue_.empty()) close();
    return;
  }
  if ((ec && !parked && ec != asio::error::eof) || !accepting_requests_) {
    if (ec || queue_.empty()) close();
    return;
  }
  // A full block: more may be waiting in the socket.
  readable_ = bytes == ReadBlockPool::block_bytes;
  read_header();
}

void Session::on_readable(const error_code& ec) {
  if (closed_) return;
  read_state_ = ReadState::none;
  if (lingering_) return linger_read();
  if (ec || !accepting_requests_) {
    if (ec || queue_.empty()) close();
    return;
  }
  readable_ = true;
  read_header();
}

void Session::read_header() {
  read_state_ = ReadState::header;
  header_bytes_ = 0;
  if (requests_read_ > 0) arm_read_timer(Clock::now() + server_.options().header_read_timeout);
  parse_header_bytes();
}

// Until bytes of a header arrive, no parser exists: a plain head that is
// all here goes the fast way (begin_simple_exchange); anything else to
// Beast. Beast consumes complete header lines as they arrive, so its
// header_limit bounds only what is still unparsed; this loop counts every
// byte of the header against limits::request_header_bytes_max itself.
void Session::parse_header_bytes() {
  if (buffer_.size() > 0) {
    if (parser_ == nullptr) {
      auto data = buffer_.data();
      std::string_view bytes(static_cast<const char*>(data.data()), data.size());
      if (accepting_requests_ && begin_simple_exchange(bytes, /*in_buffer=*/true)) return;
      parser_ = std::make_unique<Parser>();
      parser_->header_limit(limits::request_header_bytes_max);
      // The body limit depends on the route and on authentication, known
      // only after the header: start_body() sets it.
      parser_->body_limit(boost::none);
    }
    error_code ec;
    size_t used_bytes = parser_->put(buffer_.data(), ec);
    buffer_.consume(used_bytes);
    header_bytes_ += used_bytes;
    if (ec == bhttp::error::header_limit) return refuse_header_too_large();
    if (ec && ec != bhttp::error::need_more) return refuse_header(400, "malformed request");
    if (parser_->is_header_done()) return on_header_done();
  }
  size_t received_bytes = header_bytes_ + buffer_.size();
  if (received_bytes >= limits::request_header_bytes_max) return refuse_header_too_large();
  size_t room_bytes =
      std::min(header_read_bytes, limits::request_header_bytes_max - received_bytes);
  if (std::exchange(readable_, false)) {
    // The socket just said it is readable: read now rather than through an
    // asynchronous operation and another trip through the event loop.
    error_code ec;
    size_t bytes = socket_.read_some(buffer_.prepare(room_bytes), ec);
    if (ec != asio::error::would_block) {
      DrainedScope drained(drained_, !ec && bytes < room_bytes);
      return on_header_bytes(ec, bytes);
    }
  }
  socket_.async_read_some(buffer_.prepare(room_bytes),
                          [self = shared_from_this()](const error_code& ec, size_t bytes) {
                            self->on_header_bytes(ec, bytes);
                          });
}

void Session::on_header_bytes(const error_code& ec, size_t bytes) {
  if (closed_) return;
  if (lingering_) return linger_read();
  buffer_.commit(bytes);
  if (ec == asio::error::eof && (parser_ == nullptr || !parser_->got_some()) &&
      buffer_.size() == 0) {
    // The client is done sending: answer what it asked, then close.
    read_state_ = ReadState::none;
    cancel_read_timer();
    parser_.reset();
    accepting_requests_ = false;
    if (queue_.empty()) close();
    return;
  }
  if (ec == asio::error::eof) return refuse_header(400, "the request ended inside its header");
  if (ec) return close();
  parse_header_bytes();
}

void Session::on_header_done() {
  read_state_ = ReadState::none;
  cancel_read_timer();
  if (!accepting_requests_) {  // shutdown began while this header arrived
    parser_.reset();
    if (queue_.empty()) close();
    return;
  }
  ++requests_read_;
  begin_exchange();
}

// 414 when the request line alone is too long (or holds a target over its
// own limit), 431 when the header fields are.
void Session::refuse_header_too_large() {
  std::string_view target =
      parser_ != nullptr ? std::string_view(parser_->get().target()) : std::string_view();
  bool start_line_parsed = !target.empty();
  bool too_long = start_line_parsed
                      ? target.size() > limits::request_target_bytes_max
                      : header_bytes_ + buffer_.size() > limits::request_target_bytes_max;
  if (too_long) return refuse_header(414, "the request target is too long");
  refuse_header(431, "the request header is too large");
}

void Session::refuse_header(unsigned status, std::string_view detail) {
  auto exchange = std::make_shared<Exchange>();
  exchange->request_id = server_.next_request_id();
  queue_.push_back(exchange);
  turn_away(exchange, internal::server_problem(status, detail));
}

// What a request's head says that the exchange keeps, from either parser.
struct Session::HeadInfo {
  Verb method;
  std::string_view method_text;
  std::string_view target;
  bool keep_alive;
  bool expects_continue;
  std::string_view offered_request_id;
  // The fast path's: the target is in origin form, its query starts here.
  size_t checked_query_start = std::string_view::npos;
};

// A new exchange for a head, its request filled except for the headers.
// Copies what it keeps: the head's bytes may go once it returns.
std::shared_ptr<Exchange> Session::open_exchange(const HeadInfo& head, Status& target_status) {
  auto exchange = std::make_shared<Exchange>();
  exchange->method = std::string(head.method_text);
  exchange->head = head.method == Verb::head;
  exchange->keep_alive = head.keep_alive;
  exchange->expects_continue = head.expects_continue;
  // The fast path's head parser found the query already: no second scan.
  size_t query_start = head.checked_query_start != std::string_view::npos ? head.checked_query_start
                                                                          : head.target.find('?');
  exchange->path = std::string(
      head.target.substr(0, std::min<size_t>(query_start, limits::access_log_path_bytes_max)));
  exchange->request_id = internal::is_sane_request_id(head.offered_request_id)
                             ? std::string(head.offered_request_id)
                             : server_.next_request_id();
  Request& request = exchange->request;
  request.method = head.method;
  request.request_id = exchange->request_id;
  request.remote_address = remote_;
  target_status =
      head.checked_query_start != std::string_view::npos
          ? internal::parse_checked_target(head.target, head.checked_query_start, request)
          : parse_target(head.target, request);
  return exchange;
}

void Session::begin_exchange() {
  const auto& message = parser_->get();
  Status target_status;
  auto exchange = open_exchange(
      {message.method(), message.method_string(), message.target(), message.keep_alive(),
       message.version() >= 11 && equals_ignoring_case(message[Field::expect], "100-continue"),
       message["X-Request-Id"]},
      target_status);
  // Without a body the parser is done with the fields: they move rather than copy.
  Request& request = exchange->request;
  std::optional<Response> head_refusal = internal::refuse_head(message, message.version());
  if (parser_->is_done()) {
    request.headers = std::move(static_cast<Fields&>(parser_->get()));
  } else {
    request.headers = static_cast<const Fields&>(message);
  }
  queue_.push_back(exchange);
  if (head_refusal) {
    // Whatever follows the head may be a body Beast did not frame (e.g.
    // "Transfer-Encoding: gzip"): never parse it as a request.
    exchange->keep_alive = false;
    unread_input_ = true;
    return turn_away(exchange, std::move(*head_refusal));
  }
  if (!exchange->keep_alive) accepting_requests_ = false;

  std::optional<uint64_t> content_length;
  if (boost::optional<uint64_t> length = parser_->content_length()) content_length = *length;
  if (std::optional<Response> refusal = admit(*exchange, target_status, content_length)) {
    return turn_away(exchange, std::move(*refusal));
  }
  if (!parser_->is_done()) return start_body(exchange);
  parser_.reset();
  dispatch(exchange);
  read_next();
}

// The fast path (see request_head.h): when `bytes` start with a whole plain
// head, takes that request as begin_exchange() would and returns true. The
// bytes after the head are the next request's: when `bytes` are not
// buffer_'s own, they are copied there.
bool Session::begin_simple_exchange(std::string_view bytes, bool in_buffer) {
  internal::SimpleRequestHead head;
  if (!internal::parse_simple_request_head(bytes, head)) return false;
  read_state_ = ReadState::none;
  cancel_read_timer();
  ++requests_read_;
  Status target_status;
  auto exchange = open_exchange(
      {head.method, head.method_text, head.target, head.keep_alive,
       head.version >= 11 && equals_ignoring_case(head.field("Expect"), "100-continue"),
       head.field("X-Request-Id"), head.target_checked ? head.query_start : std::string_view::npos},
      target_status);
  Fields& headers = exchange->request.headers;
  for (size_t i = 0; i < head.field_count; ++i)
    headers.insert(head.fields[i].first, head.fields[i].second);
  if (in_buffer) {
    buffer_.consume(head.head_bytes);
  } else if (bytes.size() > head.head_bytes) {
    size_t rest_bytes = bytes.size() - head.head_bytes;
    std::memcpy(buffer_.prepare(rest_bytes).data(), bytes.data() + head.head_bytes, rest_bytes);
    buffer_.commit(rest_bytes);
  }
  queue_.push_back(exchange);
  std::optional<Response> head_refusal = internal::refuse_head(headers, head.version);
  if (head_refusal) exchange->keep_alive = false;
  if (!exchange->keep_alive) accepting_requests_ = false;
  if (head_refusal) {
    on_handled(exchange, std::move(*head_refusal));
  } else if (std::optional<Response> refusal = admit(*exchange, target_status, std::nullopt)) {
    // As turn_away(), but the request was read whole (it has no body): the
    // connection may carry on.
    on_handled(exchange, std::move(*refusal));
  } else {
    dispatch(exchange);
  }
  read_next();
  return true;
}

// Decides, from the header alone, whether the body may be read: the route,
// the credentials and the body limit they earn. Returns the refusal, if any.
std::optional<Response> Session::admit(Exchange& exchange, const Status& target_status,
                                       std::optional<uint64_t> content_length) {
  Request& request = exchange.request;
  exchange.credentials_presented = internal::presents_credentials(request);
  if (!target_status.ok()) {
    bool too_long = target_status.code() == Code::limit_exceeded;
    return internal::server_problem(too_long ? 414 : 400, target_status.message());
  }
  if (request.method == Verb::unknown) {
    return internal::server_problem(501, "the server does not know this method");
  }
  std::expected<const Route*, Response> admitted = server_.router().admit(request);
  if (!admitted) return std::move(admitted.error());
  exchange.route = *admitted;
  const RouteOptions& options = exchange.route->options;
  bool large_body = request.authenticated;
  if (!large_body && options.admits_large_body) {
    try {
      large_body = options.admits_large_body(request);
    } catch (const std::exception& e) {
      log::error("admits_large_body threw",
                 {{"request_id", request.request_id}, {"what", e.what()}});
    }
  }
  exchange.body_bytes_max =
      large_body
          ? options.body_bytes_max
          : std::min<uint64_t>(options.body_bytes_max, limits::request_body_bytes_max_anonymous);
  if (content_length && *content_length > exchange.body_bytes_max) {
    return internal::server_problem(413, "the request body is larger than this route accepts");
  }
  return std::nullopt;
}

// Answers without running a handler. An unread body ends the connection: we
// will not parse past bytes we refused to read.
void Session::turn_away(const std::shared_ptr<Exchange>& exchange, Response response) {
  if (parser_ == nullptr || !parser_->is_done()) {
    exchange->keep_alive = false;
    unread_input_ = true;
  }
  if (!exchange->keep_alive) accepting_requests_ = false;
  parser_.reset();
  on_handled(exchange, std::move(response));
  read_next();
}

void Session::start_body(const std::shared_ptr<Exchange>& exchange) {
  auto body = std::make_unique<BodyInProgress>();
  body->exchange = exchange;
  if (exchange->route->options.streaming) {
    Result<SpoolFile> spool = SpoolFile::create(server_.options().spool_dir);
    if (!spool) {
      log::error("spool file", {{"error", spool.error().to_string()}});
      return turn_away(exchange, internal::server_problem(500, "the server cannot store uploads"));
    }
    body->spool.emplace(std::move(*spool));
    body->hasher = server_.options().make_body_hasher();
    DG_ASSERT(body->hasher != nullptr);
    body->chunk = std::make_unique<char[]>(body_chunk_bytes);
  } else if (boost::optional<uint64_t> length = parser_->content_length()) {
    exchange->request.body.reserve(*length);  // at most body_bytes_max, checked in admit()
  }
  // Chunked bodies have no length up front: the parser counts against the limit.
  parser_->body_limit(exchange->body_bytes_max);
  body_ = std::move(body);
  read_progress_seen_bytes_ = read_progress_bytes_;
  // The body's total time: a floor, plus its length at the minimum rate.
  const ServerOptions& options = server_.options();
  uint64_t expected_bytes = exchange->body_bytes_max;
  if (boost::optional<uint64_t> length = parser_->content_length()) expected_bytes = *length;
  auto allowed = options.body_time_floor +
                 std::chrono::milliseconds(expected_bytes * 1000 / options.body_bytes_per_s_min);
  const Clock::time_point now = Clock::now();
  body_deadline_ = now + allowed;
  arm_read_timer(std::min(now + options.body_read_timeout, body_deadline_));
  write_next();  // a 100 Continue may be due
  read_body_some();
}

void Session::read_body_some() {
  read_state_ = ReadState::body;
  auto& body = parser_->get().body();
  if (body_->chunk) {
    body_->offered_bytes = body_chunk_bytes;
    body.data = body_->chunk.get();
  } else {
    std::string& text = body_->exchange->request.body;
    uint64_t room_bytes = body_->exchange->body_bytes_max - text.size();
    // A body of known length is offered no more room than it has left:
    // resize() zeroes what it adds, and a 30-byte claim must not pay for 64 KiB.
    if (boost::optional<uint64_t> left = parser_->content_length_remaining()) {
      room_bytes = std::min(room_bytes, *left);
    }
    // Never offer zero bytes: the parser would ask for a buffer forever. It
    // stops at the body limit itself, so the extra byte is never written.
    body_->offered_bytes = std::max<uint64_t>(1, std::min<uint64_t>(body_chunk_bytes, room_bytes));
    text.resize(text.size() + body_->offered_bytes);
    body.data = text.data() + text.size() - body_->offered_bytes;
  }
  body.size = body_->offered_bytes;
  bhttp::async_read_some(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](const error_code& ec, size_t) { self->on_read_body(ec); });
}

void Session::on_read_body(error_code ec) {
  if (closed_) return;
  read_state_ = ReadState::none;
  if (lingering_) return linger_read();
  if (ec == bhttp::error::need_buffer) ec = {};  // our buffer is full: normal
  size_t used_bytes = body_->offered_bytes - parser_->get().body().size;
  Status taken = take_body_bytes(used_bytes);
  if (!taken.ok()) {
    log::error("spool write", {{"error", taken.to_string()}});
    return fail_body(internal::server_problem(500, "the server could not store the upload"));
  }
  if (ec == bhttp::error::body_limit) {
    return fail_body(
        internal::server_problem(413, "the request body is larger than this route accepts"));
  }
  if (ec && is_http_error(ec)) return fail_body(internal::server_problem(400, "malformed body"));
  if (ec) {
    body_->exchange->log_status = 400;  // the client went away mid-body
    return close();
  }
  if (parser_->is_done()) return finish_body();
  read_body_some();
}

Status Session::take_body_bytes(size_t used_bytes) {
  read_progress_bytes_ += used_bytes;
  if (!body_->chunk) {
    std::string& text = body_->exchange->request.body;
    text.resize(text.size() - (body_->offered_bytes - used_bytes));
    return Status::ok_status();
  }
  const char* bytes = body_->chunk.get();
  body_->hasher->update({reinterpret_cast<const uint8_t*>(bytes), used_bytes});
  return body_->spool->append({bytes, used_bytes});
}

void Session::fail_body(Response response) {
  std::shared_ptr<Exchange> exchange = std::move(body_->exchange);
  body_.reset();  // deletes the spool file
  cancel_read_timer();
  exchange->keep_alive = false;
  turn_away(exchange, std::move(response));
}

void Session::finish_body() {
  std::shared_ptr<Exchange> exchange = body_->exchange;
  if (body_->spool) {
    uint64_t size_bytes = body_->spool->size_bytes();
    Result<std::filesystem::path> path = body_->spool->publish();
    if (!path) {
      log::error("spool publish", {{"error", path.error().to_string()}});
      return fail_body(internal::server_problem(500, "the server could not store the upload"));
    }
    exchange->request.spooled = SpooledBody{*path, size_bytes, body_->hasher->finish_hex()};
  }
  body_.reset();
  parser_.reset();
  cancel_read_timer();
  dispatch(exchange);
  read_next();
}

void Session::dispatch(const std::shared_ptr<Exchange>& exchange) {
  exchange->dispatched = true;
  const Route& route = *exchange->route;
  Request request = std::move(exchange->request);  // the handler owns it now
  const bool deferred = route.deferred != nullptr;
  if (!route.options.blocking && !deferred)
    return on_handled(exchange, server_.run_handler(route, request));
  if (!server_.try_acquire_handler_job()) {
    if (request.spooled) {
      std::error_code ignored;
      std::filesystem::remove(request.spooled->path, ignored);
    }
    Response busy = internal::server_problem(503, "the server is busy; retry shortly");
    busy.headers.set(Field::retry_after, "1");
    return on_handled(exchange, std::move(busy));
  }
  if (deferred && !route.options.blocking)
    return server_.run_deferred(route, request, responder_for(exchange));
  if (deferred) {
    asio::post(server_.handler_pool(), [self = shared_from_this(), exchange, &route,
                                        request = std::move(request)]() mutable {
      self->server_.run_deferred(route, request, self->responder_for(exchange));
    });
    return;
  }
  asio::post(server_.handler_pool(), [self = shared_from_this(), exchange, &route,
                                      request = std::move(request)]() mutable {
    Response response = self->server_.run_handler(route, request);
    self->server_.release_handler_job();
    asio::post(self->executor(), [self, exchange, response = std::move(response)]() mutable {
      self->on_handled(exchange, std::move(response));
    });
  });
}

// The handler job taken in dispatch() ends with the answer. The answer
// reaches this session through its thread's inbox (one post per burst); a
// session closed meanwhile drops it, as it drops a blocking handler's.
Responder Session::responder_for(const std::shared_ptr<Exchange>& exchange) {
  ServerCore& server = server_;
  return Responder(
      [self = shared_from_this(), exchange](Response response) {
        self->server_.release_handler_job();
        IoThread& thread = self->thread_;
        thread.deliver([self, exchange, response = std::move(response)]() mutable {
          self->on_handled(exchange, std::move(response));
        });
      },
      [&server](std::move_only_function<void()> job) {
        asio::post(server.handler_pool(), std::move(job));
      });
}

void Session::on_handled(const std::shared_ptr<Exchange>& exchange, Response response) {
  internal::add_problem_instance(response, exchange->request_id);
  internal::add_bearer_error(response, exchange->credentials_presented);
  exchange->response = std::move(response);
  if (closed_) return finish_exchange(*exchange, false);
  write_next();
}

}  // namespace dg::http::internal
