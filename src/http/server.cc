// The HTTP/1.1 server: Beast parses and serialises, Asio runs the sockets.
// All of the module's Asio and Beast template code lives in this one
// translation unit (CI builds on two cores); routing, responses and Range
// parsing live in light units.
//
// Threads: each of the `io_threads` runs its own io_context, and each
// connection lives on one of them (handed out in turn as connections are
// accepted), so a session's state is only ever touched by its thread: no
// strands, no locks on the hot path, and less memory per connection. Blocking
// handlers run on a separate pool and post their Response back to the
// session's io_context.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <future>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/assert.h"
#include "base/encoding.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/spare_string.h"
#include "http/http.h"
#include "http/internal.h"
#include "http/read_blocks.h"
#include "http/request_head.h"
#include "http/response_head.h"
#include "http/spool.h"

namespace dg::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using SignalSet = asio::basic_signal_set<Executor>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;
using Parser = bhttp::request_parser<bhttp::buffer_body>;

// The read buffer's ceiling: a whole header plus room for body reads. Beast
// reads at most this much at once, so an active connection holds at most this.
constexpr size_t read_buffer_bytes_max = limits::request_header_bytes_max + 16 * 1024;
// Body bytes handed to the spool file (and the hasher) per read.
constexpr size_t body_chunk_bytes = 64 * 1024;
// A fast client must not starve the other connections on its I/O thread.
constexpr uint64_t sendfile_bytes_per_turn = 4 * 1024 * 1024;
// One-file bodies up to this size go out behind a MSG_MORE header; larger
// ones under TCP_CORK, which keeps every packet of a long transfer full.
constexpr uint64_t head_more_bytes_max = 1024 * 1024;
// Header bytes read per receive: small, since most headers are.
constexpr size_t header_read_bytes = 4096;
// A connection waiting for its next request waits with a read posted into a
// block (no system call until the request comes) for this long; then it
// gives the block back and waits without one (see ReadBlockPool).
constexpr auto park_after = std::chrono::seconds(1);
constexpr size_t log_path_bytes_max = 1024;
constexpr size_t linger_read_bytes = 4096;
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);
// After the grace period, how long to wait for force-closed sessions to unwind.
constexpr auto force_close_unwind_max = std::chrono::seconds(2);
constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

using internal::equals_ignoring_case;

class Session;

// One I/O thread: its io_context, and the deadlines of the sessions living on
// it. Deadlines are not Asio timers: one ticker per thread walks the sessions
// with a deadline armed, so an idle keep-alive connection holds no timer and
// no pending timer operation (memory per connection is a goal; see
// docs/BENCHMARKS.md). A deadline fires at most one tick late. Touched only
// on its own thread, except io.
struct IoThread {
  explicit IoThread(Clock::duration tick)
      : io(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO), ticker(io.get_executor()), tick(tick) {}
  // Before io: sessions destroyed with io's pending handlers give blocks back.
  ReadBlockPool blocks;
  // One thread runs it, and every socket on it is only ever used from that
  // thread (other threads post to it): the hint drops Asio's per-socket
  // locks and its waking of other threads. Posting and registering sockets
  // (the acceptor runs on the first thread) stay locked.
  asio::io_context io;
  Timer ticker;
  const Clock::duration tick;
  bool ticking = false;
  // Sessions that armed a deadline; entries of closed or finished sessions
  // are dropped at the next tick.
  std::vector<std::weak_ptr<Session>> watched;

  void start_ticking();
  void on_tick();
};

// A tick a tenth of the shortest timeout, within [5 ms, 250 ms].
Clock::duration deadline_tick(const ServerOptions& o) {
  auto shortest = std::min({o.header_read_timeout, o.body_read_timeout, o.body_time_floor,
                            o.idle_keep_alive_timeout, o.send_stall_timeout,
                            std::chrono::milliseconds(limits::lingering_close_ms_max)});
  return std::clamp<Clock::duration>(shortest / 10, std::chrono::milliseconds(5),
                                     std::chrono::milliseconds(250));
}

// What every session shares. Server::Impl adds the acceptor and the run loop.
// Member order is destruction order in reverse: the registry outlives the
// io_context (sessions unregister when it destroys their handlers) and the
// handler pool is joined before the io_context goes.
class ServerCore {
 public:
  using Registry = std::list<std::weak_ptr<Session>>;

