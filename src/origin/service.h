// OriginService: the origin's domain operations, independent of HTTP. The
// routes in routes.cc parse requests, call these, and render the results.
//
// Thread safety: every method is safe to call from many handler threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/metrics.h"
#include "base/status.h"
#include "core/manifest.h"
#include "core/token.h"
#include "crypto/keyring.h"
#include "origin/blob_store.h"
#include "origin/committer.h"
#include "origin/config.h"
#include "origin/rate_limit.h"
#include "origin/seller.h"
#include "store/store.h"

namespace dg::origin {

// A request's idempotency: same key + same body → same response.
struct Idempotency {
  std::string scope;
  std::string key;             // empty: none
  std::string request_sha256;  // of method, path and body
};

// A stored response to replay, or nothing.
struct Replay {
  unsigned status = 0;
  std::string body;
};

struct ClaimRequest {
  std::string account;
  std::string territory;  // ISO 3166-1 alpha-2 of the buyer, when known
  store::ClaimSource source = store::ClaimSource::operator_grant;
  std::string payment_ref;
};

// What a successful claim (or replay) returns to the client.
struct ClaimOutcome {
  unsigned status = 201;
  std::string body_json;
};

// How an asynchronous claim (claim(), confirm_hold()) answers. `answer` is
// called exactly once: with a success on the committer's thread once the
// claim's batch committed (so it must not block); with a refusal only on a
// thread that may block (the caller's, or a job given to `run_blocking`),
// since answering one may read the store (a stored Idempotency-Key answer).
struct ClaimReply {
  std::move_only_function<void(Result<ClaimOutcome>)> answer;
  // Runs a job off the committer's thread (the HTTP handler pool; tests may run it inline).
  std::function<void(std::move_only_function<void()>)> run_blocking;
};

struct PublishOutcome {
  store::ManifestRecord manifest;
  bool changed = true;  // false: nothing changed, `manifest` is the current version
};

struct HoldOutcome {
  store::Hold hold;
  std::string body_json;
};

// A file ready to send.
struct Delivery {
  std::filesystem::path blob_path;
  core::Asset asset;
  std::string account;
  std::string token_id;
  int64_t drop_id = 0;
};

struct SignedList {
  std::string json;
  std::string minisig;
};

class OriginService {
 public:
  struct Parts {
    store::Store& store;
    BlobStore& blobs;
    const core::TokenSigner& signer;
    const crypto::Keyring& keyring;
    Seller& seller;
    ClaimCommitter& committer;
    metrics::Registry& metrics;
    const Clock& clock;
    const OriginConfig& config;
    const core::OwnerSecret& owner_secret;  // certificates name owners by core::owner_id
  };
  explicit OriginService(Parts parts);

  // --- Operator: drops and assets.
  Result<store::Drop> create_drop(const store::DropSpec& spec);
  Result<store::Drop> update_drop(std::string_view slug, const store::DropSpec& spec);
  Result<store::DropSpec> current_spec(std::string_view slug);
  Result<store::AssetRecord> add_asset(std::string_view slug, std::string_view path,
                                       const std::filesystem::path& spooled_file,
                                       uint64_t size_bytes, std::string_view sha256,
                                       std::string_view media_type);
  Result<store::Drop> remove_asset(std::string_view slug, std::string_view path);
  // Signs and stores the next manifest version from the drop's assets; a
  // draft becomes scheduled (or live once its window opens). When the content
  // (drop, edition, window, rights, assets) equals the current version's and
  // that version has more than half its lifetime left, signs nothing and
  // returns the current version (changed: false).
  Result<PublishOutcome> publish(std::string_view slug);
  Result<store::Drop> pause(std::string_view slug);
  Result<store::Drop> resume(std::string_view slug);
  Result<store::Drop> close(std::string_view slug);
  Result<std::string> operator_status_json(std::string_view slug);
  // One page of drops by slug, after `after_slug` (from the first when empty),
  // each with its claimed count; "next_after" names the cursor of the next
  // page, null on the last one.
  Result<std::string> list_drops_json(std::string_view after_slug, uint32_t count_max);

  // --- Public.
  Result<std::string> public_drop_json(std::string_view slug);
  Result<store::ManifestRecord> current_manifest(std::string_view slug);
  std::string keyring_json() const;
  const OriginConfig& config() const { return parts_.config; }
  // The injected clock, for the routes' own times (a drop's default opens_at).
  const Clock& clock() const { return parts_.clock; }

