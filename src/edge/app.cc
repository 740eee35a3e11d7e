#include "edge/app.h"

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <thread>

#include "base/encoding.h"
#include "base/file.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/time.h"
#include "crypto/keyring.h"
#include "crypto/sha256.h"
#include "edge/catalog.h"
#include "edge/sales_desk.h"
#include "edge/service.h"
#include "edge/syncer.h"
#include "edge/vault.h"
#include "http/client.h"
#include "store/outbox.h"
#include "store/sales_book.h"

namespace dg::edge {
namespace {

Result<crypto::SecretKey> load_or_create_key(const EdgeConfig& config) {
  auto path = config.keys_dir() / "secret.paserk";
  if (!std::filesystem::exists(path)) {
    std::error_code ec;
    std::filesystem::create_directories(config.keys_dir(), ec);
    auto key = crypto::SecretKey::generate();
    DG_RETURN_IF_ERROR_RESULT(write_file_atomic(path, key.to_paserk() + "\n", 0600, Overwrite::no));
    DG_RETURN_IF_ERROR_RESULT(write_file_atomic(config.keys_dir() / "public.paserk",
                                                key.public_key().to_paserk() + "\n", 0644,
                                                Overwrite::yes));
  }
  auto text = read_file(path, limits::key_file_bytes_max);
  if (!text) return error(text.error());
  while (!text->empty() && text->back() == '\n') text->pop_back();
  return crypto::SecretKey::from_paserk(*text);
}

// The blobs every carried drop needs, for the start-up check.
std::vector<std::pair<std::string, uint64_t>> carried_blobs(const Catalog& catalog) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [slug, drop] : catalog.drops()) {
    for (const auto& a : drop->manifest.assets) out.emplace_back(a.sha256, a.size_bytes);
  }
  return out;
}

std::string human_bytes(uint64_t bytes) {
  char buf[32];
  if (bytes >= (1ull << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1ull << 30));
  } else if (bytes >= (1ull << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1ull << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  }
  return buf;
}

// Shows transfer progress on a terminal; quiet otherwise.
std::function<void(const std::string&, uint64_t, uint64_t)> progress_printer() {
  if (::isatty(STDERR_FILENO) != 1) return {};
  return [](const std::string& what, uint64_t done, uint64_t total) {
    if (total < (4u << 20)) return;
    std::fprintf(stderr, "\r\033[Kfetching %s: %s / %s", what.c_str(), human_bytes(done).c_str(),
                 human_bytes(total).c_str());
    if (done >= total) std::fprintf(stderr, "\n");
  };
}

}  // namespace

Result<EnrollOutcome> enroll(const EdgeConfig& config, const std::string& origin_url,
                             const std::string& name, bool force) {
  if (std::filesystem::exists(config.enrollment_file()) && !force) {
    return error(Code::conflict, "this edge is already enrolled (" +
                                     config.enrollment_file().string() +
                                     "); use --force to enroll again with the same key");
  }
  std::error_code ec;
  std::filesystem::create_directories(config.state_dir(), ec);
  auto key = load_or_create_key(config);
  if (!key) return error(key.error());
  http::ApiClient client(origin_url, "");
  auto keys = client.call("GET", "/.well-known/dropgate/keys.json");
  if (!keys) return error(keys.error());
  if (keys->status != 200)
    return error(Code::unavailable, "origin keyring: " + http::ApiClient::describe_failure(*keys));
  auto keyring = crypto::Keyring::parse_json(keys->body);
  if (!keyring) return error(keyring.error().with_context("origin keyring"));

  std::string secret = crypto::random_id() + crypto::random_id();
  boost::json::object body{{"name", name},
                           {"edge_key", key->public_key().to_paserk()},
                           {"secret_sha256", hex_encode(crypto::sha256(as_bytes(secret)))}};
  auto response = client.call("POST", "/v1/edges", boost::json::serialize(body));
  if (!response) return error(response.error());
  if (response->status != 202) {
    return error(Code::unavailable,
                 "enrolment refused: " + http::ApiClient::describe_failure(*response));
  }
  auto answer = json::parse_object(response->body, limits::edge_origin_answer_bytes_max);
  if (!answer) return error(answer.error());
  auto edge_id = json::get_int(*answer, "edge_id", "enrolment", 1, INT64_MAX);
  if (!edge_id) return error(edge_id.error());
  // Pin the origin's keys: from now on only keyrings they sign are accepted.
  DG_RETURN_IF_ERROR_RESULT(
      write_file_atomic(config.state_dir() / "keyring.json", keys->body, 0644, Overwrite::yes));
  boost::json::object enrollment{{"origin", origin_url}, {"edge_id", *edge_id}, {"secret", secret}};
  DG_RETURN_IF_ERROR_RESULT(write_file_atomic(
      config.enrollment_file(), boost::json::serialize(enrollment), 0600, Overwrite::yes));
  std::error_code ignored;
  std::filesystem::remove(config.grant_file(), ignored);
  EnrollOutcome outcome{*edge_id, key->public_key().key_id(), ""};
  for (const auto& e : keyring->entries()) {
    outcome.origin_key_ids += (outcome.origin_key_ids.empty() ? "" : ", ") + e.key_id;
  }
  return outcome;
}

