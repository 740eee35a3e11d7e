// claimload: a claim surge against one or more origins. C clients, each with
// its own keep-alive connection, send N claims in total (distinct accounts),
// or as many as they can for a fixed time, round-robin over the origins, and
// report counts by status, throughput and latency percentiles as JSON on
// stdout. Like `pgbench -j` or wrk, a few threads (--threads, default 2) each
// run their own epoll loop over a share of the connections, and no HTTP
// library is involved: a request is a fixed head, built once per connection,
// with the claim's account appended; a response is read with a minimal parser
// (status line, Content-Length, Connection) and counted only once its whole
// body has arrived. So the load generator takes little of the CPU it shares
// with the server under test: per claim, one send(2), one recv(2) and a share
// of one epoll_wait(2).
//
//   claimload --url http://127.0.0.1:8080 --url http://127.0.0.1:8081
//             --drop hot-drop --api-key KEY --requests 20000 --concurrency 64
//   claimload --url http://127.0.0.1:8080 --drop hot-drop --api-key KEY
//             --duration-s 20 --concurrency 64
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Address {
  sockaddr_storage addr{};
  socklen_t length = 0;
};

struct Target {
  std::string host;
  std::string port;
  std::vector<Address> addresses;  // tried in turn, as getaddrinfo ordered them
};

Target parse_url(const std::string& url) {
  std::string rest = url.substr(url.find("://") + 3);
  size_t colon = rest.find(':');
  size_t slash = rest.find('/');
  return {
      rest.substr(0, colon),
      rest.substr(colon + 1, slash == std::string::npos ? std::string::npos : slash - colon - 1),
      {}};
}

// Fills target.addresses; false (with a message) if the host does not resolve.
bool resolve(Target& target) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &found);
  if (rc != 0) {
    std::fprintf(stderr, "claimload: cannot resolve %s:%s: %s\n", target.host.c_str(),
                 target.port.c_str(), gai_strerror(rc));
    return false;
  }
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    Address address;
    std::memcpy(&address.addr, a->ai_addr, a->ai_addrlen);
    address.length = a->ai_addrlen;
    target.addresses.push_back(address);
  }
  freeaddrinfo(found);
  return !target.addresses.empty();
}

// What every client shares: the work, and when it ends.
struct Plan {
  std::string drop;
  std::string api_key;
  std::string account_prefix;
  uint64_t total = 0;
  Clock::time_point stop_at;
  std::atomic<uint64_t> next{0};
};

constexpr unsigned kStatusMax = 999;           // a status line has three digits
constexpr size_t kResponseBufferBytes = 4096;  // a claim's answer fits; grown for a longer head
constexpr size_t kResponseHeadBytesMax = 64 * 1024;  // a longer head is a transport error

// One thread's results; threads are merged at the end, so no locks.
struct Tally {
  std::array<uint64_t, kStatusMax + 1> by_status{};
  std::vector<double> latencies_ms;  // of 201s
  std::vector<double> all_latencies_ms;
  uint64_t transport_errors = 0;
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);  // ASCII letters, '-', digits: enough for header names
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The status line and headers of one response.
struct ResponseHead {
  unsigned status = 0;
  bool keep_alive = true;
  bool has_length = false;  // without Content-Length the body runs until the server closes
  uint64_t content_length = 0;
  size_t bytes = 0;  // of the head, its final empty line included
};

enum class Parse { incomplete, complete, bad };

// Parses the head of the response at the start of `in`: incomplete until its
// empty line has arrived; bad if it is not HTTP/1.x, or is chunked (an origin
// sends Content-Length).
Parse parse_head(std::string_view in, ResponseHead& head) {
  size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) return Parse::incomplete;
  head = {};
  head.bytes = end + 4;
  std::string_view lines = in.substr(0, end + 2);
  size_t eol = lines.find("\r\n");
  std::string_view status_line = lines.substr(0, eol);
  // "HTTP/1.1 201 Created"
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.") || status_line[8] != ' ' ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    return Parse::bad;
  }
  auto [p, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, head.status);
  if (ec != std::errc() || p != status_line.data() + 12) return Parse::bad;
  bool http11 = status_line[7] == '1';
  head.keep_alive = http11;
  for (size_t pos = eol + 2; pos < lines.size();) {
    size_t next = lines.find("\r\n", pos);
    std::string_view line = lines.substr(pos, next - pos);
    pos = next + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Parse::bad;
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      auto [q, lec] =
          std::from_chars(value.data(), value.data() + value.size(), head.content_length);
      if (lec != std::errc() || q != value.data() + value.size()) return Parse::bad;
      head.has_length = true;
    } else if (iequals(name, "connection")) {
      while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view token = trim(value.substr(0, comma));
        if (iequals(token, "close")) head.keep_alive = false;
        if (iequals(token, "keep-alive") && !http11) head.keep_alive = true;
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
      }
    } else if (iequals(name, "transfer-encoding")) {
      return Parse::bad;
    }
  }
  // These have no body whatever the headers say.
  if (head.status < 200 || head.status == 204 || head.status == 304) {
    head.has_length = true;
    head.content_length = 0;
  }
  if (!head.has_length) head.keep_alive = false;
  return Parse::complete;
}