  ServerCore(const Router& router, ServerOptions options)
      : router_(router),
        options_(std::move(options)),
        request_id_prefix_(make_request_id_prefix()) {
    uint32_t threads = options_.io_threads > 0 ? options_.io_threads
                                               : std::max(1u, std::thread::hardware_concurrency());
    for (uint32_t i = 0; i < threads; ++i) {
      io_threads_.push_back(std::make_unique<IoThread>(deadline_tick(options_)));
    }
  }

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
    handler_jobs_.fetch_sub(1);
    return false;
  }
  void release_handler_job() { handler_jobs_.fetch_sub(1); }

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
  static std::string make_request_id_prefix() {
    uint8_t bytes[8] = {};
    if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
      uint64_t fallback = static_cast<uint64_t>(Clock::now().time_since_epoch().count());
      std::memcpy(bytes, &fallback, sizeof bytes);
    }
    return hex_encode(bytes) + "-";
  }

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

bool is_http_error(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category();
}

// A FileBody whose bytes are in memory: it goes out with the header, as a string body does.
bool held_in_memory(const Response& response) {
  const auto* file = std::get_if<FileBody>(&response.body);
  return file != nullptr && file->bytes != nullptr;
}

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

// A file segment needs a regular file that holds its whole range.
Status check_file_range(const struct stat& info, const FileBody& file) {
  uint64_t size_bytes = static_cast<uint64_t>(info.st_size);
  if (!S_ISREG(info.st_mode) || file.offset > size_bytes ||
      file.length > size_bytes - file.offset) {
    return Status(Code::corruption,
                  file.path.string() + " is not a regular file of the size expected");
  }
  return Status::ok_status();
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
        buffer_(read_buffer_bytes_max) {}

  ~Session() {
    if (block_ != nullptr) thread_.blocks.give_back(block_);
    if (registered_) server_.remove_session(registry_it_);
    if (!counted_address_.empty()) server_.uncount_address(counted_address_);
  }

  // The client address this connection counts against (see try_count_address).
  void set_counted_address(std::string address) { counted_address_ = std::move(address); }

  // Registers with the server, then continues on the session's thread.
  void start() {
    registry_it_ = server_.add_session(weak_from_this());
    registered_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->begin(); });
  }

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
    if (block_ != nullptr && !parking_ && queue_.empty() && now - waiting_since_ >= park_after)
      park();
    if (read_deadline_ <= now) {
      read_deadline_ = Clock::time_point::max();
      on_read_deadline();
    }
    if (write_watch_armed_ && write_deadline_ <= now) on_write_deadline();
  }
  bool watched = false;  // in thread_.watched

 private:
  enum class ReadState { none, waiting, header, body, paused, lingering };

  void begin();
  // Reading requests.
  void read_next();
  void wait_readable();
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
  void refuse(const std::shared_ptr<Exchange>& exchange, Response response);
  void start_body(const std::shared_ptr<Exchange>& exchange);
  void read_body_some();
  void on_read_body(error_code ec);
  Status take_body_bytes(size_t used_bytes);
  void fail_body(Response response);
  void finish_body();
  void dispatch(const std::shared_ptr<Exchange>& exchange);
  void on_handled(const std::shared_ptr<Exchange>& exchange, Response response);
  // Writing responses, in order.
  void write_next();
  void write_continue(Exchange& front);
  void start_response(Exchange& front);
  void send_head_more(Exchange& front);
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
  void finish_exchange(Exchange& exchange, bool complete);
  // Deadlines and closing.
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
};

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

// --- Reading requests.

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

// Idle for park_after: the read into the block is cancelled, and its handler
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
    if (ec != asio::error::would_block) return on_header_bytes(ec, bytes);
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
  refuse(exchange, internal::server_problem(status, detail));
}

// What a request's head says that the exchange keeps, from either parser.
struct Session::HeadInfo {
  Verb method;
  std::string_view method_text;
  std::string_view target;
  bool keep_alive;
  bool expects_continue;
  std::string_view offered_request_id;
};

