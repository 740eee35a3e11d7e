#include "origin/checkout.h"

#include <boost/json.hpp>

#include "base/assert.h"
#include "base/encoding.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/problem_types.h"
#include "base/time.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "origin/claim_answer.h"
#include "origin/events.h"

namespace dg::origin {
namespace {

using store::OrderState;

// A checkout's claim is stored under this Idempotency scope, keyed by its
// order id, in the claim's own transaction: that record, not the webhook's
// event id, is what makes one order one claim (see Checkout::webhook).
constexpr std::string_view kClaimScope = "checkout";

// The metric's type label: the events we handle by name, anything else as "other".
std::string type_label(const core::PaymentEvent& event) {
  return event.kind == core::PaymentEventKind::other ? "other" : event.type;
}

// The wait after `attempts` failed tries: doubling from the minimum, capped.
int64_t refund_backoff_ms(uint32_t attempts) {
  int64_t ms = to_ms(limits::refund_retry_backoff_min);
  for (uint32_t i = 1; i < attempts && ms < to_ms(limits::refund_retry_backoff_max); ++i) ms *= 2;
  return std::min(ms, to_ms(limits::refund_retry_backoff_max));
}

std::string with_order(std::string url, std::string_view order_id) {
  constexpr std::string_view kPlaceholder = "{ORDER_ID}";
  if (size_t at = url.find(kPlaceholder); at != std::string::npos)
    url.replace(at, kPlaceholder.size(), order_id);
  return url;
}

Result<uint32_t> serial_in(std::string_view claim_json) {
  auto o = json::parse_object(claim_json, limits::token_bytes_max * 8);
  if (!o) return std::unexpected(o.error());
  auto serial = json::get_int(*o, "serial", "claim", 1, limits::edition_size_max);
  if (!serial) return std::unexpected(serial.error());
  return static_cast<uint32_t>(*serial);
}

std::string received(std::string_view event_id, std::string_view outcome) {
  return boost::json::serialize(
      boost::json::object{{"received", true}, {"event", event_id}, {"outcome", outcome}});
}

boost::json::object refund_object(const store::Refund& r) {
  return {{"id", r.id},
          {"order", r.order_id},
          {"payment_intent", r.payment_intent},
          {"amount", r.amount_minor},
          {"currency", r.currency},
          {"reason", r.reason},
          {"state", store::refund_state_name(r.state)},
          {"attempts", r.attempts},
          {"next_attempt_at", format_rfc3339(r.next_attempt_at_ms)},
          {"provider_ref", r.provider_ref},
          {"last_error", r.last_error},
          {"created_at", format_rfc3339(r.created_at_ms)},
          {"updated_at", format_rfc3339(r.updated_at_ms)}};
}

const std::vector<OrderState> kAnyState = {
    OrderState::pending,        OrderState::paid,     OrderState::claimed, OrderState::review,
    OrderState::refund_pending, OrderState::refunded, OrderState::disputed};

}  // namespace

struct Checkout::Completion {
  core::PaymentEvent event;
  store::Order order;
  ClaimReply reply;  // to the provider's webhook request
  Idempotency idem;
};

Checkout::Checkout(Parts parts)
    : parts_(parts),
      secrets_(webhook_secret_list(parts.config)),
      metrics_{
          parts.metrics.counter("dropgate_checkout_sessions_total",
                                "Checkout sessions created at the payment provider."),
          parts.metrics.counter("dropgate_sales_total", "Sales by channel.",
                                {{"channel", "checkout"}}),
          parts.metrics.gauge("dropgate_refunds_queued", "Refunds queued and not yet done."),
      } {}

Idempotency Checkout::claim_key(std::string_view order_id) const {
  std::string fingerprint = "checkout claim " + std::string(order_id);
  return Idempotency{std::string(kClaimScope), std::string(order_id),
                     hex_encode(crypto::sha256(as_bytes(fingerprint)))};
}

Result<std::string> Checkout::start(std::string_view slug, const ClaimRequest& request,
                                    std::string_view client_address) {
  if (parts_.provider == nullptr)
    return error(problem::checkout_unavailable, "online checkout is not configured here");
  auto cached = parts_.catalog.load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  const store::Drop& drop = cached->drop;
  if (drop.spec.price_minor == 0)
    return error(problem::invalid_request, "this drop is free: claim it, there is nothing to pay");
  // The hold comes first: a buyer is never sent to pay for a serial nobody kept.
  auto held = parts_.claims.hold(slug, request, client_address, parts_.config.checkout_hold_ttl);
  if (!held) return std::unexpected(held.error());
  int64_t now_ms = parts_.clock.now_ms();
  store::Order order{.id = crypto::random_id(),
                     .drop_id = drop.id,
                     .account = request.account,
                     .territory = request.territory,
                     .hold_id = held->hold.id,
                     .amount_minor = drop.spec.price_minor,
                     .currency = drop.spec.currency,
                     .expires_at_ms = held->hold.expires_at_ms,
                     .created_at_ms = now_ms,
                     .updated_at_ms = now_ms};
  DG_RETURN_IF_ERROR_RESULT(parts_.store.create_order(order));
  std::string order_url = parts_.config.public_url + "/v1/orders/" + order.id;
  CheckoutSessionRequest session_request{
      order.id, order.hold_id, drop.spec.slug, drop.spec.title, order.amount_minor, order.currency,
      order.account,
      parts_.config.checkout_success_url.empty()
          ? order_url
          : with_order(parts_.config.checkout_success_url, order.id),
      parts_.config.checkout_cancel_url.empty()
          ? order_url
          : with_order(parts_.config.checkout_cancel_url, order.id),
      // Whole seconds, rounded down: the session ends no later than the hold.
      order.expires_at_ms / 1000};
  auto session = parts_.provider->create_checkout_session(session_request);
  if (!session) {
    // Nothing was charged; the hold expires by itself and the order stays pending.
    log::warn("checkout session failed",
              {{"order", order.id}, {"error", session.error().message()}});
    return std::unexpected(session.error());
  }
  auto updated = parts_.store.change_order(order.id, {.from = {OrderState::pending},
                                                      .to = OrderState::pending,
                                                      .session_id = session->id,
                                                      .checkout_url = session->url,
                                                      .now_ms = parts_.clock.now_ms()});
  if (!updated) return std::unexpected(updated.error());
  metrics_.sessions.inc();
  return boost::json::serialize(
      boost::json::object{{"order", order.id},
                          {"checkout_url", session->url},
                          {"order_url", order_url},
                          {"expires_at", format_rfc3339(order.expires_at_ms)}});
}

// Webhooks, and why a redelivery never makes a second claim. The event's id
// is recorded (webhook_events) only after its effects, and every effect is
// idempotent on its own:
// - the claim carries an Idempotency record keyed by the order id, written
//   in the claim's own transaction (ClaimInsert::idempotency). A second
//   attempt for the order finds it and gets the first claim's answer, never
//   a second serial — whatever the event id, and whether or not the first
//   attempt's event record was written;
// - order changes are compare-and-set, the refund queue holds one refund per
//   order, revocation is idempotent.
// So a crash anywhere leaves either nothing done, or a claim with no event
// record (the redelivery re-runs, finds the claim, records the event), never
// an event recorded for a claim that was not made. Recording the id first
// would lose the claim of a crash between the two.
void Checkout::webhook(std::string_view signature_header, std::string body, ClaimReply reply) {
  auto count = [this](std::string_view type, std::string_view outcome) {
    parts_.metrics
        .counter("dropgate_webhook_events_total", "Payment webhooks by event type and outcome.",
                 {{"type", std::string(type)}, {"outcome", std::string(outcome)}})
        .inc();
  };
  if (secrets_.empty()) {
    return reply.answer(
        error(problem::checkout_unavailable, "no webhook_secrets are configured on this origin"));
  }
  auto signed_at =
      core::verify_webhook_signature(signature_header, body, secrets_, parts_.clock.now_ms() / 1000,
                                     parts_.config.webhook_tolerance);
  if (!signed_at) {
    count("unknown", "bad_signature");
    return reply.answer(std::unexpected(signed_at.error()));
  }
  auto event = core::parse_payment_event(body);
  if (!event) {
    count("unknown", "malformed");
    return reply.answer(std::unexpected(event.error()));
  }
  auto seen = parts_.store.get_webhook_event(event->id);
  if (!seen) return reply.answer(std::unexpected(seen.error()));
  if (seen->has_value()) {
    count(type_label(*event), "duplicate");
    return reply.answer(ClaimOutcome{200, received(event->id, "duplicate")});
  }
  switch (event->kind) {
    case core::PaymentEventKind::checkout_completed:
      return completed(*event, std::move(reply));
    case core::PaymentEventKind::charge_refunded:
    case core::PaymentEventKind::dispute_created: {
      auto outcome = reversed(*event);
      if (!outcome) return reply.answer(std::unexpected(outcome.error()));
      record_event(*event, "", *outcome);
      return reply.answer(ClaimOutcome{200, received(event->id, *outcome)});
    }
    case core::PaymentEventKind::other:
      record_event(*event, "", "ignored");
      return reply.answer(ClaimOutcome{200, received(event->id, "ignored")});
  }
}

void Checkout::record_event(const core::PaymentEvent& event, std::string_view order_id,
                            std::string_view outcome) {
  parts_.metrics
      .counter("dropgate_webhook_events_total", "Payment webhooks by event type and outcome.",
               {{"type", type_label(event)}, {"outcome", std::string(outcome)}})
      .inc();
  store::WebhookEventRecord record{event.id,
                                   event.type,
                                   event.payment_intent,
                                   std::string(order_id),
                                   std::string(outcome),
                                   parts_.clock.now_ms()};
  // A failure here only means a redelivery runs the (idempotent) handling again.
  if (auto recorded = parts_.store.record_webhook_event(record); !recorded) {
    log::warn("webhook event not recorded",
              {{"event", event.id}, {"error", recorded.error().to_string()}});
  }
}

Result<store::Order> Checkout::find_order(const core::PaymentEvent& event) {
  if (!event.order_id.empty()) {
    auto order = parts_.store.get_order(event.order_id);
    if (order || order.error().code() != Code::not_found) return order;
  }
  return parts_.store.get_order_by_payment_intent(event.payment_intent);
}

void Checkout::completed(const core::PaymentEvent& event, ClaimReply reply) {
  auto c = std::make_shared<Completion>(Completion{event, {}, std::move(reply), {}});
  auto order = find_order(event);
  if (!order) {
    if (order.error().code() != Code::not_found)
      return c->reply.answer(std::unexpected(order.error()));
    log::warn("checkout completed for an unknown order", {{"event", event.id}});
    return finish(c, "unknown_order");
  }
  c->order = std::move(*order);
  c->idem = claim_key(c->order.id);
  if (event.payment_status != "paid") return finish(c, "not_paid");
  if (c->order.state != OrderState::pending && c->order.state != OrderState::paid)
    return finish(c, std::string(store::order_state_name(c->order.state)));
  int64_t now_ms = parts_.clock.now_ms();
  // A refund or dispute that arrived before this completion was recorded
  // under the payment: it wins, and no certificate is ever made.
  auto earlier = parts_.store.webhook_events_of_payment(event.payment_intent);
  if (!earlier) return c->reply.answer(std::unexpected(earlier.error()));
  for (const store::WebhookEventRecord& e : *earlier) {
    bool dispute = e.type == "charge.dispute.created";
    if (!dispute && e.type != "charge.refunded") continue;
    auto moved = parts_.store.change_order(
        c->order.id, {.from = {OrderState::pending, OrderState::paid},
                      .to = dispute ? OrderState::disputed : OrderState::refunded,
                      .payment_intent = event.payment_intent,
                      .note = dispute ? "a dispute was opened" : "refunded by the payment provider",
                      .now_ms = now_ms});
    if (!moved) return c->reply.answer(std::unexpected(moved.error()));
    return finish(c, "reversed_before_completion");
  }
  if (event.amount_minor != c->order.amount_minor || event.currency != c->order.currency) {
    std::string note = "paid " + std::to_string(event.amount_minor) + " " + event.currency +
                       ", the order is " + std::to_string(c->order.amount_minor) + " " +
                       c->order.currency;
    auto moved =
        parts_.store.change_order(c->order.id, {.from = {OrderState::pending, OrderState::paid},
                                                .to = OrderState::review,
                                                .payment_intent = event.payment_intent,
                                                .note = note,
                                                .now_ms = now_ms});
    if (!moved) return c->reply.answer(std::unexpected(moved.error()));
    log::warn("checkout paid with another amount: order to review",
              {{"order", c->order.id}, {"note", note}});
    return finish(c, "review");
  }
  auto paid =
      parts_.store.change_order(c->order.id, {.from = {OrderState::pending, OrderState::paid},
                                              .to = OrderState::paid,
                                              .payment_intent = event.payment_intent,
                                              .now_ms = now_ms});
  if (!paid) return c->reply.answer(std::unexpected(paid.error()));
  c->order = std::move(*paid);
  auto hold = parts_.store.get_hold(c->order.hold_id);
  claim_for(c, hold && hold->expires_at_ms > now_ms && hold->account == c->order.account);
}

// The claim goes through the one claim path (Claims): confirming the order's
// hold while it lasts, else any free serial of the drop (a late payment).
void Checkout::claim_for(std::shared_ptr<Completion> c, bool confirm_hold) {
  auto run_blocking = c->reply.run_blocking;
  ClaimReply reply{[this, c, confirm_hold](Result<ClaimOutcome> outcome) mutable {
                     // Success comes on the committer's thread, which must not block.
                     auto hop = c->reply.run_blocking;
                     hop([this, c, confirm_hold, outcome = std::move(outcome)]() mutable {
                       on_claim(c, confirm_hold, std::move(outcome));
                     });
                   },
                   run_blocking};
  if (confirm_hold) {
    return parts_.claims.confirm_hold(c->order.hold_id, c->event.payment_intent, c->idem,
                                      std::move(reply));
  }
  auto drop = parts_.store.get_drop_by_id(c->order.drop_id);
  if (!drop) return c->reply.answer(std::unexpected(drop.error()));
  parts_.claims.claim(drop->spec.slug,
                      ClaimRequest{c->order.account, c->order.territory,
                                   store::ClaimSource::payment, c->event.payment_intent},
                      c->idem, std::move(reply));
}

void Checkout::on_claim(std::shared_ptr<Completion> c, bool from_hold,
                        Result<ClaimOutcome> outcome) {
  if (outcome) {
    auto serial = serial_in(outcome->body_json);
    if (!serial) return c->reply.answer(std::unexpected(serial.error()));
    return claimed(c, *serial);
  }
  // This order was claimed before (a redelivery, perhaps under another event
  // id, after a crash): the claim's own record says which serial.
  if (auto replayed = parts_.idempotency.replay(c->idem)) {
    if (!*replayed) return c->reply.answer(std::unexpected(replayed->error()));
    auto serial = serial_in((*replayed)->body);
    if (!serial) return c->reply.answer(std::unexpected(serial.error()));
    return claimed(c, *serial);
  }
  const Status& refusal = outcome.error();
  if (from_hold && refusal.type() == &problem::hold_gone) return claim_for(c, false);
  // Transient (busy, a paused drop, the database): the provider delivers again later.
  if (refusal.code() == Code::unavailable) return c->reply.answer(std::unexpected(refusal));
  refund_instead(c, refusal);
}

void Checkout::claimed(std::shared_ptr<Completion> c, uint32_t serial) {
  auto moved = parts_.store.change_order(
      c->order.id, {.from = {OrderState::pending, OrderState::paid, OrderState::claimed},
                    .to = OrderState::claimed,
                    .serial = serial,
                    .now_ms = parts_.clock.now_ms()});
  if (!moved && moved.error().code() == Code::conflict) {
    // A refund or dispute came while the claim was being written: it wins,
    // and the claim's certificate must not stay valid.
    auto now = parts_.store.get_order(c->order.id);
    if (now && (now->state == OrderState::refunded || now->state == OrderState::disputed)) {
      store::Order revoked = *now;
      revoked.serial = serial;
      if (Status s = revoke_order_claim(revoked,
                                        now->state == OrderState::disputed ? "dispute" : "refund");
          !s.ok())
        return c->reply.answer(std::unexpected(s));
      return finish(c, "revoked_after_reversal");
    }
  }
  if (!moved) return c->reply.answer(std::unexpected(moved.error()));
  if (c->order.state != OrderState::claimed) metrics_.sales.inc();
  finish(c, "claimed");
}

// Paid, and no serial can be had (sold out, closed, …): never silent. The
// refund is queued (durable) before the provider is asked, so a crash or a
// refusal leaves it for the retry; the order shows refund_pending.
void Checkout::refund_instead(std::shared_ptr<Completion> c, const Status& refusal) {
  std::string reason =
      refusal.type() != nullptr ? std::string(refusal.type()->name) : "claim-refused";
  int64_t now_ms = parts_.clock.now_ms();
  store::Refund refund{.order_id = c->order.id,
                       .payment_intent = c->event.payment_intent,
                       .amount_minor = c->event.amount_minor,
                       .currency = c->event.currency,
                       .reason = reason,
                       .next_attempt_at_ms = now_ms};
  auto queued = parts_.store.queue_refund(refund, now_ms);
  if (!queued) return c->reply.answer(std::unexpected(queued.error()));
  log::warn("paid, but no serial could be had: refund queued",
            {{"order", c->order.id}, {"reason", reason}, {"detail", refusal.message()}});
  note_events(parts_.store, {{"checkout.refund_queued", c->order.drop_id, std::nullopt,
                              c->order.account, R"({"reason":")" + reason + "\"}", now_ms, ""}});
  if (queued->state != store::RefundState::succeeded) (void)attempt_refund(*queued);
  if (auto count = parts_.store.queued_refund_count()) metrics_.refunds_queued.set(*count);
  finish(c, "refund_queued");
}

