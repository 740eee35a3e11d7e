// Deadlines and closing. Deadlines are not Asio timers: each I/O thread's
// ticker walks the sessions that armed one (see IoThread). A connection ends
// here: at once, or after a lingering close.
#include "http/session_internal.h"

namespace dg::http::internal {

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
// limits::lingering_close_max for why).
void Session::linger_close() {
  lingering_ = true;
  accepting_requests_ = false;
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  arm_read_timer(Clock::now() + limits::lingering_close_max);
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

}  // namespace dg::http::internal