// A new exchange for a head, its request filled except for the headers.
// Copies what it keeps: the head's bytes may go once it returns.
std::shared_ptr<Exchange> Session::open_exchange(const HeadInfo& head, Status& target_status) {
  auto exchange = std::make_shared<Exchange>();
  exchange->method = std::string(head.method_text);
  exchange->head = head.method == Verb::head;
  exchange->keep_alive = head.keep_alive;
  exchange->expects_continue = head.expects_continue;
  exchange->path =
      std::string(head.target.substr(0, std::min(head.target.find('?'), log_path_bytes_max)));
  exchange->request_id = internal::is_sane_request_id(head.offered_request_id)
                             ? std::string(head.offered_request_id)
                             : server_.next_request_id();
  Request& request = exchange->request;
  request.method = head.method;
  request.request_id = exchange->request_id;
  request.remote_address = remote_;
  target_status = parse_target(head.target, request);
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
    return refuse(exchange, std::move(*head_refusal));
  }
  if (!exchange->keep_alive) accepting_requests_ = false;

  std::optional<uint64_t> content_length;
  if (boost::optional<uint64_t> length = parser_->content_length()) content_length = *length;
  if (std::optional<Response> refusal = admit(*exchange, target_status, content_length)) {
    return refuse(exchange, std::move(*refusal));
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
       head.field("X-Request-Id")},
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
    // As refuse(), but the request was read whole (it has no body): the
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
void Session::refuse(const std::shared_ptr<Exchange>& exchange, Response response) {
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
      return refuse(exchange, internal::server_problem(500, "the server cannot store uploads"));
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
  refuse(exchange, std::move(response));
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
  if (!route.options.blocking) return on_handled(exchange, server_.run_handler(route, request));
  if (!server_.try_acquire_handler_job()) {
    if (request.spooled) {
      std::error_code ignored;
      std::filesystem::remove(request.spooled->path, ignored);
    }
    Response busy = internal::server_problem(503, "the server is busy; retry shortly");
    busy.headers.set(Field::retry_after, "1");
    return on_handled(exchange, std::move(busy));
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

void Session::on_handled(const std::shared_ptr<Exchange>& exchange, Response response) {
  internal::add_problem_instance(response, exchange->request_id);
  internal::add_bearer_error(response, exchange->credentials_presented);
  exchange->response = std::move(response);
  if (closed_) return finish_exchange(*exchange, false);
  write_next();
}

// --- Writing responses.

void Session::write_next() {
  if (closed_ || writing_ || queue_.empty()) return;
  Exchange& front = *queue_.front();
  if (!front.response) return write_continue(front);
  start_response(front);
}

// "100 Continue" for the exchange whose body we are about to read, once it is
// at the head of the line (a refusal instead spares the client the upload).
void Session::write_continue(Exchange& front) {
  if (!front.expects_continue || front.continue_sent || body_ == nullptr ||
      body_->exchange.get() != &front) {
    return;
  }
  front.continue_sent = true;
  writing_ = true;
  arm_write_watch();
  asio::async_write(socket_, asio::buffer(continue_line.data(), continue_line.size()),
                    [self = shared_from_this()](const error_code& ec, size_t bytes) {
                      if (self->closed_) return;
                      self->writing_ = false;
                      self->write_progress_bytes_ += bytes;
                      if (ec) return self->close();
                      self->write_next();
                    });
}

void Session::start_response(Exchange& front) {
  // The last response before shutdown says so; nothing is read after it.
  front.close_after = !front.keep_alive || (draining_ && queue_.size() == 1);
  if (front.close_after) accepting_requests_ = false;
  if (!std::holds_alternative<std::string>(front.response->body) &&
      !held_in_memory(*front.response)) {
    Status prepared = prepare_segments(front);
    if (!prepared.ok()) {
      log::error("file body", {{"request_id", front.request_id}, {"error", prepared.to_string()}});
      // The body was not delivered: settle on_done now, then send the problem.
      auto on_done = std::move(front.response->on_done);
      if (on_done) call_guarded("on_done", on_done, false, uint64_t{0});
      front.release_file();
      front.segmented = false;
      front.segments.clear();
      *front.response = internal::server_problem(500, "the file is unavailable");
      internal::add_problem_instance(*front.response, front.request_id);
    }
  }
  build_head(front);
  bool sends_segments = front.sends_segments() && front.segments_bytes > 0;
  writing_ = true;
  arm_write_watch();
  if (sends_segments && front.segments.size() == 1 && front.segments_bytes <= head_more_bytes_max) {
    return send_head_more(front);
  }
  // The header and the body's start share packets (as nginx's tcp_nopush).
  if (sends_segments) set_cork(front.corked = true);
  std::array<asio::const_buffer, 2> buffers = {asio::buffer(front.head_text), front.body_view};
  asio::async_write(socket_, buffers,
                    [self = shared_from_this()](const error_code& ec, size_t bytes) {
                      self->on_write_head(ec, bytes);
                    });
}

// A one-file body (a small download): the header goes out with MSG_MORE, so
// it leaves in the same packet as the file's start, and sendfile(2) follows
// at once. Two system calls for a small file, where TCP_CORK would take four.
void Session::send_head_more(Exchange& front) {
  ssize_t sent = ::send(socket_.native_handle(), front.head_text.data(), front.head_text.size(),
                        MSG_NOSIGNAL | MSG_MORE);
  if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return close();
  size_t sent_bytes = sent > 0 ? static_cast<size_t>(sent) : 0;
  if (sent_bytes == front.head_text.size()) {
    give_back_spare_string(front.head_text);
    return on_write_head({}, sent_bytes);
  }
  // The socket buffer is full: the rest goes the asynchronous way.
  write_progress_bytes_ += sent_bytes;
  front.head_text.erase(0, sent_bytes);
  asio::async_write(socket_, asio::buffer(front.head_text),
                    [self = shared_from_this()](const error_code& ec, size_t bytes) {
                      self->on_write_head(ec, bytes);
                    });
}

// Turns a FileBody or SegmentedBody into the exchange's segments and checks,
// before the status line goes out, that every file holds its range, so a
// missing or short file becomes a 500 instead of a truncated 200. A file that
// comes first is opened now (a FileBody's only one); later ones are checked
// with stat(2) and opened in turn.
Status Session::prepare_segments(Exchange& front) {
  Response& response = *front.response;
  if (auto* file = std::get_if<FileBody>(&response.body)) {
    front.segments.emplace_back(std::move(*file));
  } else {
    front.segments = std::move(std::get<SegmentedBody>(response.body).segments);
  }
  response.body = std::string();
  front.segmented = true;
  uint64_t total_bytes = 0;
  for (size_t i = 0; i < front.segments.size(); ++i) {
    uint64_t segment_bytes = 0;
    if (auto* file = std::get_if<FileBody>(&front.segments[i]); file && file->bytes) {
      // A file held in memory among others: its range is copied (a rare case; a
      // lone one goes out with the header, see start_response).
      DG_ASSERT(file->offset <= file->bytes->size() &&
                file->length <= file->bytes->size() - file->offset);
      front.segments[i] = std::string(*file->bytes, file->offset, file->length);
    }
    if (const auto* file = std::get_if<FileBody>(&front.segments[i])) {
      if (i == 0) {
        DG_RETURN_IF_ERROR(open_file(front, *file));
      } else {
        struct stat info {};
        if (::stat(file->path.c_str(), &info) != 0) {
          return Status(Code::io_error, "stat " + file->path.string() + ": " + strerror(errno));
        }
        DG_RETURN_IF_ERROR(check_file_range(info, *file));
      }
      segment_bytes = file->length;
    } else {
      segment_bytes = std::get<std::string>(front.segments[i]).size();
    }
    if (segment_bytes > UINT64_MAX - total_bytes) {
      return Status(Code::invalid_argument, "the body's segments add up to more than 2^64 bytes");
    }
    total_bytes += segment_bytes;
  }
  front.segments_bytes = total_bytes;
  return Status::ok_status();
}

// Opens a file segment: the file must still hold the range.
Status Session::open_file(Exchange& front, const FileBody& file) {
  DG_ASSERT(front.file_fd < 0);
  if (file.open) {  // opened and checked by whoever gave it
    front.file_shared = file.open;
    front.file_fd = file.open->fd();
    front.file_offset = file.offset;
    front.file_remaining_bytes = file.length;
    return Status::ok_status();
  }
  int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(Code::io_error, "open " + file.path.string() + ": " + strerror(errno));
  struct stat info {};
  Status checked =
      ::fstat(fd, &info) == 0
          ? check_file_range(info, file)
          : Status(Code::io_error, "fstat " + file.path.string() + ": " + strerror(errno));
  if (!checked.ok()) {
    ::close(fd);
    return checked;
  }
  front.file_fd = fd;
  front.file_offset = file.offset;
  front.file_remaining_bytes = file.length;
  return Status::ok_status();
}

// The head (serialize_head) and what goes out with it: a body held in memory
// (`body_view`: a string body moved into body_text, or the range of a
// FileBody's bytes held by body_bytes), unless the request was HEAD or the
// status has none.
void Session::build_head(Exchange& front) {
  Response& response = *front.response;
  const bool sends_body = !front.head && internal::status_has_body(response.status);
  uint64_t content_length = 0;
  if (front.segmented) {
    content_length = front.segments_bytes;
  } else if (auto* file = std::get_if<FileBody>(&response.body)) {
    // Held in memory (prepare_segments took any other FileBody).
    DG_ASSERT(file->bytes && file->offset <= file->bytes->size() &&
              file->length <= file->bytes->size() - file->offset);
    content_length = file->length;
    if (sends_body) {
      front.body_view = asio::buffer(file->bytes->data() + file->offset, file->length);
      front.body_bytes = std::move(file->bytes);
    }
  } else {
    std::string& text = std::get<std::string>(response.body);
    content_length = text.size();
    if (sends_body) {
      front.body_text = std::move(text);
      front.body_view = asio::buffer(front.body_text);
    }
  }
  take_spare_string(front.head_text);  // given back once sent
  front.head_text.reserve(384);
  internal::serialize_head(
      response, {internal::http_date_now(), front.request_id, front.close_after, content_length},
      front.head_text);
}

void Session::on_write_head(const error_code& ec, size_t bytes) {
  if (closed_) return;
  if (ec) return close();
  write_progress_bytes_ += bytes;
  Exchange& front = *queue_.front();
  front.body_bytes_sent = front.body_view.size();
  give_back_spare_string(front.head_text);
  std::string().swap(front.body_text);
  front.body_bytes.reset();
  front.body_view = {};
  if (front.sends_segments()) return send_body();
  finish_front(true);
}

// Sends the segments in order, resuming where the last call stopped: bytes
// held in memory with async_write, file ranges with send_file(). Every
// asynchronous step comes back here.
void Session::send_body() {
  Exchange& front = *queue_.front();
  uint64_t turn_bytes = 0;
  while (front.segment_index < front.segments.size()) {
    const Segment& segment = front.segments[front.segment_index];
    if (const auto* bytes = std::get_if<std::string>(&segment)) {
      if (!bytes->empty()) return send_bytes(*bytes);
      ++front.segment_index;
      continue;
    }
    const FileBody& file = std::get<FileBody>(segment);
    if (front.file_fd < 0 && file.length > 0) {
      Status opened = open_file(front, file);
      if (!opened.ok()) {
        // The status line is gone: all that is left is to cut the body short.
        log::error("file segment",
                   {{"request_id", front.request_id}, {"error", opened.to_string()}});
        return close();
      }
    }
    if (front.file_remaining_bytes > 0) {
      FileProgress progress = send_file(turn_bytes);
      if (progress != FileProgress::done) return;  // suspended: it comes back; failed: closed
    }
    front.release_file();
    ++front.segment_index;
  }
  if (front.corked) set_cork(false);
  finish_front(true);
}

void Session::send_bytes(const std::string& bytes) {
  // The exchange owns the bytes; holding it keeps them alive until the write ends.
  asio::async_write(
      socket_, asio::buffer(bytes),
      [self = shared_from_this(), exchange = queue_.front()](const error_code& ec, size_t written) {
        if (self->closed_) return;
        self->write_progress_bytes_ += written;
        exchange->body_bytes_sent += written;
        if (ec) return self->close();
        ++exchange->segment_index;
        self->send_body();
      });
}

// Sends the open file segment straight from the page cache. The socket is
// non-blocking: on EAGAIN we wait for writability and continue; after
// sendfile_bytes_per_turn (counted across segments) we yield the thread to
// other connections. Both continue in send_body().
Session::FileProgress Session::send_file(uint64_t& turn_bytes) {
  Exchange& front = *queue_.front();
  while (front.file_remaining_bytes > 0) {
    if (turn_bytes >= sendfile_bytes_per_turn) {
      asio::post(executor(), [self = shared_from_this()] {
        if (!self->closed_) self->send_body();
      });
      return FileProgress::suspended;
    }
    off_t offset = static_cast<off_t>(front.file_offset);
    size_t want = static_cast<size_t>(
        std::min(front.file_remaining_bytes, sendfile_bytes_per_turn - turn_bytes));
    ssize_t sent = ::sendfile(socket_.native_handle(), front.file_fd, &offset, want);
    if (sent > 0) {
      front.file_offset += static_cast<uint64_t>(sent);
      front.file_remaining_bytes -= static_cast<uint64_t>(sent);
      front.body_bytes_sent += static_cast<uint64_t>(sent);
      write_progress_bytes_ += static_cast<uint64_t>(sent);
      turn_bytes += static_cast<uint64_t>(sent);
    } else if (sent < 0 && errno == EINTR) {
      continue;
    } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      socket_.async_wait(tcp::socket::wait_write,
                         [self = shared_from_this()](const error_code& ec) {
                           if (self->closed_) return;
                           if (ec) return self->close();
                           self->send_body();
                         });
      return FileProgress::suspended;
    } else {
      // 0: the file shrank under us; < 0: the client is gone (EPIPE, ECONNRESET).
      if (sent == 0) log::error("file shrank while being sent", {{"request_id", front.request_id}});
      close();
      return FileProgress::failed;
    }
  }
  return FileProgress::done;
}

// TCP_CORK holds partial segments until uncorked, so a small file leaves in
// the same packet as its header instead of right behind it (as nginx's tcp_nopush).
void Session::set_cork(bool on) {
  int value = on ? 1 : 0;
  ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_CORK, &value, sizeof value);
}

