// ClaimCodes: single-use codes that each redeem one reserved serial of a drop
// (docs/formats/claim-codes.md). Generating a batch reserves its serials in
// the store (a lease per code, held by the batch's own seller), so codes can
// never oversell; a redemption is a claim of the code's serial through the
// one claim path (Claims::claim_reserved, source "code"), and the claim's
// UNIQUE(drop, serial) is what makes a code good for one serial only.
//
// Thread safety: every method is safe to call from many threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/metrics.h"
#include "base/status.h"
#include "origin/claims.h"
#include "origin/config.h"
#include "origin/drop_catalog.h"
#include "origin/rate_limit.h"
#include "store/store.h"

namespace dg::origin {

struct GeneratedCodes {
  store::CodeBatch batch;
  std::string slug;
  std::vector<std::string> codes;  // printed form; shown once, never stored
};

struct RedeemRequest {
  std::string code;       // as typed
  std::string account;    // empty: the claim is made out to "code:<code id>"
  std::string territory;  // for drops with territory rules
};

class ClaimCodes {
 public:
  struct Parts {
    store::Store& store;
    Claims& claims;
    DropCatalog& catalog;
    metrics::Registry& metrics;
    const Clock& clock;
    const OriginConfig& config;
  };
  explicit ClaimCodes(Parts parts);

  // Operator. conflict when the drop has fewer unleased serials than `count`.
  Result<GeneratedCodes> generate(std::string_view slug, uint32_t count, std::string_view label);
  Result<std::vector<store::CodeBatch>> list(std::string_view slug);
  // A batch (`code_untrusted` empty) or one code (`batch_id` 0).
  Result<store::CodeRevocation> revoke(std::string_view slug, int64_t batch_id,
                                       std::string_view code_untrusted);

  // Public, rate-limited per `client_address` and per drop (429
  // too-many-redeems). Answers like Claims::claim, its 201 body with
  // "channel":"code"; refusals: code-malformed, code-invalid, code-used.
  // Runs on a thread that may block.
  void redeem(std::string_view slug, const RedeemRequest& request, std::string_view client_address,
              ClaimReply reply);

 private:
  // The code's record, checked against the drop; counts a refusal's reason.
  Result<store::ClaimCodeRecord> find_code(const store::Drop& drop, std::string_view code);
  Status refuse(std::string_view reason, Status status);

  Parts parts_;
  RateLimiter per_address_;
  RateLimiter per_drop_;
  metrics::Counter& sales_;
};

}  // namespace dg::origin