// One keep-alive connection sending one claim at a time. Each client takes the
// next request number until `total` are taken or `stop_at` has passed; a
// request started before then is finished and counted, once its response is
// complete. The thread's epoll loop calls on_event(); start_next() and
// on_event() return false once the client has no request in flight and no
// more work.
class Client {
 public:
  Client(int epoll_fd, const Target& target, Plan& plan, Tally& tally)
      : epoll_fd_(epoll_fd), target_(target), plan_(plan), tally_(tally) {
    request_ = "POST /v1/drops/" + plan.drop + "/claims HTTP/1.1\r\nHost: " + target.host +
               "\r\nAuthorization: Bearer " + plan.api_key +
               "\r\nContent-Type: application/json\r\nIdempotency-Key: ";
    head_fixed_bytes_ = request_.size();
    request_.reserve(head_fixed_bytes_ + 2 * plan.account_prefix.size() + 128);
    in_.resize(kResponseBufferBytes);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() { close_connection(); }

  // Starts the next claim, if any is left; else closes the connection, so
  // that epoll has nothing more to say about this client.
  bool start_next() {
    for (;;) {
      Clock::time_point now = Clock::now();
      uint64_t i =
          now < plan_.stop_at ? plan_.next.fetch_add(1, std::memory_order_relaxed) : plan_.total;
      if (i >= plan_.total) {
        close_connection();
        return false;
      }
      build_request(i);
      start_ = now;
      // A failure here is counted already; go on with the next claim.
      if (fd_ >= 0 ? send_request() : connect_from(0)) return true;
    }
  }

  bool on_event() {
    switch (state_) {
      case State::connecting: {
        int error = 0;
        socklen_t length = sizeof error;
        if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
        if (error != 0) {
          close_connection();
          return connect_from(address_ + 1) || start_next();
        }
        return on_connected() || start_next();
      }
      case State::writing:
        return send_request() || start_next();
      case State::reading:
        return on_readable();
      case State::idle:
        break;
    }
    return true;  // unreachable: an idle client has no socket in the epoll set
  }

 private:
  enum class State { idle, connecting, writing, reading };

  void build_request(uint64_t i) {
    char number[24];
    auto digits = std::to_chars(number, number + sizeof number, i);
    std::string_view n(number, static_cast<size_t>(digits.ptr - number));
    size_t account_bytes = plan_.account_prefix.size() + n.size();
    request_.resize(head_fixed_bytes_);
    request_ += plan_.account_prefix;
    request_ += n;
    request_ += "\r\nContent-Length: ";
    char length[24];  // not in `number`, which `n` still shows
    auto length_end = std::to_chars(length, length + sizeof length,
                                    account_bytes + sizeof "{\"account\":\"\"}" - 1);
    request_.append(length, length_end.ptr);
    request_ += "\r\n\r\n{\"account\":\"";
    request_ += plan_.account_prefix;
    request_ += n;
    request_ += "\"}";
    written_ = 0;
  }

  // Opens a connection to the target's addresses from `address` on; false if
  // none could be started (counted as one transport error).
  bool connect_from(size_t address) {
    for (address_ = address; address_ < target_.addresses.size(); ++address_) {
      const Address& a = target_.addresses[address_];
      fd_ = socket(a.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd_ < 0) break;
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.ptr = this;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd_, &ev) != 0) break;
      if (connect(fd_, reinterpret_cast<const sockaddr*>(&a.addr), a.length) == 0) {
        if (on_connected()) return true;
        return false;  // counted by on_connected
      }
      if (errno == EINPROGRESS) {
        state_ = State::connecting;
        return true;
      }
      close_connection();
    }
    fail();
    return false;
  }

  bool on_connected() {
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = this;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd_, &ev) != 0) {
      fail();
      return false;
    }
    state_ = State::reading;  // what epoll waits for now
    return send_request();
  }

  // Sends what is left of the request; false if the connection failed (counted).
  bool send_request() {
    while (written_ < request_.size()) {
      ssize_t n = send(fd_, request_.data() + written_, request_.size() - written_, MSG_NOSIGNAL);
      if (n > 0) {
        written_ += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        if (state_ != State::writing && !wait_for(EPOLLOUT)) return false;
        state_ = State::writing;
        return true;
      } else {
        fail();
        return false;
      }
    }
    if (state_ == State::writing && !wait_for(EPOLLIN)) return false;
    state_ = State::reading;
    in_used_ = 0;
    head_done_ = false;
    return true;
  }

  bool wait_for(uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = this;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd_, &ev) == 0) return true;
    fail();
    return false;
  }

  // One recv per readiness: epoll is level-triggered, so what is left wakes
  // this client again.
  bool on_readable() {
    if (!head_done_ && in_used_ == in_.size()) {
      if (in_.size() >= kResponseHeadBytesMax) return fail(), start_next();
      in_.resize(in_.size() * 2);
    }
    ssize_t n = recv(fd_, in_.data() + in_used_, in_.size() - in_used_, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n == 0 && head_done_ && !head_.has_length) return finish_response();
    if (n <= 0) return fail(), start_next();  // a partial response is not counted
    in_used_ += static_cast<size_t>(n);
    if (!head_done_) {
      switch (parse_head(std::string_view(in_.data(), in_used_), head_)) {
        case Parse::incomplete:
          return true;
        case Parse::bad:
          return fail(), start_next();
        case Parse::complete:
          head_done_ = true;
          body_left_ = head_.content_length;
          take_body(head_.bytes);
          break;
      }
    } else {
      take_body(0);
    }
    if (head_.has_length && body_left_ == 0) return finish_response();
    return true;
  }

  // The bytes in in_ from `from` on count towards the body, and are dropped:
  // only their number matters. (Bytes after the body, which a server sends
  // only in error since one request at a time is in flight, are dropped too.)
  void take_body(size_t from) {
    size_t available = in_used_ - from;
    if (head_.has_length) body_left_ -= std::min<uint64_t>(available, body_left_);
    in_used_ = 0;
  }

  bool finish_response() {
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start_).count();
    tally_.by_status[head_.status]++;
    tally_.all_latencies_ms.push_back(ms);
    if (head_.status == 201) tally_.latencies_ms.push_back(ms);
    if (!head_.keep_alive) close_connection();
    return start_next();
  }

  void fail() {
    tally_.transport_errors++;
    close_connection();
  }

  void close_connection() {
    if (fd_ >= 0) close(fd_);  // which also takes it out of the epoll set
    fd_ = -1;
    state_ = State::idle;
    in_used_ = 0;
    head_done_ = false;
  }

  int epoll_fd_;
  const Target& target_;
  Plan& plan_;
  Tally& tally_;
  int fd_ = -1;
  size_t address_ = 0;  // of target_.addresses, being connected to
  State state_ = State::idle;
  std::string request_;  // the fixed head, then this claim's account, length and body
  size_t head_fixed_bytes_ = 0;
  size_t written_ = 0;
  std::vector<char> in_;  // the response read so far
  size_t in_used_ = 0;
  bool head_done_ = false;
  ResponseHead head_;
  uint64_t body_left_ = 0;
  Clock::time_point start_;
};

