// The HTTP/1.1 server's insides, shared by its translation units and private
// to src/http (nothing outside includes it): Beast parses, Asio runs the
// sockets, and their template code stays in these units, which share one
// precompiled header (src/http/CMakeLists.txt). One file per concern:
//   session_read.cc    reading a request: its head, admission, body, dispatch
//   session_write.cc   writing responses in order: head, bodies, sendfile
//   session_timers.cc  the I/O threads' ticker, deadlines, lingering, close
//   server.cc          the shared core, the request log line, the listener
//                      and shutdown
//
// Threads: each of the `io_threads` runs its own io_context, and each
// connection lives on one of them (handed out in turn as connections are
// accepted), so a session's state is only ever touched by its thread: no
// strands, no locks on the hot path, and less memory per connection. Blocking
// handlers run on a separate pool and post their Response back to the
// session's io_context.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
// After io_context.hpp: the reactor's headers need what it declares.
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/version.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/assert.h"
#include "base/limits.h"
#include "base/log.h"
#include "http/http.h"
#include "http/internal.h"
#include "http/read_blocks.h"
#include "http/response_head.h"
#include "http/spool.h"

namespace dg::http::internal {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;
using Parser = bhttp::request_parser<bhttp::buffer_body>;

// Body bytes handed to the spool file (and the hasher) per read.
constexpr size_t body_chunk_bytes = 64 * 1024;
// One-file bodies up to this size go out behind a MSG_MORE header; larger
// ones under TCP_CORK, which keeps every packet of a long transfer full.
constexpr uint64_t head_more_bytes_max = 1024 * 1024;
// Header bytes read per receive: small, since most headers are.
constexpr size_t header_read_bytes = 4096;
// Bytes read per receive while lingering before a close.
constexpr size_t linger_read_bytes = 4096;
constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

class Session;

// Waiting for the next request without a system call. Asio's epoll reactor
// registers a socket once, edge-triggered, yet starting a read still costs a
// system call: async_read_some tries the read at once (right after a
// response that recv(2) nearly always fails with EAGAIN), and async_wait
// re-arms the socket with epoll_ctl(2). On a virtual machine a system call
// costs about a microsecond, a tenth of what a small download costs.
//
// A session that has just read its socket dry (a read returned less than it
// asked for) and has not given the thread back to the event loop since
// cannot have missed a readiness event: any byte that arrives later brings a
// new edge, which epoll reports. Such a session waits with this operation:
// it tells the reactor's speculative attempt "not ready" (no I/O, so no
// system call; the reactor then only queues it) and "ready" when the reactor
// runs it for an event. Its owner then reads with a non-blocking read.
//
// It uses Asio's reactor internals, so it is tied to the Asio this is built
// with (Boost 1.81, pinned in CMakeLists.txt) and to the epoll reactor; with
// any other, quiet_wait_supported is false and sessions wait as before.
#if BOOST_ASIO_VERSION == 102600 && defined(BOOST_ASIO_HAS_EPOLL) && \
    !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
inline constexpr bool quiet_wait_supported = true;
#else
inline constexpr bool quiet_wait_supported = false;
#endif

// One per session, reused for each wait; while queued it holds its session.
class QuietWaitOp : public asio::detail::reactor_op {
 public:
  QuietWaitOp() : reactor_op(error_code(), &QuietWaitOp::perform, &QuietWaitOp::complete) {}
  // Queues the wait on `socket` (registered with `reactor`); `session` runs
  // on_quiet_readable() when the socket becomes readable or the wait is
  // cancelled (its error then operation_aborted).
  template <typename Socket>
  void start(asio::detail::reactor& reactor, Socket& socket, std::shared_ptr<Session> session);

 private:
  // The reactor's speculative attempt runs while starting: "not yet".
  static status perform(reactor_op* base) {
    return static_cast<QuietWaitOp*>(base)->starting_ ? not_done : done;
  }
  // Defined in session_read.cc. `owner` is null when the io_context is
  // destroyed with the wait queued: the session is let go, not called.
  static void complete(void* owner, asio::detail::scheduler_operation* base, const error_code&,
                       size_t);

