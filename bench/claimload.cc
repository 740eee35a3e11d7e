// claimload: a claim surge against one or more origins. C client threads, each
// with its own keep-alive connection, send N claims in total (distinct
// accounts), round-robin over the origins, and report counts by status,
// throughput and latency percentiles as JSON on stdout.
//
//   claimload --url http://127.0.0.1:8080 --url http://127.0.0.1:8081
//             --drop hot-drop --api-key KEY --requests 20000 --concurrency 64
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

struct Target {
  std::string host;
  std::string port;
};

Target parse_url(const std::string& url) {
  std::string rest = url.substr(url.find("://") + 3);
  size_t colon = rest.find(':');
  size_t slash = rest.find('/');
  return {rest.substr(0, colon), rest.substr(colon + 1, slash == std::string::npos ? std::string::npos : slash - colon - 1)};
}

struct Tally {
  std::mutex mutex;
  std::map<unsigned, uint64_t> by_status;
  std::vector<double> latencies_ms;  // of 201s
  std::vector<double> all_latencies_ms;
  uint64_t transport_errors = 0;
};

void client(const Target& target, const std::string& drop, const std::string& api_key,
            std::atomic<uint64_t>& next, uint64_t total, const std::string& account_prefix, Tally& tally) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(target.host, target.port);
  bool connected = false;
  std::map<unsigned, uint64_t> by_status;
  std::vector<double> ok_ms, all_ms;
  uint64_t errors = 0;
  beast::flat_buffer buffer;
  while (true) {
    uint64_t i = next.fetch_add(1);
    if (i >= total) break;
    try {
      if (!connected) {
        stream.connect(endpoints);
        connected = true;
      }
      http::request<http::string_body> req{http::verb::post, "/v1/drops/" + drop + "/claims", 11};
      req.set(http::field::host, target.host);
      req.set(http::field::authorization, "Bearer " + api_key);
      req.set(http::field::content_type, "application/json");
      req.set("Idempotency-Key", account_prefix + std::to_string(i));
      req.body() = "{\"account\":\"" + account_prefix + std::to_string(i) + "\"}";
      req.prepare_payload();
      auto start = std::chrono::steady_clock::now();
      http::write(stream, req);
      http::response<http::string_body> res;
      http::read(stream, buffer, res);
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      by_status[res.result_int()]++;
      all_ms.push_back(ms);
      if (res.result_int() == 201) ok_ms.push_back(ms);
      if (!res.keep_alive()) {
        stream.close();
        connected = false;
      }
    } catch (const std::exception&) {
      errors++;
      stream.close();
      connected = false;
    }
  }
  std::lock_guard lock(tally.mutex);
  for (auto [s, n] : by_status) tally.by_status[s] += n;
  tally.latencies_ms.insert(tally.latencies_ms.end(), ok_ms.begin(), ok_ms.end());
  tally.all_latencies_ms.insert(tally.all_latencies_ms.end(), all_ms.begin(), all_ms.end());
  tally.transport_errors += errors;
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
  std::string drop, api_key, prefix = "load-";
  uint64_t requests = 10'000;
  uint32_t concurrency = 64;
  app.add_option("--url", urls, "Origin base URL (repeat for several origins)")->required();
  app.add_option("--drop", drop, "Drop slug")->required();
  app.add_option("--api-key", api_key, "Operator API key")->required();
  app.add_option("--requests", requests, "Claims to send in total");
  app.add_option("--concurrency", concurrency, "Concurrent clients");
  app.add_option("--account-prefix", prefix, "Prefix of the generated account ids");
  CLI11_PARSE(app, argc, argv);

  std::vector<Target> targets;
  for (const auto& u : urls) targets.push_back(parse_url(u));
  Tally tally;
  std::atomic<uint64_t> next{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (uint32_t c = 0; c < concurrency; ++c) {
    threads.emplace_back(client, std::cref(targets[c % targets.size()]), std::cref(drop), std::cref(api_key),
                         std::ref(next), requests, std::cref(prefix), std::ref(tally));
  }
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t ok = tally.by_status[201];
  std::printf("{\"requests\":%llu,\"seconds\":%.3f,\"requests_per_s\":%.1f,\"claims\":%llu,\"claims_per_s\":%.1f,",
              static_cast<unsigned long long>(requests), seconds, static_cast<double>(requests) / seconds,
              static_cast<unsigned long long>(ok), static_cast<double>(ok) / seconds);
  std::printf("\"claim_p50_ms\":%.3f,\"claim_p99_ms\":%.3f,\"all_p50_ms\":%.3f,\"all_p99_ms\":%.3f,",
              percentile(tally.latencies_ms, 0.5), percentile(tally.latencies_ms, 0.99),
              percentile(tally.all_latencies_ms, 0.5), percentile(tally.all_latencies_ms, 0.99));
  std::printf("\"transport_errors\":%llu,\"by_status\":{", static_cast<unsigned long long>(tally.transport_errors));
  bool first = true;
  for (auto [s, n] : tally.by_status) {
    std::printf("%s\"%u\":%llu", first ? "" : ",", s, static_cast<unsigned long long>(n));
    first = false;
  }
  std::printf("}}\n");
  return 0;
}
