// Claims: holds and claims of serials. A claim takes a serial from this
// origin's Seller, signs its certificate and download token, and hands the
// claim to the ClaimCommitter, which writes it with others in one
// transaction; its answer comes once that batch committed. The rules a claim
// passes are core's (core/claim.h).
//
// Thread safety: every method is safe to call from many threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/metrics.h"
#include "base/status.h"
#include "core/token.h"
#include "origin/committer.h"
#include "origin/config.h"
#include "origin/drop_catalog.h"
#include "origin/idempotency.h"
#include "origin/rate_limit.h"
#include "origin/seller.h"
#include "store/store.h"

namespace dg::origin {

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

struct HoldOutcome {
  store::Hold hold;
  std::string body_json;
};

class Claims {
 public:
  struct Parts {
    store::Store& store;
    const core::TokenSigner& signer;  // certificates and download tokens
    Seller& seller;                   // serials from this origin's leases
    ClaimCommitter& committer;
    metrics::Registry& metrics;
    const Clock& clock;
    const OriginConfig& config;
    const core::OwnerSecret& owner_secret;  // certificates name owners by core::owner_id
    DropCatalog& catalog;
    IdempotencyRecords& idempotency;  // a refused claim defers to its key's stored answer
  };
  explicit Claims(Parts parts);

  // Never blocks the calling thread (an I/O thread may call it): what needs
  // the store runs through reply.run_blocking.
  void claim(std::string_view slug, const ClaimRequest& request, const Idempotency& idempotency,
             ClaimReply reply);
  // Rate-limited per account and per `client_address` (429 too-many-holds).
  // The hold lasts `ttl` (default: the configured hold_ttl; a checkout's is longer).
  Result<HoldOutcome> hold(std::string_view slug, const ClaimRequest& request,
                           std::string_view client_address,
                           std::optional<std::chrono::seconds> ttl = std::nullopt);
  void confirm_hold(int64_t hold_id, const std::string& payment_ref, const Idempotency& idempotency,
                    ClaimReply reply);
  // Claims `serial`, reserved for this claim in a lease `seller_id` holds (a
  // claim code's serial): the same rules and answer as claim(), but no other
  // serial is tried. A serial taken meanwhile, or no longer in that lease,
  // is refused (serial-taken) and never given to this origin's Seller.
  // Runs on a thread that may block.
  void claim_reserved(std::string_view slug, const ClaimRequest& request, uint32_t serial,
                      std::string seller_id, ClaimReply reply);
  // Periodic: heartbeat, hold expiry (with events and metrics), reclaim.
  void tick();

 private:
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
    bool reserved = false;  // a serial of another seller's lease (claim_reserved)
  };
  // claim() on a thread that may block: reads the drop, leases serials.
  void claim_blocking(std::string_view slug, const ClaimRequest& request,
                      const Idempotency& idempotency, ClaimReply reply);
  // Takes a serial (the attempt's next) and finishes the claim with it.
  void claim_next_serial(std::unique_ptr<ClaimAttempt> claim);
  // Signs the claim's tokens and hands the claim to the committer, sold
  // under `seller_id` (empty for a confirmed hold: its serial is the hold's).
  void finish_claim(std::unique_ptr<ClaimAttempt> claim, uint32_t serial, std::string seller_id);
  ClaimCommitter::Completion on_committed(std::unique_ptr<ClaimAttempt> claim, uint32_t serial,
                                          std::string body_json);
  // After the store refused the claim (off the committer's thread).
  void claim_refused(std::unique_ptr<ClaimAttempt> claim, uint32_t serial, const Status& failure);
  // The answer to a claim the store did not take (its serial already given back).
  Result<ClaimOutcome> claim_not_taken(const Status& failure, const store::Drop& drop,
                                       const Idempotency& idempotency, bool from_hold);

  Parts parts_;
  RateLimiter holds_per_account_;
  RateLimiter holds_per_address_;
  struct Metrics {
    metrics::Counter& claims;
    metrics::Counter& holds;
    metrics::Counter& holds_expired;
    metrics::Counter& sold_out;
    metrics::Counter& tokens_issued;
  } metrics_;
};

}  // namespace dg::origin
