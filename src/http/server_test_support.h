// What the Server's tests share (server_*_test.cc): a real Server on
// 127.0.0.1, driven through plain POSIX sockets so the test sees exactly the
// bytes on the wire. Nothing here asserts on timing: waits are bounded only
// so that a bug fails the test instead of hanging it.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "base/encoding.h"
#include "base/limits.h"
#include "crypto/sha256.h"
#include "http/http.h"

// Named rather than anonymous: each test file includes it, and uses only
// part of it.
namespace dg::http::server_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline constexpr auto wait_max = 20s;  // generous: only a bug takes this long

inline std::string sha256_hex(std::string_view bytes) {
  return hex_encode(crypto::sha256(as_bytes(bytes)));
}

class Sha256Hasher final : public BodyHasher {
 public:
  void update(std::span<const uint8_t> bytes) override { sha_.update(bytes); }
  std::string finish_hex() override { return hex_encode(sha_.finish()); }

 private:
  crypto::Sha256 sha_;
};

struct HttpResponse {
  unsigned status = 0;
  std::string head_text;                       // as received, up to the blank line
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// A blocking HTTP/1.1 client on a raw socket, with a receive timeout.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{static_cast<time_t>(wait_max.count()), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Sends everything; false when the server closed or reset the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(sent));
    }
    return true;
  }

  // Reads one response; nullopt when the connection ended first.
  std::optional<HttpResponse> read_response(bool head = false) {
    size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    HttpResponse response;
    std::string head_text = buffer_.substr(0, header_end);
    buffer_.erase(0, header_end + 4);
    size_t line_end = head_text.find("\r\n");
    response.head_text = head_text;
    std::string status_line = head_text.substr(0, line_end);
    response.status = static_cast<unsigned>(std::stoul(status_line.substr(9, 3)));
    while (line_end != std::string::npos) {
      size_t start = line_end + 2;
      line_end = head_text.find("\r\n", start);
      std::string line =
          head_text.substr(start, line_end == std::string::npos ? line_end : line_end - start);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      response.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    bool bodyless =
        head || response.status / 100 == 1 || response.status == 204 || response.status == 304;
    size_t length = bodyless || response.header("content-length").empty()
                        ? 0
                        : std::stoull(response.header("content-length"));
    while (buffer_.size() < length) {
      if (!fill()) return std::nullopt;
    }
    response.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return response;
  }

  // Sends `request` and reads one response; nullopt when the server closed
  // or reset the connection before the request was sent or answered.
  std::optional<HttpResponse> exchange(std::string_view request) {
    if (!send(request)) return std::nullopt;
    return read_response();
  }

  // Reads up to `bytes` raw bytes (after any buffered ones).
  std::string read_some(size_t bytes) {
    if (buffer_.empty()) fill();
    std::string out = buffer_.substr(0, bytes);
    buffer_.erase(0, out.size());
    return out;
  }

  // Reads until the server ends the connection; returns how many bytes came,
  // buffered ones included.
  uint64_t read_until_closed() {
    uint64_t bytes = buffer_.size();
    buffer_.clear();
    char chunk[64 * 1024];
    ssize_t got;
    while ((got = ::recv(fd_, chunk, sizeof chunk, 0)) > 0) bytes += static_cast<uint64_t>(got);
    return bytes;
  }

  // True when the server ends the connection (FIN or RST) before sending more bytes.
  bool closed_by_server() {
    if (!buffer_.empty()) return false;
    char byte;
    ssize_t got = ::recv(fd_, &byte, 1, 0);
    return got == 0 || (got < 0 && errno == ECONNRESET);
  }

 private:
  bool fill() {
    char chunk[16 * 1024];
    ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(got));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

// An HTTP/1.1 request without a body; `extra_headers` are whole lines.
inline std::string bodiless_request(std::string_view verb, std::string_view target,
                                    std::string_view extra_headers = "") {
  return std::string(verb) + " " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" +
         std::string(extra_headers) + "\r\n";
}

inline std::string get(std::string_view target, std::string_view extra_headers = "") {
  return bodiless_request("GET", target, extra_headers);
}

inline std::string head(std::string_view target, std::string_view extra_headers = "") {
  return bodiless_request("HEAD", target, extra_headers);
}

// The head of a POST announcing `content_length` body bytes, for a test
// that sends the body on its own (or never).
inline std::string post_head(std::string_view target, size_t content_length,
                             std::string_view extra_headers = "") {
  return "POST " + std::string(target) +
         " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(content_length) + "\r\n" +
         std::string(extra_headers) + "\r\n";
}

inline std::string post(std::string_view target, std::string_view body,
                        std::string_view extra_headers = "") {
  return post_head(target, body.size(), extra_headers) + std::string(body);
}

inline std::string chunked_post(std::string_view target, std::string_view body,
                                std::string_view extra_headers = "") {
  std::string request = "POST " + std::string(target) +
                        " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n" +
                        std::string(extra_headers) + "\r\n";
  constexpr size_t chunk_bytes = 4000;
  for (size_t at = 0; at < body.size(); at += chunk_bytes) {
    std::string_view chunk = body.substr(at, chunk_bytes);
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
    request += size_line;
    request += chunk;
    request += "\r\n";
  }
  return request + "0\r\n\r\n";
}

inline constexpr std::string_view auth = "Authorization: Bearer secret\r\n";

inline std::string pattern_bytes(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 7 + i / 251) % 256);
  return bytes;
}

