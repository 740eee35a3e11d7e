// EdgeService: delivery at the venue. Download tokens are verified here,
// against the synced keyring and revocation list, with no origin round trip;
// a token already verified costs a map lookup, not a signature check. Files
// are found by manifest path → sha256 → vault, never by joining a path.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/env.h"
#include "base/metrics.h"
#include "core/token.h"
#include "edge/catalog.h"
#include "edge/config.h"
#include "edge/token_cache.h"
#include "edge/vault.h"
#include "http/http.h"
#include "store/outbox.h"

namespace dg::edge {

class EdgeService {
 public:
  EdgeService(const EdgeConfig& config, Catalog& catalog, Vault& vault, store::Outbox& outbox,
              metrics::Registry& metrics, const Clock& clock);

  // Download tokens signed by this edge's own key (its offline sales) are
  // accepted besides the origin's: the keyring used is the origin's plus it.
  void trust_own_key(const crypto::PublicKey& key);

  http::Response file(http::Request& request);
  http::Response archive(http::Request& request);
  http::Response manifest(http::Request& request);
  http::Response health();
  std::string metrics_text();

 private:
  // The verified token for this request and drop. Shared with the cache, not copied.
  using Verified = std::shared_ptr<const core::VerifiedDownload>;
  // `serving` is the catalog as of this request, `now_ms` its time. The error
  // names its problem type, except for a token that failed verification:
  // then it is the verifier's own Status (see deny()).
  Result<Verified> authorize(const http::Request& request, std::string_view slug,
                             const Catalog::Serving& serving, int64_t now_ms);
  Result<Verified> verify_cached(std::string_view token,
                                 const std::shared_ptr<const crypto::Keyring>& keyring,
                                 int64_t now_ms);
  // The origin's keyring plus this edge's own key, rebuilt when the origin's changes.
  std::shared_ptr<const crypto::Keyring> with_own_key(
      const std::shared_ptr<const crypto::Keyring>& origin_keyring);
  // The problem for a request turned away, counted by its reason in
  // dropgate_edge_token_refusals_total.
  http::Response deny(const Status& why);
  void count(std::string_view kind, std::string_view slug, std::string_view account,
             std::string_view what, uint64_t bytes);
  void report_dropped_event(const Status& why);

  const EdgeConfig& config_;
  Catalog& catalog_;
  Vault& vault_;
  store::Outbox& outbox_;
  metrics::Registry& metrics_;
  const Clock& clock_;

  // Verified tokens, and the verdicts on ones that can never pass under this
  // keyring (a bad signature, an unknown key, expired): a client retrying a
  // dead link costs a lookup, not a signature check, each time. Bounded in
  // bytes (token_cache_mb_max), keyed by a hash of the token.
  std::mutex cache_mutex_;
  TokenCache cache_;
  // Download event ids: unique to this process run (a random prefix) and
  // unique within it (a counter), without a system call per download.
  const std::string event_id_prefix_;
  std::atomic<uint64_t> event_counter_{0};
  // The keyring the cache was filled under (held, so a new keyring can never
  // reuse its address unnoticed); the cache is cleared when it changes.
  std::shared_ptr<const crypto::Keyring> cache_keyring_;
  std::mutex own_key_mutex_;
  std::optional<crypto::PublicKey> own_key_;
  std::shared_ptr<const crypto::Keyring> own_base_;     // the origin keyring it was built from
  std::shared_ptr<const crypto::Keyring> own_keyring_;  // origin keys + own key

  metrics::Counter& cache_hits_;
  metrics::Counter& cache_misses_;
  metrics::Counter& downloads_completed_;
  metrics::Counter& downloads_failed_;
  metrics::Counter& bytes_sent_;
  metrics::Counter& outbox_dropped_;
  std::mutex drop_log_mutex_;
  int64_t drop_logged_at_ms_ = 0;
  uint64_t drops_unlogged_ = 0;
};

// /metrics answers loopback clients and `metrics_token` bearers.
void add_edge_delivery_routes(http::Router& router, EdgeService& service,
                              std::string metrics_token = "");

}  // namespace dg::edge
