// The server: what every session shares (ServerCore), the one log line per
// request, the listener and shutdown. The sessions' own work lives in
// session_read.cc, session_write.cc and session_timers.cc (see session.h).
#include <signal.h>
#include <sys/random.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstring>
#include <future>
#include <thread>

#include "base/encoding.h"
#include "http/session_internal.h"

namespace dg::http {
namespace internal {
namespace {

// A tick a tenth of the shortest timeout, within [5 ms, 250 ms].
Clock::duration deadline_tick(const ServerOptions& o) {
  auto shortest =
      std::min({o.header_read_timeout, o.body_read_timeout, o.body_time_floor,
                o.idle_keep_alive_timeout, o.send_stall_timeout, limits::lingering_close_max});
  return std::clamp<Clock::duration>(shortest / 10, std::chrono::milliseconds(5),
                                     std::chrono::milliseconds(250));
}

}  // namespace

ServerCore::ServerCore(const Router& router, ServerOptions options)
    : router_(router), options_(std::move(options)), request_id_prefix_(make_request_id_prefix()) {
  uint32_t threads = options_.io_threads > 0 ? options_.io_threads
                                             : std::max(1u, std::thread::hardware_concurrency());
  for (uint32_t i = 0; i < threads; ++i) {
    io_threads_.push_back(std::make_unique<IoThread>(deadline_tick(options_)));
  }
}

std::string ServerCore::make_request_id_prefix() {
  uint8_t bytes[8] = {};
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    uint64_t fallback = static_cast<uint64_t>(Clock::now().time_since_epoch().count());
    std::memcpy(bytes, &fallback, sizeof bytes);
  }
  return hex_encode(bytes) + "-";
}

void Session::start() {
  registry_it_ = server_.add_session(weak_from_this());
  registered_ = true;
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->begin(); });
}

// --- The end of an exchange.

// The access log line, the metrics hook and on_done: once per exchange.
void Session::finish_exchange(Exchange& exchange, bool complete) {
  if (exchange.finished) return;
  exchange.finished = true;
  exchange.release_file();
  unsigned status = exchange.response ? exchange.response->status : exchange.log_status;
  auto duration =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - exchange.started);
  std::string_view route = exchange.route ? std::string_view(exchange.route->options.name) : "";
  // A 500's real message, never sent (problem_from_status), is logged here
  // beside the request id the client got.
  std::string_view internal_error =
      exchange.response ? std::string_view(exchange.response->internal_error) : "";
  {
    // Built in place: this line is written for every request. It holds the
    // thread's spare string until it goes, so it goes before the callbacks
    // (the edge's on_done builds its outbox event in that string).
    log::Line line(internal_error.empty() ? log::Level::info : log::Level::error, "request");
    line.add("method", exchange.method)
        .add("route", route)
        .add("path", exchange.path)
        .add("status", status)
        .add("bytes", exchange.body_bytes_sent)
        .add("complete", complete)
        .add("duration_us", duration.count())
        .add("request_id", exchange.request_id)
        .add("remote", remote_);
    if (!internal_error.empty()) line.add("error", internal_error);
    line.write();
  }
  if (server_.options().on_request) {
    call_guarded("on_request", server_.options().on_request, route, status, duration);
  }
  if (exchange.response && exchange.response->on_done) {
    auto on_done = std::move(exchange.response->on_done);
    exchange.response->on_done = nullptr;
    call_guarded("on_done", on_done, complete && !exchange.head, exchange.body_bytes_sent);
  }
}

}  // namespace internal

// --- Listening, accepting and shutting down.

// The listener is the sessions' server: it reads their vocabulary.
using namespace internal;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using SignalSet = asio::basic_signal_set<Executor>;

struct Server::Impl : ServerCore {
  Impl(const Router& router, ServerOptions options) : ServerCore(router, std::move(options)) {}

  Status start();
  void run(bool handle_signals);
  void request_stop() {
    std::lock_guard lock(stop_mutex);
    stop_requested = true;
    stop_requested_changed.notify_all();
  }