void Session::finish_front(bool complete) {
  std::shared_ptr<Exchange> done = std::move(queue_.front());
  queue_.erase(queue_.begin());
  writing_ = false;
  finish_exchange(*done, complete);
  if (done->close_after) {
    error_code ec;
    bool input_pending = unread_input_ || buffer_.size() > 0 || socket_.available(ec) > 0;
    return input_pending ? linger_close() : close();
  }
  after_queue_change();
}

void Session::after_queue_change() {
  if (queue_.empty() && (draining_ || (!accepting_requests_ && !read_pending()))) return close();
  if (read_state_ == ReadState::paused) {
    read_next();
  } else if (queue_.empty() && read_state_ == ReadState::waiting) {
    arm_read_timer(Clock::now() + server_.options().idle_keep_alive_timeout);
    buffer_.shrink_to_fit();
  }
  write_next();
}

// The access log line, the metrics hook and on_done: once per exchange.
void Session::finish_exchange(Exchange& exchange, bool complete) {
  if (exchange.finished) return;
  exchange.finished = true;
  exchange.release_file();
  unsigned status = exchange.response ? exchange.response->status : exchange.log_status;
  auto duration =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - exchange.started);
  std::string_view route = exchange.route ? std::string_view(exchange.route->options.name) : "";
  // Built in place: this line is written for every request.
  log::Line(log::Level::info, "request")
      .add("method", exchange.method)
      .add("route", route)
      .add("path", exchange.path)
      .add("status", status)
      .add("bytes", exchange.body_bytes_sent)
      .add("complete", complete)
      .add("duration_us", duration.count())
      .add("request_id", exchange.request_id)
      .add("remote", remote_)
      .write();
  if (server_.options().on_request) {
    call_guarded("on_request", server_.options().on_request, route, status, duration);
  }
  if (exchange.response && exchange.response->on_done) {
    auto on_done = std::move(exchange.response->on_done);
    exchange.response->on_done = nullptr;
    call_guarded("on_done", on_done, complete && !exchange.head, exchange.body_bytes_sent);
  }
}

