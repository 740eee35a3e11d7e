// idleconns: opens N keep-alive HTTP/1.1 connections to one server, sends one
// GET on each, reads its whole response, then keeps every connection open
// and idle, so that the server's memory per idle keep-alive connection can be
// measured (bench/edge_bench.sh reads the server's RSS and PSS before and
// after). Plain sockets and epoll, no HTTP library: what is measured is the
// server.
//
// Usage: idleconns HOST PORT TARGET COUNT [HOLD_S]
//   TARGET  the request target, e.g. "/dl/a.bin?md5=…&expires=…"
//   COUNT   connections to open (RLIMIT_NOFILE is raised to fit, if allowed)
//   HOLD_S  seconds to hold them once ready (default: until stdin closes)
// Prints "ready COUNT" on stdout once every connection has had its answer
// and is idle; exits 0 after holding, 1 if a connection failed or a response
// was not a 200. Connections are opened a window at a time so that the
// server's listen backlog never overflows (a dropped SYN costs a second).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr size_t kWindow = 256;  // connections between connect() and a complete response

struct Conn {
  int fd = -1;
  enum class State { connecting, sending, reading, idle, failed } state = State::connecting;
  size_t sent = 0;
  std::string in;  // the response so far
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "idleconns: %s\n", what.c_str());
  std::exit(1);
}

void raise_nofile(size_t needed) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
    die("getrlimit: " + std::string(std::strerror(errno)));
  if (limit.rlim_cur >= needed) return;
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, needed);
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < needed) {
    die("RLIMIT_NOFILE is " + std::to_string(limit.rlim_cur) + ", " + std::to_string(needed) +
        " needed (raise the hard limit: ulimit -Hn)");
  }
}

// True once `in` holds a whole response: its header and Content-Length bytes.
bool response_complete(const std::string& in, bool& ok) {
  size_t header_end = in.find("\r\n\r\n");
  if (header_end == std::string::npos) return false;
  std::string_view header(in.data(), header_end);
  ok = header.starts_with("HTTP/1.1 200");
  size_t length = 0;
  for (size_t at = 0; (at = header.find("\r\n", at)) != std::string_view::npos;) {
    at += 2;
    std::string_view line = header.substr(at, header.find("\r\n", at) - at);
    if (line.size() > 15 && strncasecmp(line.data(), "content-length:", 15) == 0) {
      length = std::strtoull(std::string(line.substr(15)).c_str(), nullptr, 10);
    }
  }
  return in.size() >= header_end + 4 + length;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || argc > 6) {
    std::fprintf(stderr, "usage: idleconns HOST PORT TARGET COUNT [HOLD_S]\n");
    return 2;
  }
  const std::string host = argv[1];
  const int port = std::atoi(argv[2]);
  const std::string target = argv[3];
  const size_t count = std::strtoull(argv[4], nullptr, 10);
  const int hold_s = argc == 6 ? std::atoi(argv[5]) : -1;
  raise_nofile(count + 64);

  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) die("bad IPv4 address " + host);
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + host + ":" +
                              std::to_string(port) +
                              "\r\nUser-Agent: idleconns\r\nAccept: */*\r\n\r\n";

  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  std::vector<Conn> conns(count);
  size_t opened = 0, idle = 0, in_flight = 0;
  auto started = std::chrono::steady_clock::now();

  auto fail = [&](Conn& c, const std::string& why) {
    die("connection " + std::to_string(&c - conns.data()) + ": " + why);
  };
  auto open_one = [&] {
    Conn& c = conns[opened];
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) fail(c, std::string("socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
        errno != EINPROGRESS) {
      fail(c, std::string("connect: ") + std::strerror(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN;
    ev.data.u64 = opened;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev) != 0) fail(c, "epoll_ctl");
    ++opened;
    ++in_flight;
  };
  auto progress = [&](Conn& c) {
    if (c.state == Conn::State::connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == EINPROGRESS) return;
      if (err != 0) fail(c, std::string("connect: ") + std::strerror(err));
      c.state = Conn::State::sending;
    }
    if (c.state == Conn::State::sending) {
      while (c.sent < request.size()) {
        ssize_t n = ::send(c.fd, request.data() + c.sent, request.size() - c.sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) fail(c, std::string("send: ") + std::strerror(errno));
        c.sent += static_cast<size_t>(n);
      }
      c.state = Conn::State::reading;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = static_cast<uint64_t>(&c - conns.data());
      ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
    }
    if (c.state == Conn::State::reading) {
      char buffer[65536];
      for (;;) {
        ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EAGAIN) break;
        if (n == 0) fail(c, "closed by the server before the response ended");
        if (n < 0) fail(c, std::string("recv: ") + std::strerror(errno));
        c.in.append(buffer, static_cast<size_t>(n));
      }
      bool ok = false;
      if (!response_complete(c.in, ok)) return;
      if (!ok) fail(c, "not a 200: " + c.in.substr(0, c.in.find("\r\n")));
      c.state = Conn::State::idle;
      std::string().swap(c.in);
      ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);  // idle from now on: nothing more to read
      ++idle;
      --in_flight;
    }
  };

  std::vector<epoll_event> events(kWindow);
  while (idle < count) {
    while (opened < count && in_flight < kWindow) open_one();
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10'000);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    if (n == 0)
      die("no progress for 10 s (" + std::to_string(idle) + " of " + std::to_string(count) +
          " ready)");
    for (int i = 0; i < n; ++i) progress(conns[events[i].data.u64]);
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "idleconns: %zu connections idle after %.2f s\n", count, seconds);
  std::printf("ready %zu\n", count);
  std::fflush(stdout);

  // Hold. A connection the server closes meanwhile is reported (POLLRDHUP on
  // a sample would need polling all; the caller checks the count at the end).
  if (hold_s >= 0) {
    ::sleep(static_cast<unsigned>(hold_s));
  } else {
    char byte;
    while (::read(STDIN_FILENO, &byte, 1) > 0) {
    }
  }
  // Still open? A server that closed idle connections early would make the
  // figure meaningless: count those that read as closed.
  size_t closed = 0;
  for (Conn& c : conns) {
    char byte;
    ssize_t n = ::recv(c.fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
    if (n == 0 || (n < 0 && errno != EAGAIN)) ++closed;
  }
  std::fprintf(stderr, "idleconns: %zu of %zu connections were closed by the server while held\n",
               closed, count);
  return closed == 0 ? 0 : 1;
}