// Makes a sparse file of `size_bytes` zeros without writing them.
inline void make_sparse_file(const fs::path& path, uint64_t size_bytes) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size_bytes)), 0);
  ::close(fd);
}

// Collects values from server threads; the test waits for them.
template <typename T>
class Inbox {
 public:
  void push(T value) {
    std::lock_guard lock(mutex_);
    values_.push_back(std::move(value));
    changed_.notify_all();
  }
  std::vector<T> wait_for(size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, wait_max, [&] { return values_.size() >= count; });
    return values_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<T> values_;
};

// What a response's on_done reported: whether its exchange completed, and
// how many body bytes went out.
struct Completion {
  bool complete = false;
  uint64_t bytes = 0;
};

// Collects the on_done reports of the responses it watches.
class Completions : public Inbox<Completion> {
 public:
  // Makes `response` report here when its exchange ends.
  void watch(Response& response) {
    response.on_done = [this](bool complete, uint64_t bytes) { push({complete, bytes}); };
  }
};

// A one-shot gate a handler waits on, with a bound so a failing test cannot hang.
class Gate {
 public:
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  bool wait() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, wait_max, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "dg-http-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    spool_dir_ = dir_ / "spool";
    fs::create_directory(spool_dir_);
    router_.set_authenticator([](const Request& request) {
      return request.header(Field::authorization) == "Bearer secret";
    });
    router_.add(Verb::get, "/echo/{n}",
                [](Request& request) {
                  return text_response(200, std::string(request.param("n")), "text/plain");
                },
                {.name = "echo"});
  }

  void TearDown() override {
    stop_server();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  void start_server(ServerOptions options = {}) {
    options.listen_address = "127.0.0.1";
    options.port = 0;
    if (options.io_threads == 0) options.io_threads = 2;
    // The default pool is sized for a store; tests need only a few.
    if (options.handler_threads == ServerOptions{}.handler_threads) options.handler_threads = 4;
    options.spool_dir = spool_dir_;
    options.make_body_hasher = [] { return std::make_unique<Sha256Hasher>(); };
    server_ = std::make_unique<Server>(router_, std::move(options));
    Status started = server_->start();
    ASSERT_TRUE(started.ok()) << started.to_string();
    ASSERT_NE(server_->port(), 0);
    run_thread_ = std::thread([this] { server_->run(/*handle_signals=*/false); });
  }

  void stop_server() {
    if (!server_) return;
    server_->stop();
    if (run_thread_.joinable()) run_thread_.join();
    server_.reset();
  }

  uint16_t port() const { return server_->port(); }

  // Waits until the server holds `want` read blocks (observable state: a
  // connection waiting for its next request takes one, and gives it back
  // after an idle second).
  bool read_blocks_held_becomes(size_t want, std::chrono::milliseconds within) {
    auto deadline = std::chrono::steady_clock::now() + within;
    while (server_->read_blocks_held() != want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling, not pacing
    }
    return server_->read_blocks_held() == want;
  }

  // Writes `bytes` to a file in the test folder.
  fs::path write_file(const std::string& name, std::string_view bytes) {
    fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  size_t spool_entries() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(spool_dir_), {}));
  }

  fs::path dir_;
  fs::path spool_dir_;
  Router router_;
  std::unique_ptr<Server> server_;
  std::thread run_thread_;
};

}  // namespace dg::http::server_test