// --- Deadlines and closing.

// One deadline serves every read phase. IoThread's tick calls
// on_read_deadline() once it passed, having disarmed it.
void Session::arm_read_timer(Clock::time_point deadline) {
  read_deadline_ = deadline;
  watch();
}

void Session::cancel_read_timer() {
  read_deadline_ = Clock::time_point::max();
}

void Session::watch() {
  if (!watched) {
    watched = true;
    thread_.watched.push_back(weak_from_this());
  }
  thread_.start_ticking();
}

void Session::on_read_deadline() {
  if (closed_) return;
  if (lingering_) return close();
  if (read_state_ == ReadState::waiting && queue_.empty()) return close();  // idle keep-alive over
  if (read_state_ == ReadState::header) {
    // Slow or stalled header (slowloris): log it like a request, then hang up.
    log::info("request", {{"status", 408},
                          {"error", "header timeout"},
                          {"bytes_received", buffer_.size()},
                          {"remote", remote_}});
    return close();
  }
  if (read_state_ == ReadState::body) {
    const Clock::time_point now = Clock::now();
    if (now < body_deadline_ && read_progress_bytes_ != read_progress_seen_bytes_) {
      // Still arriving: the stall check moves on, the body's total does not.
      read_progress_seen_bytes_ = read_progress_bytes_;
      return arm_read_timer(std::min(now + server_.options().body_read_timeout, body_deadline_));
    }
    log::info("request", {{"status", 408},
                          {"error", now < body_deadline_ ? "body stalled" : "body too slow"},
                          {"remote", remote_}});
    body_->exchange->log_status = 408;
    return close();
  }
}

