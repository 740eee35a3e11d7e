// Writing responses, strictly in arrival order: a 100 Continue when due, the
// head (serialize_head) with a body held in memory, then file ranges with
// sendfile(2) and segments in turn.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>

#include "base/spare_string.h"
#include "http/session_internal.h"

namespace dg::http::internal {
namespace {

// A FileBody whose bytes are in memory: it goes out with the header, as a string body does.
bool held_in_memory(const Response& response) {
  const auto* file = std::get_if<FileBody>(&response.body);
  return file != nullptr && file->bytes != nullptr;
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

}  // namespace

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
  // A response held in memory usually fits the socket buffer whole: sent now,
  // it is finished now, not on a later turn of the event loop (Asio queues
  // the completion of a write even when its first attempt sent everything).
  // Not while pipelined requests wait in buffer_: finishing inline resumes
  // reading, and each of them would nest another request here; the queue
  // bounds that nesting (pipeline_depth_max) only when writes complete later.
  if (!sends_segments && buffer_.size() == 0) {
    size_t sent_bytes = 0;
    if (!send_now(buffers, sent_bytes)) return close();
    if (buffers[0].size() + buffers[1].size() == 0) return on_write_head({}, sent_bytes);
    write_progress_bytes_ += sent_bytes;  // the rest goes the asynchronous way
  }
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

// One non-blocking sendmsg(2) of `buffers`, which are advanced past what it
// sent (`sent_bytes`; none when the socket buffer is full). False when the
// connection failed (EPIPE, ECONNRESET), as an asynchronous write would report.
bool Session::send_now(std::array<asio::const_buffer, 2>& buffers, size_t& sent_bytes) {
  std::array<iovec, 2> parts;
  for (size_t i = 0; i < parts.size(); ++i)
    parts[i] = {const_cast<void*>(buffers[i].data()), buffers[i].size()};
  msghdr message{};
  message.msg_iov = parts.data();
  message.msg_iovlen = parts.size();
  ssize_t sent;
  do {
    sent = ::sendmsg(socket_.native_handle(), &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  sent_bytes = static_cast<size_t>(sent);
  size_t left_bytes = sent_bytes;
  for (asio::const_buffer& buffer : buffers) {
    const size_t taken_bytes = std::min(left_bytes, buffer.size());
    buffer += taken_bytes;
    left_bytes -= taken_bytes;
  }
  return true;
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
// limits::sendfile_bytes_per_turn_max (counted across segments) we yield the thread to
// other connections. Both continue in send_body().
Session::FileProgress Session::send_file(uint64_t& turn_bytes) {
  Exchange& front = *queue_.front();
  while (front.file_remaining_bytes > 0) {
    if (turn_bytes >= limits::sendfile_bytes_per_turn_max) {
      asio::post(executor(), [self = shared_from_this()] {
        if (!self->closed_) self->send_body();
      });
      return FileProgress::suspended;
    }
    off_t offset = static_cast<off_t>(front.file_offset);
    size_t want = static_cast<size_t>(
        std::min(front.file_remaining_bytes, limits::sendfile_bytes_per_turn_max - turn_bytes));
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

}  // namespace dg::http::internal