  bool starting_ = false;
  std::shared_ptr<Session> session_;
};

// One I/O thread: its io_context, and the deadlines of the sessions living on
// it. Deadlines are not Asio timers: one ticker per thread walks the sessions
// with a deadline armed, so an idle keep-alive connection holds no timer and
// no pending timer operation (memory per connection is a goal; see
// docs/BENCHMARKS.md). A deadline fires at most one tick late. Touched only
// on its own thread, except io.
struct IoThread {
  explicit IoThread(Clock::duration tick)
      : io(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
        reactor(asio::use_service<asio::detail::reactor>(io)),
        ticker(io.get_executor()),
        tick(tick) {}
  // Before io: sessions destroyed with io's pending handlers give blocks back.
  ReadBlockPool blocks;
  // One thread runs it, and every socket on it is only ever used from that
  // thread (other threads post to it): the hint drops Asio's per-socket
  // locks and its waking of other threads. Posting and registering sockets
  // (the acceptor runs on the first thread) stay locked.
  asio::io_context io;
  asio::detail::reactor& reactor;  // io's, for QuietWaitOp
  Timer ticker;
  const Clock::duration tick;
  bool ticking = false;
  // Sessions that armed a deadline; entries of closed or finished sessions
  // are dropped at the next tick.
  std::vector<std::weak_ptr<Session>> watched;
  // Deferred answers handed over by other threads, run in one go: a burst of
  // answers for this thread (a committed batch) costs one post, not one
  // wake-up each. Last: destroyed first, with the sessions its jobs hold.
  std::mutex inbox_mutex;
  std::vector<std::move_only_function<void()>> inbox;

  void start_ticking();
  void on_tick();
  // Thread-safe: runs `job` on this thread, after the jobs already delivered.
  void deliver(std::move_only_function<void()> job) {
    bool first = false;
    {
      std::lock_guard lock(inbox_mutex);
      first = inbox.empty();
      inbox.push_back(std::move(job));
    }
    if (first) asio::post(io, [this] { run_inbox(); });
  }
  void run_inbox() {
    std::vector<std::move_only_function<void()>> jobs;
    {
      std::lock_guard lock(inbox_mutex);
      jobs.swap(inbox);
    }
    for (auto& job : jobs) job();
  }
};

// What every session shares. Server::Impl adds the acceptor and the run loop.
// Member order is destruction order in reverse: the registry outlives the
// io_context (sessions unregister when it destroys their handlers) and the
// handler pool is joined before the io_context goes.
class ServerCore {
 public:
  using Registry = std::list<std::weak_ptr<Session>>;

  ServerCore(const Router& router, ServerOptions options);

  const Router& router() const { return router_; }
  const ServerOptions& options() const { return options_; }
  // The first also runs the acceptor.
  std::vector<std::unique_ptr<IoThread>>& io_threads() { return io_threads_; }
  // The thread the next connection lives on, in turn.
  IoThread& next_io_thread() {
    return *io_threads_[next_io_thread_.fetch_add(1) % io_threads_.size()];
  }
  asio::thread_pool& handler_pool() { return *handler_pool_; }

  std::string next_request_id() {
    return request_id_prefix_ + std::to_string(request_counter_.fetch_add(1) + 1);
  }

  bool try_acquire_handler_job() {
    if (handler_jobs_.fetch_add(1) < options_.handler_jobs_max) return true;
    release_handler_job();
    return false;
  }
  void release_handler_job() {
    handler_jobs_.fetch_sub(1);
    handler_jobs_.notify_all();
  }
  // Shutdown: waits until every handler job is done, deferred answers included.
  void wait_for_no_handler_jobs() {
    for (uint32_t jobs = handler_jobs_.load(); jobs != 0; jobs = handler_jobs_.load())
      handler_jobs_.wait(jobs);
  }

  // Calls the handler; afterwards deletes the spool file unless the handler moved it.
  Response run_handler(const Route& route, Request& request) const {
    std::optional<std::filesystem::path> spool_path;
    if (request.spooled) spool_path = request.spooled->path;
    Response response = router_.invoke(route, request);
    if (spool_path) {
      std::error_code ignored;
      std::filesystem::remove(*spool_path, ignored);
    }
    return response;
  }
  // The same for a deferred route: the spool file goes when the handler returns.
  void run_deferred(const Route& route, Request& request, Responder responder) const {
    std::optional<std::filesystem::path> spool_path;
    if (request.spooled) spool_path = request.spooled->path;
    router_.invoke_deferred(route, request, std::move(responder));
    if (spool_path) {
      std::error_code ignored;
      std::filesystem::remove(*spool_path, ignored);
    }
  }