Status preload(const EdgeConfig& config) {
  Catalog catalog(config);
  DG_RETURN_IF_ERROR(catalog.load());
  Vault vault(config.blobs_dir());
  // Preloading fetches what is missing or damaged next; the count of good
  // blobs is only for the log, which verify() writes itself.
  (void)vault.verify(carried_blobs(catalog));
  auto outbox = store::open_outbox(config.outbox_file().string(), config.outbox_depth_max);
  if (!outbox) return outbox.error();
  metrics::Registry metrics;
  Syncer syncer(config, catalog, vault, **outbox, metrics, system_clock());
  Status synced = syncer.sync_once(progress_printer());
  int64_t now_ms = system_clock().now_ms();
  auto report = syncer.readiness();
  std::printf("%-24s %8s %7s %12s %10s %12s\n", "DROP", "VERSION", "FILES", "BYTES", "VERIFIED",
              "EXPIRES IN");
  bool all_ready = !report.empty();
  for (const auto& r : report) {
    bool ready = r.files_verified == r.files;
    all_ready = all_ready && ready;
    std::printf("%-24s %8lld %7u %12s %7u/%-2u %10lld h  %s\n", r.drop.c_str(),
                static_cast<long long>(r.version), r.files, human_bytes(r.bytes).c_str(),
                r.files_verified, r.files,
                static_cast<long long>((r.expires_at_ms - now_ms) / 3'600'000),
                ready ? "ready" : "NOT READY");
  }
  if (report.empty()) std::printf("(no drops carried yet)\n");
  if (!synced.ok()) return synced.with_context("sync");
  if (!all_ready) return Status(Code::unavailable, "some drops are not ready");
  return Status();
}

namespace {

// Syncs every `interval` on a thread of its own while it lives; its
// destructor wakes it and waits for the round in progress to finish.
class SyncLoop {
 public:
  SyncLoop(Syncer& syncer, std::chrono::seconds interval)
      : thread_([this, &syncer, interval] { run(syncer, interval); }) {}
  ~SyncLoop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  SyncLoop(const SyncLoop&) = delete;
  SyncLoop& operator=(const SyncLoop&) = delete;

 private:
  void run(Syncer& syncer, std::chrono::seconds interval) {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      Status s = syncer.sync_once();
      if (!s.ok()) log::warn("sync incomplete; serving what is held", {{"error", s.to_string()}});
      lock.lock();
      wake_.wait_for(lock, interval, [&] { return stopping_; });
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace

Status serve(const EdgeConfig& config, const std::function<void(uint16_t port)>& on_listening) {
  // Buffers of 256 KiB and more (the outbox's queue in a burst of downloads)
  // are mapped and unmapped on their own. Left to itself glibc raises this
  // threshold after freeing such a buffer, and the next burst's memory then
  // stays resident in the heap long after it is written.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  Catalog catalog(config);
  DG_RETURN_IF_ERROR(catalog.load());
  if (!catalog.keyring()) {
    return Status(Code::not_found, "this edge is not enrolled: run dropgate edge enroll --data " +
                                       config.data_dir.string() + " --origin URL");
  }
  Vault vault(config.blobs_dir());
  auto blobs = carried_blobs(catalog);
  auto good = vault.verify(blobs);
  log::info("blobs checked", {{"blobs", blobs.size()}, {"good", good ? *good : 0}});
  if (Status watching = vault.watch(uint64_t{config.blob_memory_max_mb} * 1024 * 1024);
      !watching.ok()) {
    log::warn("small blobs will not be held in memory; every download reads its file",
              {{"error", watching.to_string()}});
  }
  auto outbox = store::open_outbox(config.outbox_file().string(), config.outbox_depth_max);
  if (!outbox) return outbox.error();
  metrics::Registry metrics;
  Syncer syncer(config, catalog, vault, **outbox, metrics, system_clock());
  EdgeService service(config, catalog, vault, **outbox, metrics, system_clock());
  // Offline sales: signed with this edge's key, recorded in DIR/sales.db.
  auto edge_key = load_or_create_key(config);
  if (!edge_key) return edge_key.error().with_context("edge key");
  service.trust_own_key(edge_key->public_key());
  core::TokenSigner edge_signer(std::move(*edge_key), config.issuer);
  auto sales_book = store::SalesBook::open(config.sales_file().string());
  if (!sales_book) return sales_book.error();
  SalesDesk sales(config, catalog, **sales_book, edge_signer, metrics, system_clock());
  if (Status s = sales.load_operator_keys(); !s.ok())
    log::warn("operator keys not loaded; cash sales wait for a sync", {{"error", s.to_string()}});
  syncer.attach_sales(sales, **sales_book);
  http::Router router;
  add_edge_delivery_routes(router, service, config.metrics_token);
  add_edge_sales_routes(router, sales);
  auto listen = http::parse_listen(config.listen);
  if (!listen) return listen.error();
  http::ServerOptions options;
  options.listen_address = listen->first;
  options.port = listen->second;
  options.io_threads = config.io_threads;
  options.handler_threads = config.handler_threads;
  metrics::RouteMetrics request_metrics(
      metrics, {"dropgate_edge_requests_total", "Requests by route and status class.", "", ""},
      router.route_names());
  options.on_request = [&request_metrics](std::string_view route, unsigned status,
                                          std::chrono::microseconds) {
    request_metrics.record(route, status, 0);
  };
  http::Server server(router, options);
  DG_RETURN_IF_ERROR(server.start());

  {
    SyncLoop sync_loop(syncer, config.sync_interval);
    log::info("edge listening", {{"listen", config.listen}, {"port", server.port()}});
    if (on_listening) on_listening(server.port());
    server.run(true);
  }  // the loop stops with its round finished
  // A last push on the way out; what it cannot send stays in the durable
  // outbox for the next start, so a failure here loses nothing.
  (void)syncer.push_sales();
  (void)syncer.push_outbox();
  log::info("edge stopped");
  return Status();
}

}  // namespace dg::edge