void Checkout::finish(std::shared_ptr<Completion> c, std::string outcome) {
  record_event(c->event, c->order.id, outcome);
  c->reply.answer(ClaimOutcome{200, received(c->event.id, outcome)});
}

// charge.refunded and charge.dispute.created. The order moves first (from
// any state); if it holds a serial by then, its certificate is revoked. A
// claim still being written when the order moved revokes itself (claimed()),
// so the two orders of events both end with the certificate revoked. An
// event for an order not yet known is recorded under its payment: the
// completion that follows finds it and makes no claim.
Result<std::string> Checkout::reversed(const core::PaymentEvent& event) {
  bool dispute = event.kind == core::PaymentEventKind::dispute_created;
  auto order = find_order(event);
  if (!order) {
    if (order.error().code() != Code::not_found) return std::unexpected(order.error());
    return std::string("recorded_before_completion");
  }
  store::OrderChange change{.from = kAnyState,
                            .to = dispute ? OrderState::disputed : OrderState::refunded,
                            .note = dispute ? "a dispute was opened" : "refunded",
                            .now_ms = parts_.clock.now_ms()};
  if (order->payment_intent.empty() && !event.payment_intent.empty())
    change.payment_intent = event.payment_intent;
  auto moved = parts_.store.change_order(order->id, change);
  if (!moved) return std::unexpected(moved.error());
  if (!moved->serial) return std::string(dispute ? "disputed" : "refunded");
  DG_RETURN_IF_ERROR_RESULT(revoke_order_claim(*moved, dispute ? "dispute" : "refund"));
  return std::string("revoked");
}