  void accept();
  void on_accept(const error_code& ec, IoThread& thread, Socket socket);
  void shut_down();
  void close_acceptor();

  std::optional<Acceptor> acceptor;
  std::optional<SignalSet> signals;
  std::optional<Timer> accept_retry_timer;
  std::atomic<bool> stopping{false};
  bool started = false;
  bool ran = false;
  uint16_t port = 0;
  std::mutex stop_mutex;
  std::condition_variable stop_requested_changed;
  bool stop_requested = false;
};

namespace {

Status check_options(const Router& router, const ServerOptions& options) {
  if (options.handler_threads == 0 || options.pipeline_depth_max == 0 ||
      options.connections_max == 0 || options.handler_jobs_max == 0 ||
      options.connections_per_address_max == 0) {
    return Status(Code::invalid_argument,
                  "handler_threads, handler_jobs_max, pipeline_depth_max, connections_max and "
                  "connections_per_address_max must be positive");
  }
  // Options may tighten the limits on slow clients, never loosen them.
  if (options.header_read_timeout > limits::request_head_max ||
      options.body_time_floor > limits::request_body_time_floor ||
      options.body_bytes_per_s_min < limits::request_body_bytes_per_s_min ||
      options.connections_per_address_max > limits::connections_per_address_max) {
    return Status(Code::invalid_argument,
                  "header_read_timeout, body_time_floor, body_bytes_per_s_min and "
                  "connections_per_address_max may only be stricter than src/base/limits.h");
  }
  for (const Route& route : router.routes()) {
    if (!route.options.streaming) continue;
    std::error_code ec;
    if (options.spool_dir.empty() || !std::filesystem::is_directory(options.spool_dir, ec)) {
      return Status(Code::invalid_argument,
                    "streaming route " + route.options.name + " needs an existing spool_dir");
    }
    if (!options.make_body_hasher) {
      return Status(Code::invalid_argument,
                    "streaming route " + route.options.name + " needs make_body_hasher");
    }
  }
  return Status::ok_status();
}

}  // namespace

Status Server::Impl::start() {
  DG_ASSERT(!started);
  DG_RETURN_IF_ERROR(check_options(router(), options()));
  ::signal(SIGPIPE, SIG_IGN);  // sendfile(2) to a closed peer would raise it
  error_code ec;
  asio::ip::address address = asio::ip::make_address(options().listen_address, ec);
  if (ec) return Status(Code::invalid_argument, "bad listen address " + options().listen_address);
  acceptor.emplace(io_threads().front()->io.get_executor());
  tcp::endpoint endpoint(address, options().port);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    Code code = ec == asio::error::address_in_use ? Code::conflict : Code::io_error;
    acceptor.reset();
    return Status(code, "listening on " + options().listen_address + ":" +
                            std::to_string(options().port) + ": " + ec.message());
  }
  port = acceptor->local_endpoint().port();
  accept_retry_timer.emplace(acceptor->get_executor());
  start_handler_pool();
  started = true;
  accept();
  return Status::ok_status();
}

void Server::Impl::accept() {
  IoThread& thread = next_io_thread();
  acceptor->async_accept(thread.io, [this, &thread](const error_code& ec, Socket socket) {
    on_accept(ec, thread, std::move(socket));
  });
}

