#include "origin/app.h"

#include <atomic>
#include <thread>

#include "base/encoding.h"
#include "base/file.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/metrics.h"
#include "core/token.h"
#include "crypto/keyring.h"
#include "crypto/sha256.h"
#include "http/http.h"
#include "origin/blob_store.h"
#include "origin/committer.h"
#include "origin/edges.h"
#include "origin/operator_keys.h"
#include "origin/payment_provider.h"
#include "origin/routes.h"
#include "origin/seller.h"
#include "origin/service.h"
#include "store/store.h"

namespace dg::origin {
namespace {

constexpr std::string_view kSecretFile = "secret.paserk";
constexpr std::string_view kKeyringFile = "keys.json";
constexpr std::string_view kOwnerSecretFile = "owner-id.secret";

Result<crypto::SecretKey> load_or_create_key(const OriginConfig& config, bool& created) {
  auto dir = config.keys_dir();
  auto path = dir / kSecretFile;
  created = false;
  if (!std::filesystem::exists(path)) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return error(Code::io_error, "cannot create " + dir.string() + ": " + ec.message());
    auto key = crypto::SecretKey::generate();
    DG_RETURN_IF_ERROR_RESULT(write_file_atomic(path, key.to_paserk() + "\n", 0600, Overwrite::no));
    // The same layout as `dropgate keys new`, so `dropgate keys minisign-pub --dir DATA/keys`
    // works.
    DG_RETURN_IF_ERROR_RESULT(write_file_atomic(
        dir / "public.paserk", key.public_key().to_paserk() + "\n", 0644, Overwrite::yes));
    crypto::Keyring keyring;
    DG_RETURN_IF_ERROR_RESULT(keyring.add(key.public_key(), crypto::KeyStatus::current));
    DG_RETURN_IF_ERROR_RESULT(
        write_file_atomic(dir / kKeyringFile, keyring.to_json() + "\n", 0644, Overwrite::yes));
    created = true;
  }
  auto text = read_file(path, limits::key_file_bytes_max);
  if (!text) return error(text.error());
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
  auto key = crypto::SecretKey::from_paserk(*text);
  if (!key) return error(key.error().with_context(path.string()));
  return key;
}

// The secret behind certificate owner ids (core::owner_id); made on first use,
// like the signing key. Losing it only means old owner ids can no longer be
// recomputed; certificates still verify.
Result<core::OwnerSecret> load_or_create_owner_secret(const OriginConfig& config) {
  auto path = config.keys_dir() / kOwnerSecretFile;
  if (!std::filesystem::exists(path)) {
    std::error_code ec;
    std::filesystem::create_directories(config.keys_dir(), ec);
    if (ec)
      return error(Code::io_error,
                   "cannot create " + config.keys_dir().string() + ": " + ec.message());
    DG_RETURN_IF_ERROR_RESULT(write_file_atomic(
        path, core::OwnerSecret::generate().to_text() + "\n", 0600, Overwrite::no));
  }
  auto text = read_file(path, limits::key_file_bytes_max);
  if (!text) return error(text.error());
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
  auto secret = core::OwnerSecret::from_text(*text);
  if (!secret) return error(secret.error().with_context(path.string()));
  return secret;
}

// The published keyring: keys.json when present (rotations and revocations
// live there), else just the signing key.
Result<crypto::Keyring> load_keyring(const OriginConfig& config, const crypto::SecretKey& key) {
  auto path = config.keys_dir() / kKeyringFile;
  crypto::Keyring keyring;
  if (std::filesystem::exists(path)) {
    auto loaded = crypto::Keyring::load(path);
    if (!loaded) return error(loaded.error());
    keyring = std::move(*loaded);
  }
  if (!keyring.verification_key(key.public_key().key_id())) {
    DG_RETURN_IF_ERROR_RESULT(keyring.add(key.public_key(), crypto::KeyStatus::current));
  }
  return keyring;
}

// Uploads are hashed while they stream in, with the same SHA-256 as manifests.
class Sha256BodyHasher final : public http::BodyHasher {
 public:
  void update(std::span<const uint8_t> bytes) override { hasher_.update(bytes); }
  std::string finish_hex() override { return hex_encode(hasher_.finish()); }