Status Checkout::revoke_order_claim(const store::Order& order, std::string_view reason) {
  DG_ASSERT(order.serial.has_value());
  auto drop = parts_.store.get_drop_by_id(order.drop_id);
  if (!drop) return drop.error();
  auto revoked = parts_.certificates.revoke(drop->spec.slug, *order.serial, reason);
  if (!revoked && revoked.error().code() != Code::not_found) return revoked.error();
  log::info("order reversed: certificate revoked",
            {{"order", order.id}, {"serial", *order.serial}, {"reason", reason}});
  return Status();
}

Result<store::Refund> Checkout::attempt_refund(const store::Refund& refund) {
  uint32_t attempts = refund.attempts + 1;
  int64_t now_ms = parts_.clock.now_ms();
  Result<RefundAnswer> answer =
      parts_.provider == nullptr
          ? error(problem::checkout_unavailable, "no payment provider is configured")
          : parts_.provider->request_refund(
                {refund.payment_intent, refund.amount_minor, refund.order_id, refund.reason,
                 // The same key on every attempt: the provider refunds once.
                 "dropgate-refund-" + std::to_string(refund.id)});
  bool taken = answer && (answer->status == "succeeded" || answer->status == "pending");
  if (taken) {
    log::info("refund requested", {{"order", refund.order_id}, {"refund", answer->id}});
    return parts_.store.update_refund(refund.id, store::RefundState::succeeded, attempts, now_ms,
                                      answer->id, "", now_ms);
  }
  std::string why = answer ? "the provider answered " + answer->status : answer.error().message();
  int64_t next_ms = now_ms + refund_backoff_ms(attempts);
  log::warn("refund request failed; will retry",
            {{"order", refund.order_id}, {"attempts", attempts}, {"error", why}});
  return parts_.store.update_refund(refund.id, store::RefundState::failed, attempts, next_ms,
                                    answer ? answer->id : "", why.substr(0, 200), now_ms);
}