// Re-armed only while a write makes progress: one check per
// send_stall_timeout rather than one per write.
void Session::arm_write_watch() {
  if (write_watch_armed_) return;
  write_watch_armed_ = true;
  write_progress_seen_bytes_ = write_progress_bytes_;
  write_deadline_ = Clock::now() + server_.options().send_stall_timeout;
  watch();
}

void Session::on_write_deadline() {
  write_watch_armed_ = false;
  if (closed_ || !writing_) return;
  if (write_progress_bytes_ != write_progress_seen_bytes_) return arm_write_watch();
  log::info("send stalled; closing", {{"remote", remote_}});
  close();
}

void IoThread::start_ticking() {
  if (ticking) return;
  ticking = true;
  ticker.expires_after(tick);
  ticker.async_wait([this](const error_code& ec) {
    ticking = false;
    if (!ec) on_tick();
  });
}

void IoThread::on_tick() {
  const Clock::time_point now = Clock::now();
  std::vector<std::shared_ptr<Session>> live;
  live.reserve(watched.size());
  for (const auto& weak : watched) {
    auto session = weak.lock();
    if (!session) continue;
    if (session->watching()) {
      live.push_back(std::move(session));
    } else {
      session->watched = false;
    }
  }
  watched.clear();
  for (const auto& session : live) watched.push_back(session);
  // Sessions may arm, disarm or close here; any they add is checked next tick.
  for (const auto& session : live) session->check_deadlines(now);
  if (!watched.empty()) start_ticking();
}

