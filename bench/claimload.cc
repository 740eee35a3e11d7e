// claimload: a claim surge against one or more origins. C clients, each with
// its own keep-alive connection, send N claims in total (distinct accounts),
// or as many as they can for a fixed time, round-robin over the origins, and
// report counts by status, throughput and latency percentiles as JSON on
// stdout. Like `pgbench -j`, a few threads (--threads, default 2) multiplex
// all the connections, so the load generator takes little of the CPU it
// shares with the server under test.
//
//   claimload --url http://127.0.0.1:8080 --url http://127.0.0.1:8081
//             --drop hot-drop --api-key KEY --requests 20000 --concurrency 64
//   claimload --url http://127.0.0.1:8080 --drop hot-drop --api-key KEY
//             --duration-s 20 --concurrency 64
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

using Clock = std::chrono::steady_clock;

struct Target {
  std::string host;
  std::string port;
};

Target parse_url(const std::string& url) {
  std::string rest = url.substr(url.find("://") + 3);
  size_t colon = rest.find(':');
  size_t slash = rest.find('/');
  return {
      rest.substr(0, colon),
      rest.substr(colon + 1, slash == std::string::npos ? std::string::npos : slash - colon - 1)};
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

// One thread's results; threads are merged at the end, so no locks.
struct Tally {
  std::map<unsigned, uint64_t> by_status;
  std::vector<double> latencies_ms;  // of 201s
  std::vector<double> all_latencies_ms;
  uint64_t transport_errors = 0;
};

// One keep-alive connection sending one claim at a time. Each client takes the
// next request number until `total` are taken or `stop_at` has passed; a
// request started before then is finished and counted.
class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(boost::asio::io_context& io, const Target& target, tcp::resolver::results_type endpoints,
         Plan& plan, Tally& tally)
      : stream_(io),
        target_(target),
        endpoints_(std::move(endpoints)),
        plan_(plan),
        tally_(tally) {}

  void next() {
    if (Clock::now() >= plan_.stop_at) return;
    uint64_t i = plan_.next.fetch_add(1);
    if (i >= plan_.total) return;
    std::string account = plan_.account_prefix + std::to_string(i);
    request_ = {http::verb::post, "/v1/drops/" + plan_.drop + "/claims", 11};
    request_.set(http::field::host, target_.host);
    request_.set(http::field::authorization, "Bearer " + plan_.api_key);
    request_.set(http::field::content_type, "application/json");
    request_.set("Idempotency-Key", account);
    request_.body() = "{\"account\":\"" + account + "\"}";
    request_.prepare_payload();
    start_ = Clock::now();
    if (connected_) return send();
    boost::asio::async_connect(
        stream_.socket(), endpoints_,
        [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
          if (ec) return self->fail();
          self->connected_ = true;
          self->send();
        });
  }

 private:
  void send() {
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->fail();
      self->response_ = {};
      http::async_read(self->stream_, self->buffer_, self->response_,
                       [self](beast::error_code ec, size_t) { self->on_response(ec); });
    });
  }

  void on_response(beast::error_code ec) {
    if (ec) return fail();
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start_).count();
    unsigned status = response_.result_int();
    tally_.by_status[status]++;
    tally_.all_latencies_ms.push_back(ms);
    if (status == 201) tally_.latencies_ms.push_back(ms);
    if (!response_.keep_alive()) close();
    next();
  }

  void fail() {
    tally_.transport_errors++;
    close();
    next();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
    buffer_.clear();
    connected_ = false;
  }

  beast::tcp_stream stream_;
  const Target& target_;
  tcp::resolver::results_type endpoints_;
  Plan& plan_;
  Tally& tally_;
  bool connected_ = false;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  beast::flat_buffer buffer_;
  Clock::time_point start_;
};

// Runs clients thread, thread + threads, … of `concurrency` on one thread.
void run_thread(uint32_t thread, uint32_t threads, uint32_t concurrency,
                const std::vector<Target>& targets, Plan& plan, Tally& tally) {
  boost::asio::io_context io;
  tcp::resolver resolver(io);
  std::vector<tcp::resolver::results_type> endpoints;
  for (const auto& t : targets) endpoints.push_back(resolver.resolve(t.host, t.port));
  for (uint32_t c = thread; c < concurrency; c += threads) {
    size_t target = c % targets.size();
    std::make_shared<Client>(io, targets[target], endpoints[target], plan, tally)->next();
  }
  io.run();
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
  for (const auto& u : urls) targets.push_back(parse_url(u));
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
    for (auto [s, n] : t.by_status) tally.by_status[s] += n;
    tally.latencies_ms.insert(tally.latencies_ms.end(), t.latencies_ms.begin(),
                              t.latencies_ms.end());
    tally.all_latencies_ms.insert(tally.all_latencies_ms.end(), t.all_latencies_ms.begin(),
                                  t.all_latencies_ms.end());
    tally.transport_errors += t.transport_errors;
  }
  uint64_t ok = tally.by_status[201];
  uint64_t sent = tally.transport_errors;
  for (auto [s, n] : tally.by_status) sent += n;
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
  for (auto [s, n] : tally.by_status) {
    std::printf("%s\"%u\":%llu", first ? "" : ",", s, static_cast<unsigned long long>(n));
    first = false;
  }
  std::printf("}}\n");
  return 0;
}