  Registry::iterator add_session(std::weak_ptr<Session> session) {
    std::lock_guard lock(sessions_mutex_);
    return sessions_.insert(sessions_.end(), std::move(session));
  }
  void remove_session(Registry::iterator it) {
    std::lock_guard lock(sessions_mutex_);
    sessions_.erase(it);
    if (sessions_.empty()) sessions_empty_.notify_all();
  }
  size_t session_count() {
    std::lock_guard lock(sessions_mutex_);
    return sessions_.size();
  }
  std::vector<std::shared_ptr<Session>> sessions() {
    std::lock_guard lock(sessions_mutex_);
    std::vector<std::shared_ptr<Session>> live;
    for (const auto& weak : sessions_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
    return live;
  }
  bool wait_for_no_sessions(Clock::time_point deadline) {
    std::unique_lock lock(sessions_mutex_);
    return sessions_empty_.wait_until(lock, deadline, [&] { return sessions_.empty(); });
  }

  // Counts a connection from `address` (its bytes); false, counting
  // nothing, when that address already has connections_per_address_max.
  bool try_count_address(const std::string& address) {
    std::lock_guard lock(addresses_mutex_);
    uint32_t& open = connections_by_address_[address];
    if (open >= options_.connections_per_address_max) return false;
    ++open;
    return true;
  }
  void uncount_address(const std::string& address) {
    std::lock_guard lock(addresses_mutex_);
    auto it = connections_by_address_.find(address);
    DG_ASSERT(it != connections_by_address_.end() && it->second > 0);
    if (--it->second == 0) connections_by_address_.erase(it);
  }

 protected:
  void start_handler_pool() { handler_pool_.emplace(options_.handler_threads); }

 private:
  // Unique per process run: 8 random bytes, then a counter.
  static std::string make_request_id_prefix();

  const Router& router_;
  const ServerOptions options_;
  const std::string request_id_prefix_;
  std::atomic<uint64_t> request_counter_{0};
  std::atomic<uint32_t> handler_jobs_{0};
  std::mutex sessions_mutex_;
  std::condition_variable sessions_empty_;
  Registry sessions_;
  // Open connections by client address (its bytes), for those capped: at
  // most connections_max entries.
  std::mutex addresses_mutex_;
  std::unordered_map<std::string, uint32_t> connections_by_address_;
  std::vector<std::unique_ptr<IoThread>> io_threads_;
  std::atomic<uint32_t> next_io_thread_{0};
  std::optional<asio::thread_pool> handler_pool_;
};

// One request and its response, from header to last byte.
struct Exchange {
  Exchange() = default;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  // Safety net: on_done is owed exactly once, even if the session vanished.
  ~Exchange() {
    release_file();
    if (!finished && response && response->on_done) response->on_done(false, body_bytes_sent);
  }

  // Copied out of the request before it moves to the handler: the access log needs them.
  std::string method;
  std::string path;  // raw, without the query (which may hold a token)
  std::string request_id;
  const Route* route = nullptr;
  Clock::time_point started = Clock::now();
  bool head = false;
  bool keep_alive = false;
  bool expects_continue = false;
  bool continue_sent = false;
  bool dispatched = false;
  bool credentials_presented = false;  // a 401 then says the credential was refused
  uint64_t body_bytes_max = 0;
  unsigned log_status = 0;  // logged when no response exists (e.g. 408)

  Request request;  // until dispatched
  std::optional<Response> response;

  // The header as it goes on the wire (its unsent rest, once sending began),
  // and a body held in memory, which goes out with it: `body_view` is a
  // string body (moved into body_text) or the range of a FileBody's bytes
  // (held by body_bytes).
  std::string head_text;
  std::string body_text;
  std::shared_ptr<const std::string> body_bytes;
  asio::const_buffer body_view;
  bool close_after = false;
  // A FileBody or SegmentedBody is sent after the header from `segments` (a
  // FileBody as one file segment); a string body goes out with the header.
  bool segmented = false;
  std::vector<Segment> segments;
  uint64_t segments_bytes = 0;  // their sum: the Content-Length
  size_t segment_index = 0;     // the segment being sent
  // The current file segment, while open: at most one descriptor at a time,
  // ours or borrowed from the FileBody's OpenFile (then `file_shared` holds it).
  int file_fd = -1;
  std::shared_ptr<const OpenFile> file_shared;
  uint64_t file_offset = 0;
  uint64_t file_remaining_bytes = 0;
  uint64_t body_bytes_sent = 0;
  bool finished = false;
  // The header and body go out under TCP_CORK (larger bodies; see
  // head_more_bytes_max): uncork once the body is sent.
  bool corked = false;

