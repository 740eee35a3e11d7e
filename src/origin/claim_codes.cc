#include "origin/claim_codes.h"

#include "base/assert.h"
#include "base/limits.h"
#include "base/problem_types.h"
#include "core/claim_code.h"
#include "crypto/keys.h"

namespace dg::origin {
namespace {

// One answer for an unknown code, another drop's, and a revoked one: a
// guesser must not learn which codes exist.
constexpr std::string_view kNotValid = "this code is not valid for this drop";

// The claim's 201 answer (one JSON object, claim_answer_json) with the
// channel it was sold through.
std::string with_channel(std::string body_json) {
  DG_ASSERT(!body_json.empty() && body_json.back() == '}');
  body_json.insert(body_json.size() - 1, R"(,"channel":"code")");
  return body_json;
}

}  // namespace

ClaimCodes::ClaimCodes(Parts parts)
    : parts_(parts),
      per_address_(parts.config.code_redeems_per_address_per_min, limits::rate_limit_keys_max),
      per_drop_(parts.config.code_redeems_per_drop_per_min, limits::rate_limit_keys_max),
      sales_(parts.metrics.counter("dropgate_sales_total", "Sales by channel.",
                                   {{"channel", "code"}})) {}

Status ClaimCodes::refuse(std::string_view reason, Status status) {
  parts_.metrics
      .counter("dropgate_code_redeem_refusals_total", "Claim code redemptions refused, by reason.",
               {{"reason", std::string(reason)}})
      .inc();
  return status;
}

Result<GeneratedCodes> ClaimCodes::generate(std::string_view slug, uint32_t count,
                                            std::string_view label) {
  if (count < 1 || count > limits::code_batch_count_max) {
    return error(problem::invalid_request,
                 "count must be 1 to " + std::to_string(limits::code_batch_count_max));
  }
  if (label.size() > limits::code_batch_label_bytes_max) {
    return error(problem::invalid_request,
                 "label: at most " + std::to_string(limits::code_batch_label_bytes_max) + " bytes");
  }
  for (char c : label) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      return error(problem::invalid_request, "label: no control characters");
    }
  }
  auto cached = parts_.catalog.load_drop(slug, /*fresh=*/true);
  if (!cached) return std::unexpected(cached.error());
  const store::Drop& drop = cached->drop;
  if (drop.state == store::DropState::closed) {
    return error(problem::drop_closed, "codes are not made for a closed drop");
  }
  GeneratedCodes out{{}, drop.spec.slug, {}};
  std::vector<std::string> hashes;
  out.codes.reserve(count);
  hashes.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    std::array<uint8_t, core::claim_code_random_bytes> random;
    crypto::random_bytes(random);
    std::string code = core::make_claim_code(random);
    hashes.push_back(core::claim_code_sha256(code));
    out.codes.push_back(core::format_claim_code(code));
  }
  auto batch =
      parts_.store.create_code_batch(drop.id, label, "origin", hashes, parts_.clock.now_ms());
  if (!batch) {
    if (batch.error().code() == Code::conflict) {
      return error(problem::conflict, "cannot reserve " + std::to_string(count) +
                                          " serials: " + batch.error().message());
    }
    return error(batch.error());
  }
  out.batch = std::move(*batch);
  return out;
}

Result<std::vector<store::CodeBatch>> ClaimCodes::list(std::string_view slug) {
  auto cached = parts_.catalog.load_drop(slug, /*fresh=*/true);
  if (!cached) return std::unexpected(cached.error());
  return parts_.store.list_code_batches(cached->drop.id);
}

Result<store::CodeRevocation> ClaimCodes::revoke(std::string_view slug, int64_t batch_id,
                                                 std::string_view code_untrusted) {
  if ((batch_id == 0) == code_untrusted.empty()) {
    return error(problem::invalid_request, "name a batch or a code, one of the two");
  }
  auto cached = parts_.catalog.load_drop(slug, /*fresh=*/true);
  if (!cached) return std::unexpected(cached.error());
  std::string hash;
  if (!code_untrusted.empty()) {
    auto code = core::parse_claim_code(code_untrusted);
    if (!code) return error(problem::code_malformed, code.error().message());
    hash = core::claim_code_sha256(*code);
  }
  auto revoked =
      parts_.store.revoke_claim_codes(cached->drop.id, batch_id, hash, parts_.clock.now_ms());
  if (!revoked && revoked.error().code() == Code::not_found) {
    return error(problem::not_found, batch_id != 0 ? "no such batch of codes for this drop"
                                                   : "no such code for this drop");
  }
  return revoked;
}

Result<store::ClaimCodeRecord> ClaimCodes::find_code(const store::Drop& drop,
                                                     std::string_view code_untrusted) {
  auto code = core::parse_claim_code(code_untrusted);
  if (!code)
    return error(refuse("malformed", Status(problem::code_malformed, code.error().message())));
  auto record = parts_.store.find_claim_code(core::claim_code_sha256(*code));
  if (!record) {
    if (record.error().code() != Code::not_found) return error(record.error());
    return error(refuse("unknown", Status(problem::code_invalid, std::string(kNotValid))));
  }
  if (record->drop_id != drop.id) {
    return error(refuse("wrong_drop", Status(problem::code_invalid, std::string(kNotValid))));
  }
  if (record->revoked_at_ms) {
    return error(refuse("revoked", Status(problem::code_invalid, std::string(kNotValid))));
  }
  // Redeemed elsewhere (a batch handed to an edge, in a later change).
  if (record->redeemer != "origin") {
    return error(refuse("elsewhere", Status(problem::code_invalid, std::string(kNotValid))));
  }
  if (record->used) {
    return error(refuse("used", Status(problem::code_used, "this code has been used")));
  }
  return record;
}

void ClaimCodes::redeem(std::string_view slug, const RedeemRequest& request,
                        std::string_view client_address, ClaimReply reply) {
  int64_t now_ms = parts_.clock.now_ms();
  // Before anything is read: every attempt counts, found or not.
  uint32_t wait_s = per_address_.take(client_address, now_ms);
  std::string_view whose = "this address";
  if (wait_s == 0) {
    wait_s = per_drop_.take(slug, now_ms);
    whose = "this drop";
  }
  if (wait_s > 0) {
    return reply.answer(
        error(refuse("rate_limited", Status(problem::too_many_redeems,
                                            "too many code attempts from " + std::string(whose) +
                                                "; retry in " + std::to_string(wait_s) + " s")
                                         .with_retry_after(wait_s))));
  }
  auto cached = parts_.catalog.load_drop(slug);
  if (!cached) return reply.answer(std::unexpected(cached.error()));
  auto code = find_code(cached->drop, request.code);
  if (!code) return reply.answer(std::unexpected(code.error()));
  std::string code_name = "code:" + std::to_string(code->id);
  ClaimRequest claim{request.account.empty() ? code_name : request.account, request.territory,
                     store::ClaimSource::code, code_name};
  ClaimReply wrapped{
      [this, answer = std::move(reply.answer)](Result<ClaimOutcome> outcome) mutable {
        if (outcome) {
          sales_.inc();
          outcome->body_json = with_channel(std::move(outcome->body_json));
        } else if (outcome.error().type() == &problem::serial_taken) {
          // Another redemption of this code committed first (or it was revoked meanwhile).
          outcome = error(refuse("used", Status(problem::code_used, "this code has been used")));
        }
        answer(std::move(outcome));
      },
      reply.run_blocking};
  parts_.claims.claim_reserved(slug, claim, code->serial,
                               store::code_batch_seller_id(code->batch_id), std::move(wrapped));
}

}  // namespace dg::origin