void Checkout::tick() {
  auto due = parts_.store.due_refunds(parts_.clock.now_ms(), limits::refund_retry_batch_max);
  if (!due) {
    log::warn("refund queue unreadable", {{"error", due.error().to_string()}});
    return;
  }
  for (const store::Refund& refund : *due) {
    if (auto done = attempt_refund(refund); !done)
      log::warn("refund attempt not recorded", {{"error", done.error().to_string()}});
  }
  if (auto count = parts_.store.queued_refund_count()) metrics_.refunds_queued.set(*count);
}

Result<std::string> Checkout::refunds_json(uint32_t count_max) {
  auto refunds = parts_.store.list_refunds(count_max);
  if (!refunds) return std::unexpected(refunds.error());
  boost::json::array items;
  for (const store::Refund& r : *refunds) items.push_back(refund_object(r));
  return boost::json::serialize(boost::json::object{{"refunds", std::move(items)}});
}

Result<std::string> Checkout::retry_refund(int64_t refund_id) {
  auto refund = parts_.store.get_refund(refund_id);
  if (!refund) return std::unexpected(refund.error());
  if (refund->state != store::RefundState::succeeded) {
    refund = attempt_refund(*refund);
    if (!refund) return std::unexpected(refund.error());
    if (auto count = parts_.store.queued_refund_count()) metrics_.refunds_queued.set(*count);
  }
  return boost::json::serialize(refund_object(*refund));
}