  // Whether the body goes out from `segments` after the head: not for HEAD,
  // nor for a status without a body (see status_has_body).
  bool sends_segments() const {
    return segmented && !head && internal::status_has_body(response->status);
  }

  void release_file() {
    if (file_fd >= 0 && !file_shared) ::close(file_fd);
    file_fd = -1;
    file_shared.reset();
  }
};

// The body of the request being read.
struct BodyInProgress {
  std::shared_ptr<Exchange> exchange;
  std::optional<SpoolFile> spool;      // streaming routes
  std::unique_ptr<BodyHasher> hasher;  // streaming routes
  std::unique_ptr<char[]> chunk;       // streaming routes
  size_t offered_bytes = 0;            // room handed to the parser for the current read
};

// Runs a callback the server was given: what it throws is logged and goes no
// further (it must not unwind an I/O thread).
template <typename Callback, typename... Args>
void call_guarded(std::string_view what, Callback& callback, Args&&... args) {
  try {
    callback(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    log::error("callback threw", {{"callback", what}, {"what", e.what()}});
  } catch (...) {
    log::error("callback threw", {{"callback", what}});
  }
}

// A connection. It owns the socket, the read buffer, the deadlines and the
// bounded pipeline of exchanges, answered strictly in arrival order. Reading
// runs ahead of writing by at most pipeline_depth_max exchanges.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ServerCore& server, IoThread& thread, Socket socket)
      : server_(server),
        thread_(thread),
        socket_(std::move(socket)),
        buffer_(limits::connection_read_buffer_bytes_max) {}

  ~Session() {
    if (block_ != nullptr) thread_.blocks.give_back(block_);
    if (registered_) server_.remove_session(registry_it_);
    if (!counted_address_.empty()) server_.uncount_address(counted_address_);
  }

  // The client address this connection counts against (see try_count_address).
  void set_counted_address(std::string address) { counted_address_ = std::move(address); }

  // Registers with the server, then continues on the session's thread.
  void start();

  Executor executor() { return socket_.get_executor(); }

  // Shutdown: no new requests; exchanges already read finish, then the connection closes.
  void drain() {
    if (closed_ || draining_) return;
    draining_ = true;
    accepting_requests_ = false;
    if (queue_.empty()) close();  // idle, or a request only partly arrived
  }

  void force_close() { close(); }

  // For IoThread's tick. False when no deadline is armed (the session leaves
  // the watch list until it arms one again).
  bool watching() const { return read_deadline_ != Clock::time_point::max() || write_watch_armed_; }
  // Runs what is due at `now`.
  void check_deadlines(Clock::time_point now) {
    if (block_ != nullptr && !parking_ && queue_.empty() &&
        now - waiting_since_ >= limits::idle_read_block_hold_max)
      park();
    if (read_deadline_ <= now) {
      read_deadline_ = Clock::time_point::max();
      on_read_deadline();
    }
    if (write_watch_armed_ && write_deadline_ <= now) on_write_deadline();
  }
  bool watched = false;  // in thread_.watched

 private:
  friend class QuietWaitOp;
  enum class ReadState { none, waiting, header, body, paused, lingering };

  // Reading requests (session_read.cc).
  void begin();
  void read_next();
  void wait_readable();
  void wait_quietly();
  void on_quiet_readable(const error_code& ec);
  void on_block_read(const error_code& ec, size_t bytes);
  void park();
  void on_readable(const error_code& ec);
  void read_header();
  void parse_header_bytes();
  void on_header_bytes(const error_code& ec, size_t bytes);
  void on_header_done();
  void refuse_header_too_large();
  void refuse_header(unsigned status, std::string_view detail);
  void begin_exchange();
  bool begin_simple_exchange(std::string_view bytes, bool in_buffer);
  struct HeadInfo;
  std::shared_ptr<Exchange> open_exchange(const HeadInfo& head, Status& target_status);
  std::optional<Response> admit(Exchange& exchange, const Status& target_status,
                                std::optional<uint64_t> content_length);
  void turn_away(const std::shared_ptr<Exchange>& exchange, Response response);
  void start_body(const std::shared_ptr<Exchange>& exchange);
  void read_body_some();
  void on_read_body(error_code ec);
  Status take_body_bytes(size_t used_bytes);
  void fail_body(Response response);
  void finish_body();
  void dispatch(const std::shared_ptr<Exchange>& exchange);
  // For a deferred route: its Responder answers through this thread's inbox.
  Responder responder_for(const std::shared_ptr<Exchange>& exchange);
  void on_handled(const std::shared_ptr<Exchange>& exchange, Response response);
  // Writing responses, in order (session_write.cc).
  void write_next();
  void write_continue(Exchange& front);
  void start_response(Exchange& front);
  void send_head_more(Exchange& front);
  bool send_now(std::array<asio::const_buffer, 2>& buffers, size_t& sent_bytes);
  Status prepare_segments(Exchange& front);
  Status open_file(Exchange& front, const FileBody& file);
  void build_head(Exchange& front);
  void on_write_head(const error_code& ec, size_t bytes);
  void send_body();
  void send_bytes(const std::string& bytes);
  enum class FileProgress { done, suspended, failed };
  FileProgress send_file(uint64_t& turn_bytes);
  void finish_front(bool complete);
  void set_cork(bool on);
  void after_queue_change();
  // The request log line, once per exchange (server.cc).
  void finish_exchange(Exchange& exchange, bool complete);
  // Deadlines and closing (session_timers.cc).
  void arm_read_timer(Clock::time_point deadline);
  void cancel_read_timer();
  void on_read_deadline();
  void watch();
  void arm_write_watch();
  void on_write_deadline();
  void linger_close();
  void linger_read();
  void close();

  bool read_pending() const {
    return read_state_ == ReadState::waiting || read_state_ == ReadState::header ||
           read_state_ == ReadState::body || read_state_ == ReadState::lingering;
  }

  ServerCore& server_;
  IoThread& thread_;
  Socket socket_;
  Clock::time_point read_deadline_ = Clock::time_point::max();  // one for every read phase
  Clock::time_point body_deadline_ = Clock::time_point::max();  // the body's total, never extended
  std::string counted_address_;
  Clock::time_point write_deadline_ = Clock::time_point::max();
  boost::beast::flat_buffer buffer_;
  std::unique_ptr<Parser> parser_;  // only while a request is being read
  std::unique_ptr<BodyInProgress> body_;
  std::vector<std::shared_ptr<Exchange>> queue_;  // at most pipeline_depth_max
  std::string remote_;
  ServerCore::Registry::iterator registry_it_;
  Clock::time_point accepted_at_ = Clock::now();
  ReadState read_state_ = ReadState::none;
  uint64_t read_progress_bytes_ = 0;
  uint64_t read_progress_seen_bytes_ = 0;
  uint64_t write_progress_bytes_ = 0;
  uint64_t write_progress_seen_bytes_ = 0;
  uint64_t linger_bytes_ = 0;
  size_t header_bytes_ = 0;  // of the header being read, parsed so far
  uint32_t requests_read_ = 0;
  bool registered_ = false;
  bool accepting_requests_ = true;
  bool draining_ = false;
  bool writing_ = false;
  bool write_watch_armed_ = false;
  bool lingering_ = false;
  bool unread_input_ = false;  // we refused a request without reading all of it
  bool readable_ = false;      // the socket reported readable and was not read since
  bool closed_ = false;
  // A read posted into a block from thread_.blocks, while waiting for a request.
  char* block_ = nullptr;
  bool parking_ = false;  // that read was cancelled to wait without the block
  Clock::time_point waiting_since_;
  // Set while a handler runs that has just read the socket dry (see
  // QuietWaitOp): until it returns to the event loop, the next wait may be quiet.
  bool drained_ = false;
  QuietWaitOp quiet_wait_;
};

// Marks a read that left the socket dry, for as long as the caller's scope lasts.
class DrainedScope {
 public:
  DrainedScope(bool& drained, bool now) : drained_(drained), before_(drained) { drained_ = now; }
  DrainedScope(const DrainedScope&) = delete;
  DrainedScope& operator=(const DrainedScope&) = delete;
  ~DrainedScope() { drained_ = before_; }

 private:
  bool& drained_;
  bool before_;
};

// The socket's reactor state, which Asio keeps protected.
struct SocketInternals : Socket {
  static auto& of(Socket& socket) {
    return (socket.*(&SocketInternals::impl_)).get_implementation();
  }
};

template <typename SocketType>
void QuietWaitOp::start(asio::detail::reactor& reactor, SocketType& socket,
                        std::shared_ptr<Session> session) {
  auto& impl = SocketInternals::of(socket);
  ec_ = error_code();
  session_ = std::move(session);
  starting_ = true;
  reactor.start_op(asio::detail::reactor::read_op, impl.socket_, impl.reactor_data_, this,
                   /*is_continuation=*/false, /*allow_speculative=*/true);
  starting_ = false;
}

}  // namespace dg::http::internal