void Server::Impl::on_accept(const error_code& ec, IoThread& thread, Socket socket) {
  if (ec == asio::error::operation_aborted || stopping.load()) return;
  if (ec) {
    // Usually EMFILE/ENFILE: back off instead of spinning on the error.
    log::warn("accept failed", {{"error", ec.message()}});
    accept_retry_timer->expires_after(limits::accept_retry_delay);
    accept_retry_timer->async_wait([this](const error_code& wait_ec) {
      if (!wait_ec && !stopping.load()) accept();
    });
    return;
  }
  if (session_count() >= options().connections_max) {
    error_code ignored;
    socket.close(ignored);  // refused: over connections_max
    return accept();
  }
  // Turned away without an answer, as above: writing one would cost the memory
  // and time the cap exists to protect.
  error_code remote_ec;
  asio::ip::address remote = socket.remote_endpoint(remote_ec).address();
  std::string counted_address;
  if (!remote_ec && (options().cap_loopback || !remote.is_loopback())) {
    if (remote.is_v4()) {
      auto bytes = remote.to_v4().to_bytes();
      counted_address.assign(bytes.begin(), bytes.end());
    } else {
      auto bytes = remote.to_v6().to_bytes();
      counted_address.assign(bytes.begin(), bytes.end());
    }
    if (!try_count_address(counted_address)) {
      log::debug("connection refused", {{"error", "too many connections from one address"},
                                        {"remote", remote.to_string()}});
      error_code ignored;
      socket.close(ignored);
      return accept();
    }
  }
  auto session = std::make_shared<Session>(*this, thread, std::move(socket));
  session->set_counted_address(std::move(counted_address));
  session->start();
  accept();
}

void Server::Impl::close_acceptor() {
  std::promise<void> closed;
  asio::post(acceptor->get_executor(), [&] {
    error_code ignored;
    acceptor->close(ignored);
    accept_retry_timer->cancel();
    if (signals) signals->cancel(ignored);
    closed.set_value();
  });
  // Once this returns no accept handler can create a session any more.
  closed.get_future().wait();
}

void Server::Impl::shut_down() {
  stopping.store(true);
  close_acceptor();
  log::info("shutting down", {{"connections", session_count()}});
  for (auto& session : sessions()) {
    asio::post(session->executor(), [session] { session->drain(); });
  }
  if (!wait_for_no_sessions(Clock::now() + options().shutdown_grace)) {
    log::warn("shutdown grace elapsed; closing connections", {{"connections", session_count()}});
    for (auto& session : sessions()) {
      asio::post(session->executor(), [session] { session->force_close(); });
    }
  }
  // Blocking handlers cannot be interrupted, nor can owed deferred answers
  // (a claim in a batch being committed); their sessions drop the results.
  wait_for_no_handler_jobs();
  handler_pool().join();
  wait_for_no_sessions(Clock::now() + limits::force_close_unwind_max);
}

void Server::Impl::run(bool handle_signals) {
  DG_ASSERT(started && !ran);
  ran = true;
  if (handle_signals) {
    signals.emplace(acceptor->get_executor(), SIGINT, SIGTERM);
    signals->async_wait([this](const error_code& ec, int signal_number) {
      if (ec) return;
      log::info("signal received", {{"signal", signal_number}});
      request_stop();
    });
  }
  std::vector<asio::executor_work_guard<Executor>> work;
  std::vector<std::thread> threads;
  for (auto& thread : io_threads()) {
    work.push_back(asio::make_work_guard(thread->io));
    threads.emplace_back([&io = thread->io] { io.run(); });
  }
  {
    std::unique_lock lock(stop_mutex);
    stop_requested_changed.wait(lock, [&] { return stop_requested; });
  }
  shut_down();
  work.clear();
  for (auto& thread : io_threads())
    thread->io.stop();  // anything still queued is destroyed with it
  for (auto& thread : threads) thread.join();
  log::info("stopped");
}

Server::Server(const Router& router, ServerOptions options)
    : impl_(std::make_unique<Impl>(router, std::move(options))) {}

Server::~Server() = default;

Status Server::start() {
  return impl_->start();
}

uint16_t Server::port() const {
  return impl_->port;
}

void Server::run(bool handle_signals) {
  impl_->run(handle_signals);
}

void Server::stop() {
  impl_->request_stop();
}

size_t Server::read_blocks_held() const {
  size_t held = 0;
  for (const auto& thread : impl_->io_threads()) held += thread->blocks.blocks_out();
  return held;
}

}  // namespace dg::http
