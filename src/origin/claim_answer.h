// What a claim answers, and the short idempotency record it is rebuilt from
// when the claim's Idempotency-Key is replayed: written in one place, so that
// the first answer and a replay cannot differ.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/manifest.h"
#include "origin/idempotency.h"
#include "store/store.h"

namespace dg::origin {

// A claim's idempotency record keeps only what its answer cannot be rebuilt
// without (the certificate and the claim time are in the claim's row): about
// 100 bytes instead of the ~2 KB answer, written with every claim.
inline constexpr std::string_view kClaimRecordPrefix = R"({"rebuild":"claim",)";

// The answer to a claim (and to a replay of it, rebuilt from the claim's row).
std::string claim_answer_json(const std::string& public_url, const store::Drop& drop,
                              const core::Manifest& manifest, uint32_t serial,
                              const std::string& account, const std::string& owner,
                              int64_t claimed_at_ms, const std::string& cert,
                              const std::string& download);

// The idempotency record a claim writes in its own transaction: only what
// its answer cannot be rebuilt without (see kClaimRecordPrefix).
store::IdempotencyRecord claim_record(const Idempotency& idem, const store::Drop& drop,
                                      uint32_t serial, uint32_t ttl_s,
                                      const std::string& download_id, int64_t now_ms);

}  // namespace dg::origin