  // --- Holds and claims.
  // The stored answer to an Idempotency-Key: nullopt when the key is unknown;
  // 422 when it was used with another request; 409 idempotency-in-flight
  // (Retry-After) while its first request is still running.
  std::optional<Result<Replay>> replay(const Idempotency& idempotency);
  // Reserves the key before an action runs, so that of concurrent requests
  // with one key exactly one acts. nullopt: reserved for `owner` (act, then
  // settle_idempotency); otherwise the answer to give instead, as replay().
  std::optional<Result<Replay>> reserve_idempotency(const Idempotency& idempotency,
                                                    std::string_view owner);
  // Stores a 2xx answer in the reservation, or frees the key for a retry
  // after any other answer. A failure is logged and must become a 500.
  Status settle_idempotency(const Idempotency& idempotency, std::string_view owner, unsigned status,
                            const std::string* body_json);
  void claim(std::string_view slug, const ClaimRequest& request, const Idempotency& idempotency,
             ClaimReply reply);
  // Rate-limited per account and per `client_address` (429 too-many-holds).
  Result<HoldOutcome> hold(std::string_view slug, const ClaimRequest& request,
                           std::string_view client_address);
  void confirm_hold(int64_t hold_id, const std::string& payment_ref, const Idempotency& idempotency,
                    ClaimReply reply);
  // Periodic: heartbeat, hold expiry (with events and metrics), reclaim.
  void tick();

  // --- Delivery: checks the download token and finds the file by manifest path.
  Result<Delivery> resolve_download(std::string_view slug, std::string_view path,
                                    std::string_view token_untrusted);
  void record_download_started(const Delivery& delivery, uint64_t offset_bytes);
  // complete: every body byte was sent; reaches_end: the body ran to the file's last byte.
  void record_download(const Delivery& delivery, bool complete, bool reaches_end,
                       uint64_t bytes_sent);

  // --- Certificates.
  Result<std::string> certificate_json(std::string_view slug, uint32_t serial);
  Result<std::string> revoke(std::string_view slug, uint32_t serial, std::string_view reason);
  // The signed list of revoked certificates. Re-signed when a claim is
  // revoked and every few minutes (so its issued_at stays fresh); between
  // those, every fetch returns the same bytes, so the JSON and its signature
  // can be fetched separately.
  Result<SignedList> revocation_list();

  // Effective state: a scheduled drop whose window opened is live.
  static store::DropState effective_state(const store::Drop& drop, int64_t now_ms);

 private:
  // Appends measurement events for an action that already happened. The
  // action stands whether or not they are written, so a failure is logged
  // (with the events' kinds), not returned.
  void note_events(const std::vector<store::Event>& events);
  struct CachedDrop {
    store::Drop drop;
    std::shared_ptr<const core::Manifest> manifest;  // null before the first publish
    std::string manifest_sha256;
    int64_t loaded_at_ms = 0;
  };
  Result<CachedDrop> load_drop(std::string_view slug, bool fresh = false);
  Result<CachedDrop> read_drop(std::string_view slug, int64_t now_ms);  // from the store
  Result<Replay> rebuild_claim_answer(const store::IdempotencyRecord& record);
  void forget_drop(std::string_view slug);
  // ok, or why the drop cannot be claimed now (a problem type of its own).
  Status check_claimable(const CachedDrop& cached, const ClaimRequest& request, int64_t now_ms);
  // A claim on its way: what its answer and a retry with another serial need.
  struct ClaimAttempt {
    CachedDrop cached;
    ClaimRequest request;
    Idempotency idempotency;
    std::optional<int64_t> hold_id;  // a confirmed hold's serial: no other is tried
    uint32_t attempt = 0;
    ClaimReply reply;
  };
  // Takes a serial (the attempt's next) and finishes the claim with it.
  void claim_next_serial(std::unique_ptr<ClaimAttempt> claim);
  // Signs the claim's tokens and hands the claim to the committer.
  void finish_claim(std::unique_ptr<ClaimAttempt> claim, uint32_t serial);
  ClaimCommitter::Completion on_committed(std::unique_ptr<ClaimAttempt> claim, uint32_t serial,
                                          std::string body_json);
  // After the store refused the claim (off the committer's thread).
  void claim_refused(std::unique_ptr<ClaimAttempt> claim, uint32_t serial, const Status& failure);
  // The answer to a claim the store did not take (its serial already given back).
  Result<ClaimOutcome> claim_not_taken(const Status& failure, const store::Drop& drop,
                                       const Idempotency& idempotency, bool from_hold);
  std::optional<Result<Replay>> answer_from(const store::IdempotencyRecord& record,
                                            const Idempotency& idempotency);
  Result<store::Drop> transition(std::string_view slug, std::vector<store::DropState> from,
                                 store::DropState to);

  Parts parts_;
  RateLimiter holds_per_account_;
  RateLimiter holds_per_address_;
  std::mutex revocations_mutex_;
  std::optional<SignedList> revocations_;
  std::set<std::string> revoked_cert_ids_;  // the ids on revocations_
  int64_t revocations_signed_at_ms_ = 0;
  std::mutex cache_mutex_;
  std::map<std::string, CachedDrop, std::less<>> cache_;
  std::set<std::string, std::less<>> refreshing_;  // expired entries one caller is reloading
  uint64_t cache_generation_ = 0;                  // forget_drop calls so far
  struct Metrics {
    metrics::Counter& claims;
    metrics::Counter& holds;
    metrics::Counter& holds_expired;
    metrics::Counter& sold_out;
    metrics::Counter& downloads_completed;
    metrics::Counter& downloads_failed;
    metrics::Counter& download_bytes;
    metrics::Counter& tokens_issued;
  } metrics_;
};

}  // namespace dg::origin