// Runs clients thread, thread + threads, … of `concurrency` on one thread.
void run_thread(uint32_t thread, uint32_t threads, uint32_t concurrency,
                const std::vector<Target>& targets, Plan& plan, Tally& tally) {
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) {
    std::perror("claimload: epoll_create1");
    std::exit(1);
  }
  // Room for this thread's share of the claims, up to a million of each.
  size_t expected = static_cast<size_t>(std::min<uint64_t>(plan.total / threads + 1, 1'000'000));
  tally.all_latencies_ms.reserve(expected);
  tally.latencies_ms.reserve(expected);
  std::vector<std::unique_ptr<Client>> clients;
  size_t active = 0;
  for (uint32_t c = thread; c < concurrency; c += threads) {
    clients.push_back(std::make_unique<Client>(epoll_fd, targets[c % targets.size()], plan, tally));
    if (clients.back()->start_next()) ++active;
  }
  std::array<epoll_event, 64> events;
  while (active > 0) {
    int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::perror("claimload: epoll_wait");
      std::exit(1);
    }
    for (int e = 0; e < n; ++e) {
      if (!static_cast<Client*>(events[e].data.ptr)->on_event()) --active;
    }
  }
  clients.clear();
  close(epoll_fd);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"claimload: a concurrent claim surge against dropgate origins"};
  std::vector<std::string> urls;
  Plan plan;
  plan.account_prefix = "load-";
  uint64_t requests = 0;
  double duration_s = 0;
  uint32_t concurrency = 64;
  uint32_t threads = 2;
  app.add_option("--url", urls, "Origin base URL (repeat for several origins)")->required();
  app.add_option("--drop", plan.drop, "Drop slug")->required();
  app.add_option("--api-key", plan.api_key, "Operator API key")->required();
  app.add_option("--requests", requests,
                 "Claims to send in total (default 10000 without --duration-s)");
  app.add_option("--duration-s", duration_s,
                 "Send claims for this many seconds (with --requests: whichever ends first)")
      ->check(CLI::PositiveNumber);
  app.add_option("--concurrency", concurrency, "Concurrent clients (connections)")
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "Threads the clients share (default 2)")
      ->check(CLI::PositiveNumber);
  app.add_option("--account-prefix", plan.account_prefix, "Prefix of the generated account ids");
  CLI11_PARSE(app, argc, argv);

  plan.total = requests > 0 ? requests : duration_s > 0 ? UINT64_MAX : 10'000;
  threads = std::min(threads, concurrency);
  std::vector<Target> targets;
  for (const auto& u : urls) {
    targets.push_back(parse_url(u));
    if (!resolve(targets.back())) return 1;
  }
  std::vector<Tally> tallies(threads);
  auto start = Clock::now();
  plan.stop_at = duration_s > 0 ? start + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(duration_s))
                                : Clock::time_point::max();
  std::vector<std::thread> pool;
  for (uint32_t t = 0; t < threads; ++t) {
    pool.emplace_back(run_thread, t, threads, concurrency, std::cref(targets), std::ref(plan),
                      std::ref(tallies[t]));
  }
  for (auto& t : pool) t.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  Tally tally;
  for (auto& t : tallies) {
    for (unsigned s = 0; s <= kStatusMax; ++s) tally.by_status[s] += t.by_status[s];
    tally.latencies_ms.insert(tally.latencies_ms.end(), t.latencies_ms.begin(),
                              t.latencies_ms.end());
    tally.all_latencies_ms.insert(tally.all_latencies_ms.end(), t.all_latencies_ms.begin(),
                                  t.all_latencies_ms.end());
    tally.transport_errors += t.transport_errors;
  }
  uint64_t ok = tally.by_status[201];
  uint64_t sent = tally.transport_errors;
  for (uint64_t n : tally.by_status) sent += n;
  std::printf(
      "{\"requests\":%llu,\"seconds\":%.3f,\"requests_per_s\":%.1f,\"claims\":%llu,\"claims_per_"
      "s\":%.1f,",
      static_cast<unsigned long long>(sent), seconds, static_cast<double>(sent) / seconds,
      static_cast<unsigned long long>(ok), static_cast<double>(ok) / seconds);
  std::printf(
      "\"claim_p50_ms\":%.3f,\"claim_p99_ms\":%.3f,\"all_p50_ms\":%.3f,\"all_p99_ms\":%.3f,",
      percentile(tally.latencies_ms, 0.5), percentile(tally.latencies_ms, 0.99),
      percentile(tally.all_latencies_ms, 0.5), percentile(tally.all_latencies_ms, 0.99));
  std::printf("\"transport_errors\":%llu,\"by_status\":{",
              static_cast<unsigned long long>(tally.transport_errors));
  bool first = true;
  for (unsigned s = 0; s <= kStatusMax; ++s) {
    if (tally.by_status[s] == 0) continue;
    std::printf("%s\"%u\":%llu", first ? "" : ",", s,
                static_cast<unsigned long long>(tally.by_status[s]));
    first = false;
  }
  std::printf("}}\n");
  return 0;
}