 private:
  crypto::Sha256 hasher_;
};

Result<std::unique_ptr<store::Store>> open_migrated_store(const OriginConfig& config) {
  auto store = store::open_store(config.store_location(), config.db_connections);
  if (!store) return error(store.error().with_context("opening the database"));
  DG_RETURN_IF_ERROR_RESULT((*store)->migrate().with_context("migrating the database"));
  return store;
}

// `serve` runs only on a folder `init` prepared: a mistyped --data must not
// become a new origin with a new signing key that no edge trusts.
Status check_initialised(const OriginConfig& config) {
  std::error_code ec;
  std::vector<std::filesystem::path> needed{config.keys_dir() / kSecretFile};
  if (config.database.empty()) needed.push_back(config.database_path());
  for (const auto& path : needed) {
    if (std::filesystem::exists(path, ec)) continue;
    return Status(Code::not_found, config.data_dir.string() +
                                       " is not an origin data folder: " + path.string() +
                                       " does not exist; run `dropgate init --data " +
                                       config.data_dir.string() + "` first");
  }
  return Status();
}

// The server's options from the configuration; the blob store's spool takes uploads.
Result<http::ServerOptions> server_options(const OriginConfig& config, const BlobStore& blobs) {
  auto listen = parse_listen(config.listen);
  if (!listen) return error(listen.error());
  http::ServerOptions options;
  options.listen_address = listen->first;
  options.port = listen->second;
  options.io_threads = config.io_threads;
  options.handler_threads = config.handler_threads;
  options.spool_dir = blobs.spool_dir();
  options.make_body_hasher = [] { return std::make_unique<Sha256BodyHasher>(); };
  return options;
}

// Binds and listens; a port already taken may be another origin's.
Status start_listening(http::Server& server) {
  Status bound = server.start();
  if (bound.ok() || bound.code() != Code::conflict) return bound;
  return Status(Code::conflict, bound.message() + " (is another origin already serving there?)");
}

// "http://host:0" with the port the server was given.
std::string with_port(std::string url_ending_in_0, uint16_t port) {
  url_ending_in_0.resize(url_ending_in_0.size() - 1);
  return url_ending_in_0 + std::to_string(port);
}

// Online checkout is on when a payment secret key is configured (never logged).
std::unique_ptr<PaymentProvider> payment_provider(const OriginConfig& config) {
  if (config.payment_secret_key.empty()) return nullptr;
  return make_stripe_provider({config.payment_api_base, config.payment_secret_key});
}

// The origin's periodic work, about every second until `running` is false.
void tick_until_stopped(OriginService& service, OperatorKeys& operator_keys,
                        const std::atomic<bool>& running) {
  while (running.load()) {
    service.claims.tick();
    service.checkout.tick();  // refunds whose retry is due
    // Keys created (`dropgate init`) or revoked since, every second
    // (limits::operator_keys_refresh), off the I/O threads.
    if (Status keys = operator_keys.refresh(); !keys.ok()) {
      log::warn("could not refresh operator keys", {{"error", keys.to_string()}});
    }
    for (int i = 0; i < 10 && running.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

Result<InitOutcome> init_data_dir(const OriginConfig& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec)
    return error(Code::io_error, "cannot create " + config.data_dir.string() + ": " + ec.message());
  InitOutcome outcome;
  auto key = load_or_create_key(config, outcome.created_key);
  if (!key) return error(key.error());
  outcome.key_id = key->public_key().key_id();
  if (auto owner_secret = load_or_create_owner_secret(config); !owner_secret)
    return error(owner_secret.error());
  auto store = open_migrated_store(config);
  if (!store) return error(store.error());
  outcome.api_key = "dg_op_" + crypto::random_id() + crypto::random_id();
  std::string hash = hex_encode(crypto::sha256(as_bytes(outcome.api_key)));
  DG_RETURN_IF_ERROR_RESULT((*store)->add_api_key(hash, "operator", system_clock().now_ms()));
  return outcome;
}

Status serve(const OriginConfig& startup_config,
             const std::function<void(uint16_t port)>& on_listening) {
  OriginConfig config = startup_config;  // public_url learns the port when listening on port 0
  DG_RETURN_IF_ERROR(check_initialised(config));
  bool created = false;
  auto key = load_or_create_key(config, created);
  if (!key) return key.error();
  auto keyring = load_keyring(config, *key);
  if (!keyring) return keyring.error();
  auto owner_secret = load_or_create_owner_secret(config);
  if (!owner_secret) return owner_secret.error();
  auto store = open_migrated_store(config);
  if (!store) return store.error();
  BlobStore blobs(config.blobs_dir());
  DG_RETURN_IF_ERROR(blobs.open());
  metrics::Registry metrics;
  core::TokenSigner signer(std::move(*key), config.issuer);
  Seller seller(**store, system_clock(), SellerOptions{config.instance, config.lease_serials_max});
  ClaimCommitter committer(
      **store, config.claim_batch_max,
      &metrics.histogram("dropgate_claim_batch_claims", "Claims written per group commit.",
                         {1, 2, 4, 8, 16, 32, 64, 128, 256}));
  auto provider = payment_provider(config);
  OriginService service({**store, blobs, signer, *keyring, seller, committer, metrics,
                         system_clock(), config, *owner_secret, provider.get()});
  EdgeHub edges({**store, blobs, signer, *keyring, service.catalog, service.certificates,
                 system_clock(), config, &metrics});
  http::Router router;
  OperatorKeys operator_keys(**store);
  DG_RETURN_IF_ERROR(operator_keys.refresh());
  add_routes(router, service, **store, metrics, operator_keys, config.metrics_token);
  add_edge_routes(router, edges);
  auto options = server_options(config, blobs);
  if (!options) return options.error();
  metrics::RouteMetrics request_metrics(
      metrics,
      {"dropgate_http_requests_total", "HTTP requests by route and status class.",
       "dropgate_http_request_duration_seconds", "HTTP request latency by route."},
      router.route_names());
  options->on_request = [&request_metrics](std::string_view route, unsigned status,
                                           std::chrono::microseconds took) {
    request_metrics.record(route, status, static_cast<double>(took.count()) / 1e6);
  };
  http::Server server(router, *options);
  DG_RETURN_IF_ERROR(start_listening(server));
  // Registered only once the port is ours: registering supersedes the seller
  // of this instance, so a second `serve` that cannot bind must not touch the
  // running origin's seller and leases. Connections wait in the listen
  // backlog until run() below, so no request meets an unregistered seller.
  DG_RETURN_IF_ERROR(seller.start());
  // Nobody can know the port before it is printed below, so no request has used the old value.
  if (config.public_url.ends_with(":0"))
    config.public_url = with_port(config.public_url, server.port());

  std::atomic<bool> running{true};
  std::thread ticker([&] { tick_until_stopped(service, operator_keys, running); });
  log::info("origin listening", {{"listen", config.listen},
                                 {"port", server.port()},
                                 {"database", config.database.empty() ? "sqlite" : "postgresql"},
                                 {"seller", seller.id()},
                                 {"key", signer.key_id()}});
  if (on_listening) on_listening(server.port());
  server.run(true);
  running.store(false);
  ticker.join();
  Status stopped = seller.stop();
  if (!stopped.ok()) log::warn("could not release leases", {{"error", stopped.to_string()}});
  log::info("origin stopped");
  return Status();
}

}  // namespace dg::origin
