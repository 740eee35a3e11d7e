#include "origin/claims.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/problem_types.h"
#include "base/time.h"
#include "core/claim.h"
#include "core/validate.h"
#include "origin/claim_answer.h"
#include "origin/events.h"

namespace dg::origin {
namespace {

// A claim event's detail: the tokens signed with the claim are named in it
// rather than written as events of their own (two rows fewer per claim).
std::string claim_event_detail(store::ClaimSource source) {
  std::string detail = "{\"source\":";
  append_json_string(detail, store::claim_source_name(source));
  return detail + R"(,"tokens":["cert","download"]})";
}

}  // namespace

Claims::Claims(Parts parts)
    : parts_(parts),
      holds_per_account_(parts.config.holds_per_account_per_min, limits::rate_limit_keys_max),
      holds_per_address_(parts.config.holds_per_address_per_min, limits::rate_limit_keys_max),
      metrics_{
          parts.metrics.counter("dropgate_claims_total", "Claims recorded."),
          parts.metrics.counter("dropgate_holds_total", "Holds created."),
          parts.metrics.counter("dropgate_holds_expired_total", "Holds that expired unconfirmed."),
          parts.metrics.counter("dropgate_sold_out_refusals_total",
                                "Claims and holds refused: sold out."),
          parts.metrics.counter("dropgate_tokens_issued_total", "Tokens signed."),
      } {}

// The claim rules are core's (core/claim.h); this supplies the drop's facts.
Status Claims::check_claimable(const CachedDrop& cached, const ClaimRequest& request,
                               int64_t now_ms) {
  const store::Drop& drop = cached.drop;
  return core::check_claimable(drop.state, {drop.spec.opens_at_ms, drop.spec.closes_at_ms},
                               cached.manifest != nullptr, drop.spec.rights, request.territory,
                               now_ms);
}

// The common claim runs on the calling thread — an I/O thread, for the HTTP
// route — and never waits: its drop is cached, it passes the rules, and this
// origin holds a serial of the drop, so it only signs and hands the claim to
// the committer (no hop to another thread and back). Anything else — a
// refusal, a drop to read, a lease to take — continues on a thread that may
// block, where it runs as before.
void Claims::claim(std::string_view slug, const ClaimRequest& request, const Idempotency& idem,
                   ClaimReply reply) {
  if (core::validate_identifier(request.account, "account").ok()) {
    std::optional<CachedDrop> cached = parts_.catalog.cached_drop(slug);
    if (cached && check_claimable(*cached, request, parts_.clock.now_ms()).ok()) {
      if (std::optional<Seller::Taken> taken = parts_.seller.try_take(cached->drop.id)) {
        return finish_claim(
            std::make_unique<ClaimAttempt>(
                ClaimAttempt{std::move(*cached), request, idem, std::nullopt, 0, std::move(reply)}),
            taken->serial, std::move(taken->seller_id));
      }
    }
  }
  auto run_blocking = reply.run_blocking;
  run_blocking([this, slug = std::string(slug), request, idem, reply = std::move(reply)]() mutable {
    claim_blocking(slug, request, idem, std::move(reply));
  });
}

void Claims::claim_blocking(std::string_view slug, const ClaimRequest& request,
                            const Idempotency& idem, ClaimReply reply) {
  if (Status s = core::validate_identifier(request.account, "account"); !s.ok())
    return reply.answer(error(s));
  auto cached = parts_.catalog.load_drop(slug);
  if (!cached) return reply.answer(std::unexpected(cached.error()));
  if (Status s = check_claimable(*cached, request, parts_.clock.now_ms()); !s.ok())
    return reply.answer(error(s));
  claim_next_serial(std::make_unique<ClaimAttempt>(
      ClaimAttempt{std::move(*cached), request, idem, std::nullopt, 0, std::move(reply)}));
}

void Claims::claim_next_serial(std::unique_ptr<ClaimAttempt> claim) {
  const store::Drop& drop = claim->cached.drop;
  if (claim->attempt++ >= limits::claim_serial_attempts_max) {
    return claim->reply.answer(error(
        Status(problem::busy, "could not find a free serial; try again").with_retry_after(1)));
  }
  auto serial = parts_.seller.take(drop.id);
  if (!serial) {
    if (serial.error().code() == Code::conflict) {
      metrics_.sold_out.inc();
      return claim->reply.answer(
          error(problem::sold_out,
                "all " + std::to_string(drop.spec.edition_size) + " serials are taken"));
    }
    return claim->reply.answer(error(serial.error()));
  }
  finish_claim(std::move(claim), *serial, parts_.seller.id());
}

void Claims::finish_claim(std::unique_ptr<ClaimAttempt> claim, uint32_t serial,
                          std::string seller_id) {
  const store::Drop& drop = claim->cached.drop;
  const ClaimRequest& request = claim->request;
  const std::optional<int64_t> hold_id = claim->hold_id;
  // Announced before signing, so that a batch about to be written waits for
  // this claim rather than leaving it to the next commit.
  ClaimCommitter::Announcement announcement = parts_.committer.announce();
  int64_t now_ms = parts_.clock.now_ms();
  // Certificates are public by serial, so they name the owner by a pseudonym.
  std::string owner = core::owner_id(parts_.owner_secret, drop.spec.slug, request.account);
  core::CertFields cert_fields{owner,
                               drop.spec.slug,
                               serial,
                               drop.spec.edition_size,
                               claim->cached.manifest_sha256,
                               drop.spec.rights};
  std::string cert_id;
  auto cert = core::issue_cert(parts_.signer, cert_fields, now_ms, &cert_id);
  // The download token names its certificate, so edges turn it away once the
  // certificate is on the revocation list.
  core::DownloadFields download_fields{
      request.account, drop.spec.slug, drop.manifest_version, {"*"}, cert_id};
  std::string download_id;
  auto download = core::issue_download(
      parts_.signer, download_fields, now_ms,
      static_cast<uint32_t>(to_s(parts_.config.download_token_ttl)), &download_id);
  if (!cert || !download) {
    if (!hold_id && !claim->reserved) parts_.seller.give_back(drop.id, serial);
    // This may be an I/O thread, and answering a refusal may read the store.
    auto run_blocking = claim->reply.run_blocking;
    return run_blocking(
        [claim = std::move(claim), failure = !cert ? cert.error() : download.error()]() mutable {
          claim->reply.answer(error(failure));
        });
  }
  std::string body_json =
      claim_answer_json(parts_.config.public_url, drop, *claim->cached.manifest, serial,
                        request.account, owner, now_ms, *cert, *download);

  store::ClaimInsert insert;
  insert.drop_id = drop.id;
  insert.serial = serial;
  insert.account = request.account;
  insert.source = request.source;
  insert.payment_ref = request.payment_ref;
  insert.cert_id = cert_id;
  insert.cert_token = *cert;
  insert.per_buyer_limit = drop.spec.per_buyer_limit;
  insert.at_ms = now_ms;
  insert.from_hold_id = hold_id;
  // The store checks the serial is still in this seller's lease, so a serial
  // reclaimed from under a process wrongly thought dead cannot be sold twice.
  if (!hold_id) insert.seller_id = std::move(seller_id);
  if (!claim->idempotency.key.empty()) {
    insert.idempotency = claim_record(claim->idempotency, drop, serial,
                                      static_cast<uint32_t>(to_s(parts_.config.download_token_ttl)),
                                      download_id, now_ms);
  }
  insert.events = {
      {"claim", drop.id, serial, request.account, claim_event_detail(request.source), now_ms, ""}};
  parts_.committer.commit(std::move(insert), std::move(announcement),
                          on_committed(std::move(claim), serial, std::move(body_json)));
}

// Answers on the committer's thread once the batch committed; a refusal
// moves to a thread that may block (its answer may read the store).
ClaimCommitter::Completion Claims::on_committed(std::unique_ptr<ClaimAttempt> claim,
                                                uint32_t serial, std::string body_json) {
  return [this, claim = std::move(claim), serial,
          body_json = std::move(body_json)](Result<store::Claim> taken) mutable {
    if (taken) {
      metrics_.claims.inc();
      metrics_.tokens_issued.inc(2);
      return claim->reply.answer(ClaimOutcome{201, std::move(body_json)});
    }
    auto run_blocking = claim->reply.run_blocking;
    run_blocking(
        [this, claim = std::move(claim), serial, failure = std::move(taken.error())]() mutable {
          claim_refused(std::move(claim), serial, failure);
        });
  };
}

void Claims::claim_refused(std::unique_ptr<ClaimAttempt> claim, uint32_t serial,
                           const Status& failure) {
  const store::Drop& drop = claim->cached.drop;
  if (!claim->hold_id && !claim->reserved) parts_.seller.give_back(drop.id, serial);
  auto outcome = claim_not_taken(failure, drop, claim->idempotency, claim->hold_id.has_value());
  if (!outcome && outcome.error().type() == &problem::serial_taken && !claim->hold_id &&
      !claim->reserved) {
    // The serial was taken after all (it must not happen; UNIQUE caught it): try the next.
    log::warn("serial already claimed; taking another",
              {{"drop", drop.spec.slug}, {"serial", serial}});
    return claim_next_serial(std::move(claim));
  }
  claim->reply.answer(std::move(outcome));
}

Result<ClaimOutcome> Claims::claim_not_taken(const Status& failure, const store::Drop& drop,
                                             const Idempotency& idem, bool from_hold) {
  if (failure.code() == Code::limit_exceeded) {
    return error(problem::per_buyer_limit, "this account already holds " +
                                               std::to_string(drop.spec.per_buyer_limit) +
                                               " of this drop");
  }
  if (failure.code() == Code::conflict) {
    // The Idempotency-Key was used (a retry, or a race with the same key):
    // answer as its first use did, or 422 if that was another request.
    if (auto replayed = parts_.idempotency.replay(idem)) {
      if (!*replayed) return std::unexpected(replayed->error());
      return ClaimOutcome{(*replayed)->status, (*replayed)->body};
    }
    if (from_hold) return error(problem::hold_gone, "the hold expired or was already used");
    return error(problem::serial_taken, failure.message());
  }
  return error(failure);
}

Result<HoldOutcome> Claims::hold(std::string_view slug, const ClaimRequest& request,
                                 std::string_view client_address,
                                 std::optional<std::chrono::seconds> ttl) {
  if (Status s = core::validate_identifier(request.account, "account"); !s.ok()) return error(s);
  int64_t now_ms = parts_.clock.now_ms();
  if (uint32_t wait_s = holds_per_address_.take(client_address, now_ms); wait_s > 0) {
    return error(Status(problem::too_many_holds, "too many holds from this address; retry in " +
                                                     std::to_string(wait_s) + " s")
                     .with_retry_after(wait_s));
  }
  if (uint32_t wait_s = holds_per_account_.take(request.account, now_ms); wait_s > 0) {
    return error(Status(problem::too_many_holds, "too many holds for this account; retry in " +
                                                     std::to_string(wait_s) + " s")
                     .with_retry_after(wait_s));
  }
  auto cached = parts_.catalog.load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  if (Status s = check_claimable(*cached, request, now_ms); !s.ok()) return error(s);
  auto held = parts_.store.account_claim_count(cached->drop.id, request.account);
  if (held && *held >= cached->drop.spec.per_buyer_limit) {
    return error(problem::per_buyer_limit, "this account already holds its share of this drop");
  }
  auto serial = parts_.seller.take(cached->drop.id);
  if (!serial) {
    if (serial.error().code() == Code::conflict) {
      metrics_.sold_out.inc();
      return error(problem::sold_out, "every serial is claimed or held");
    }
    return error(serial.error());
  }
  int64_t expires_at_ms = now_ms + to_ms(ttl.value_or(parts_.config.hold_ttl));
  auto hold =
      parts_.store.create_hold(cached->drop.id, *serial, request.account, parts_.seller.id(),
                               expires_at_ms, now_ms, cached->drop.spec.per_buyer_limit);
  if (!hold) {
    parts_.seller.give_back(cached->drop.id, *serial);
    if (hold.error().code() == Code::limit_exceeded) {
      return error(problem::per_buyer_limit,
                   "this account's claims and holds already reach the limit of " +
                       std::to_string(cached->drop.spec.per_buyer_limit) + " for this drop");
    }
    return error(hold.error());
  }
  metrics_.holds.inc();
  note_events(parts_.store, {{"hold.created", cached->drop.id, *serial, request.account,
                              R"({"hold_id":)" + std::to_string(hold->id) + "}", now_ms, ""}});
  boost::json::object body{{"hold_id", hold->id},
                           {"drop", cached->drop.spec.slug},
                           {"serial", *serial},
                           {"account", request.account},
                           {"expires_at", format_rfc3339(expires_at_ms)},
                           {"confirm_url", "/v1/holds/" + std::to_string(hold->id) + "/confirm"}};
  return HoldOutcome{*hold, boost::json::serialize(body)};
}

void Claims::confirm_hold(int64_t hold_id, const std::string& payment_ref, const Idempotency& idem,
                          ClaimReply reply) {
  auto hold = parts_.store.get_hold(hold_id);
  if (!hold) {
    if (hold.error().code() == Code::not_found) {
      return reply.answer(
          error(problem::hold_gone, "no such hold: it expired, was used, or never existed"));
    }
    return reply.answer(error(hold.error()));
  }
  if (hold->expires_at_ms <= parts_.clock.now_ms()) {
    return reply.answer(
        error(problem::hold_gone, "the hold expired at " + format_rfc3339(hold->expires_at_ms)));
  }
  auto drop = parts_.store.get_drop_by_id(hold->drop_id);
  if (!drop) return reply.answer(error(drop.error()));
  auto cached = parts_.catalog.load_drop(drop->spec.slug);
  if (!cached) return reply.answer(std::unexpected(cached.error()));
  ClaimRequest request{hold->account, "", store::ClaimSource::payment, payment_ref};
  // The window and state were checked when the hold was made; a buyer who paid
  // within the hold gets the serial even if the window closed meanwhile.
  finish_claim(std::make_unique<ClaimAttempt>(ClaimAttempt{std::move(*cached), std::move(request),
                                                           idem, hold_id, 0, std::move(reply)}),
               hold->serial, /*seller_id=*/"");
}

void Claims::claim_reserved(std::string_view slug, const ClaimRequest& request, uint32_t serial,
                            std::string seller_id, ClaimReply reply) {
  if (Status s = core::validate_identifier(request.account, "account"); !s.ok())
    return reply.answer(error(s));
  auto cached = parts_.catalog.load_drop(slug);
  if (!cached) return reply.answer(std::unexpected(cached.error()));
  if (Status s = check_claimable(*cached, request, parts_.clock.now_ms()); !s.ok())
    return reply.answer(error(s));
  auto claim = std::make_unique<ClaimAttempt>(
      ClaimAttempt{std::move(*cached), request, Idempotency{}, std::nullopt, 0, std::move(reply)});
  claim->reserved = true;
  finish_claim(std::move(claim), serial, std::move(seller_id));
}

void Claims::tick() {
  auto expired = parts_.seller.tick();
  if (!expired) {
    log::warn("seller tick failed", {{"error", expired.error().to_string()}});
    return;
  }
  if (expired->empty()) return;
  std::vector<store::Event> events;
  for (const auto& h : *expired) {
    events.push_back({"hold.expired", h.drop_id, h.serial, h.account,
                      R"({"hold_id":)" + std::to_string(h.id) + "}", parts_.clock.now_ms(), ""});
  }
  metrics_.holds_expired.inc(expired->size());
  note_events(parts_.store, events);
}

}  // namespace dg::origin