// After a response with "Connection: close": stop sending, then read and drop
// what the client still sends for a bounded time before closing (see
// limits::lingering_close_ms_max for why).
void Session::linger_close() {
  lingering_ = true;
  accepting_requests_ = false;
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  arm_read_timer(Clock::now() + std::chrono::milliseconds(limits::lingering_close_ms_max));
  if (!read_pending()) linger_read();  // else the pending read's handler comes here
}

void Session::linger_read() {
  read_state_ = ReadState::lingering;
  buffer_.consume(buffer_.size());
  if (linger_bytes_ >= limits::lingering_close_bytes_max) return close();
  socket_.async_read_some(buffer_.prepare(linger_read_bytes),
                          [self = shared_from_this()](const error_code& ec, size_t bytes) {
                            if (self->closed_) return;
                            if (ec) return self->close();
                            self->linger_bytes_ += bytes;
                            self->buffer_.commit(bytes);
                            self->linger_read();
                          });
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  read_state_ = ReadState::none;
  error_code ignored;
  socket_.close(ignored);
  read_deadline_ = Clock::time_point::max();
  write_watch_armed_ = false;
  body_.reset();  // deletes a half-received spool file
  parser_.reset();
  for (const auto& exchange : queue_) {
    // Dispatched exchanges without a response finish when the handler returns.
    if (exchange->response || !exchange->dispatched) finish_exchange(*exchange, false);
  }
  queue_.clear();
}

// --- Accepting.

}  // namespace

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
  if (options.header_read_timeout > std::chrono::milliseconds(limits::request_head_ms_max) ||
      options.body_time_floor > std::chrono::milliseconds(limits::request_body_ms_floor) ||
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
    accept_retry_timer->expires_after(accept_retry_delay);
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
  // Refused without an answer, as above: writing one would cost the memory
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
  // Blocking handlers cannot be interrupted; their sessions drop the results.
  handler_pool().join();
  wait_for_no_sessions(Clock::now() + force_close_unwind_max);
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