Result<std::string> Checkout::order_json(std::string_view order_id) {
  auto order = order_id.size() > limits::identifier_bytes_max
                   ? error(problem::not_found, "no such order")
                   : parts_.store.get_order(order_id);
  if (!order) {
    if (order.error().code() == Code::not_found) return error(problem::not_found, "no such order");
    return std::unexpected(order.error());
  }
  auto drop = parts_.store.get_drop_by_id(order->drop_id);
  if (!drop) return std::unexpected(drop.error());
  boost::json::object out{{"order", order->id},
                          {"drop", drop->spec.slug},
                          {"state", store::order_state_name(order->state)},
                          {"amount", order->amount_minor},
                          {"currency", order->currency},
                          {"created_at", format_rfc3339(order->created_at_ms)},
                          {"expires_at", format_rfc3339(order->expires_at_ms)}};
  if (order->state == OrderState::pending && !order->checkout_url.empty())
    out["checkout_url"] = order->checkout_url;
  if (!order->note.empty()) out["note"] = order->note;
  if (order->state == OrderState::claimed && order->serial) {
    auto claim = claimed_json(*order);
    if (!claim) return std::unexpected(claim.error());
    out["claim"] = boost::json::parse(*claim);
  }
  return boost::json::serialize(out);
}

// A claimed order shows its claim as the claim answer does, with a fresh
// download token (the first one may have expired long ago).
Result<std::string> Checkout::claimed_json(const store::Order& order) {
  auto drop = parts_.store.get_drop_by_id(order.drop_id);
  if (!drop) return std::unexpected(drop.error());
  auto cached = parts_.catalog.load_drop(drop->spec.slug);
  if (!cached) return std::unexpected(cached.error());
  auto claim = parts_.store.get_claim(order.drop_id, *order.serial);
  if (!claim) return std::unexpected(claim.error());
  if (claim->revoked_at_ms || cached->manifest == nullptr) {
    return boost::json::serialize(
        boost::json::object{{"serial", claim->serial},
                            {"certificate", claim->cert_token},
                            {"revoked", claim->revoked_at_ms.has_value()}});
  }
  int64_t now_ms = parts_.clock.now_ms();
  core::DownloadFields fields{
      claim->account, drop->spec.slug, cached->drop.manifest_version, {"*"}, claim->cert_id};
  auto download = core::issue_download(
      parts_.signer, fields, now_ms, static_cast<uint32_t>(to_s(parts_.config.download_token_ttl)));
  if (!download) return std::unexpected(download.error());
  return claim_answer_json(parts_.config.public_url, cached->drop, *cached->manifest, claim->serial,
                           claim->account,
                           core::owner_id(parts_.owner_secret, drop->spec.slug, claim->account),
                           claim->claimed_at_ms, claim->cert_token, *download);
}

}  // namespace dg::origin
