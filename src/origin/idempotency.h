// IdempotencyRecords: the answers stored under Idempotency-Keys, so that a
// retried request gets its first answer and, of concurrent requests with one
// key, exactly one acts. A claim stores a short record from which its answer
// is rebuilt (claim_answer.h).
//
// Thread safety: every method is safe to call from many handler threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"
#include "core/token.h"
#include "origin/config.h"
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

class IdempotencyRecords {
 public:
  struct Parts {
    store::Store& store;
    const core::TokenSigner& signer;  // re-signs a rebuilt claim answer's download token
    const Clock& clock;
    const OriginConfig& config;
    const core::OwnerSecret& owner_secret;  // a rebuilt claim answer names its owner
  };
  explicit IdempotencyRecords(Parts parts) : parts_(parts) {}

  // The stored answer to an Idempotency-Key: nullopt when the key is unknown;
  // 422 when it was used with another request; 409 idempotency-in-flight
  // (Retry-After) while its first request is still running.
  std::optional<Result<Replay>> replay(const Idempotency& idempotency);
  // Reserves the key before an action runs, so that of concurrent requests
  // with one key exactly one acts. nullopt: reserved for `owner` (act, then
  // settle); otherwise the answer to give instead, as replay().
  std::optional<Result<Replay>> reserve(const Idempotency& idempotency, std::string_view owner);
  // Stores a 2xx answer in the reservation, or frees the key for a retry
  // after any other answer. A failure is logged and must become a 500.
  Status settle(const Idempotency& idempotency, std::string_view owner, unsigned status,
                const std::string* body_json);

 private:
  std::optional<Result<Replay>> answer_from(const store::IdempotencyRecord& record,
                                            const Idempotency& idempotency);
  Result<Replay> rebuild_claim_answer(const store::IdempotencyRecord& record);

  Parts parts_;
};

}  // namespace dg::origin
