#include "origin/stall_sales.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/problem_types.h"
#include "base/time.h"
#include "core/sale.h"
#include "core/validate.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "origin/claim_answer.h"

namespace dg::origin {

// A sale checked and ready to claim: what the claim is asked, and the row
// that records it once the claim committed.
struct StallSales::SaleAttempt {
  std::string slug;
  store::ReceiptSale sale;
  ClaimRequest request;
  Idempotency idempotency;
};

namespace {

std::string sha256_hex(std::string_view text) {
  return hex_encode(crypto::sha256(as_bytes(text)));
}

// The idempotency scope of one reader's transactions: a transaction id is
// the reader's own, so two readers may use the same one.
std::string receipt_scope(std::string_view reader_id) {
  return "receipt:" + std::string(reader_id);
}

// A buyer who gave no account still needs one of their own (the per-buyer
// limit counts accounts): one per transaction, the same on every repeat.
std::string anonymous_account(std::string_view prefix, std::string_view seed) {
  return std::string(prefix) + sha256_hex(seed).substr(0, 32);
}

std::string with_channel(std::string body_json, store::SaleChannel channel) {
  if (body_json.empty() || body_json.back() != '}') return body_json;
  body_json.pop_back();
  body_json += ",\"channel\":";
  append_json_string(body_json, store::sale_channel_name(channel));
  body_json += '}';
  return body_json;
}

boost::json::object reader_object(const store::ReaderRecord& r) {
  boost::json::object out{{"id", r.id},
                          {"name", r.name},
                          {"public_key", r.public_key},
                          {"key_id", r.key_id},
                          {"created_at", format_rfc3339(r.created_at_ms)}};
  out["revoked_at"] = r.revoked_at_ms ? boost::json::value(format_rfc3339(*r.revoked_at_ms))
                                      : boost::json::value(nullptr);
  return out;
}

boost::json::object sale_object(const store::ReceiptSale& s, std::string_view slug) {
  boost::json::object out{{"id", s.id},
                          {"channel", store::sale_channel_name(s.channel)},
                          {"transaction", s.transaction},
                          {"drop", slug},
                          {"amount", s.amount_minor},
                          {"currency", s.currency},
                          {"account", s.account},
                          {"state", store::sale_state_name(s.state)},
                          {"sold_at", format_rfc3339(s.sold_at_ms)}};
  out["serial"] = s.serial ? boost::json::value(*s.serial) : boost::json::value(nullptr);
  if (s.channel == store::SaleChannel::receipt) out["reader"] = s.reader_id;
  if (!s.reference.empty()) out["reference"] = s.reference;
  if (s.declined_at_ms) {
    out["declined_at"] = format_rfc3339(*s.declined_at_ms);
    out["decline_reason"] = s.decline_reason;
  }
  return out;
}

// A receipt whose details differ from the first exchange's (another amount,
// currency or drop under the same transaction id) is not a repeat. (A cash
// sale's reused Idempotency-Key keeps its own refusal.)
Status repeat_refusal(const Status& status, store::SaleChannel channel) {
  if (status.type() != &problem::idempotency_key_reused || channel != store::SaleChannel::receipt)
    return status;
  return Status(problem::conflict,
                "this transaction was already exchanged with other details (drop, amount or "
                "currency); a reader must not reuse a transaction id");
}

}  // namespace

StallSales::StallSales(Parts parts)
    : parts_(parts),
      metrics_{
          parts.metrics.counter("dropgate_sales_total", "Sales recorded, by channel.",
                                {{"channel", "receipt"}}),
          parts.metrics.counter("dropgate_sales_total", "Sales recorded, by channel.",
                                {{"channel", "cash"}}),
          parts.metrics.counter("dropgate_receipt_declines_total",
                                "Reader transactions reported declined."),
      } {}

// --- Readers.

Result<std::string> StallSales::register_reader(std::string_view body_untrusted) {
  auto o = json::parse_object(body_untrusted, limits::request_body_bytes_max_json);
  if (!o) return error(o.error());
  DG_RETURN_IF_ERROR_RESULT(json::only_keys(*o, {"name", "public_key"}, "reader"));
  auto name = json::get_string(*o, "name", "reader", limits::reader_name_bytes_max);
  auto key_text = json::get_string(*o, "public_key", "reader", limits::identifier_bytes_max);
  if (!name) return error(name.error());
  if (!key_text) return error(key_text.error());
  if (name->empty()) return error(problem::invalid_request, "reader: a name is required");
  auto key = crypto::PublicKey::from_paserk(*key_text);
  if (!key) {
    return error(problem::invalid_request,
                 "public_key: " + key.error().message() +
                     " (an Ed25519 key as PASERK k4.public…; `dropgate reader keygen` makes one)");
  }
  store::ReaderRecord record{
      "rdr_" + crypto::random_id(), *name,       key->to_paserk(), key->key_id(),
      parts_.clock.now_ms(),        std::nullopt};
  auto created = parts_.store.create_reader(record);
  if (!created) {
    if (created.error().code() == Code::conflict)
      return error(problem::reader_key_taken, "a reader with this public key is registered");
    return error(created.error());
  }
  return boost::json::serialize(reader_object(*created));
}

Result<std::string> StallSales::list_readers_json() {
  auto readers = parts_.store.list_readers();
  if (!readers) return error(readers.error());
  boost::json::array list;
  for (const auto& r : *readers) list.push_back(reader_object(r));
  return boost::json::serialize(boost::json::object{{"readers", std::move(list)}});
}

Result<std::string> StallSales::revoke_reader(std::string_view reader_id) {
  auto revoked = parts_.store.revoke_reader(reader_id, parts_.clock.now_ms());
  if (!revoked) return error(revoked.error());
  return boost::json::serialize(reader_object(*revoked));
}

// The registered reader whose key signed the token, found by the key id in
// its footer (the signature is checked after, with that key).
Result<store::ReaderRecord> StallSales::reader_of(std::string_view token_untrusted) {
  auto key_id = core::unverified_key_id(token_untrusted);
  if (!key_id) return error(problem::receipt_refused, key_id.error().message());
  auto reader = parts_.store.get_reader_by_key_id(*key_id);
  if (!reader) {
    if (reader.error().code() != Code::not_found) return error(reader.error());
    return error(problem::receipt_refused,
                 "signed with key " + *key_id + ", which no registered reader has");
  }
  if (reader->revoked_at_ms) {
    return error(problem::reader_revoked, "reader " + reader->id + " was revoked at " +
                                              format_rfc3339(*reader->revoked_at_ms));
  }
  return reader;
}

// --- Sales.

Result<StallSales::SaleAttempt> StallSales::receipt_attempt(std::string_view slug,
                                                            std::string_view body_untrusted) {
  auto o = json::parse_object(body_untrusted, limits::request_body_bytes_max_anonymous);
  if (!o) return error(o.error());
  DG_RETURN_IF_ERROR_RESULT(json::only_keys(*o, {"receipt", "account"}, "receipt exchange"));
  auto token = json::get_string(*o, "receipt", "receipt exchange", limits::token_bytes_max);
  auto account =
      json::get_optional_string(*o, "account", "receipt exchange", limits::identifier_bytes_max);
  if (!token) return error(token.error());
  if (!account) return error(account.error());
  if (*account) DG_RETURN_IF_ERROR_RESULT(core::validate_identifier(**account, "account"));
  auto reader = reader_of(*token);
  if (!reader) return error(reader.error());
  auto key = crypto::PublicKey::from_paserk(reader->public_key);
  if (!key) return error(Code::corruption, "reader " + reader->id + ": stored key unreadable");
  auto receipt = core::verify_reader_receipt(
      {reader->id, *key}, *token,
      core::VerifyOptions{parts_.clock.now_ms(), parts_.config.clock_skew});
  if (!receipt) return error(receipt.error());
  const core::ReceiptFields& fields = receipt->fields;
  if (fields.drop != slug) {
    return error(problem::receipt_wrong_drop, "this receipt is for drop \"" + fields.drop +
                                                  "\", not \"" + std::string(slug) + "\"");
  }
  auto cached = parts_.catalog.load_drop(slug);
  if (!cached) return error(cached.error());
  const store::Drop& drop = cached->drop;
  DG_RETURN_IF_ERROR_RESULT(core::check_sale_amount(drop.spec.price_minor, drop.spec.currency,
                                                    fields.amount_minor, fields.currency));
  auto known = parts_.store.get_receipt_sale(reader->id, fields.transaction);
  if (known && known->state == store::SaleState::declined) {
    return error(problem::sale_declined, "the payment of transaction " + fields.transaction +
                                             " was reported declined; no serial is given for it");
  }
  if (!known && known.error().code() != Code::not_found) return error(known.error());

  SaleAttempt a;
  a.slug = std::string(slug);
  a.sale.reader_id = reader->id;
  a.sale.transaction = fields.transaction;
  a.sale.channel = store::SaleChannel::receipt;
  a.sale.drop_id = drop.id;
  a.sale.amount_minor = fields.amount_minor;
  a.sale.currency = fields.currency;
  a.request = ClaimRequest{
      account->value_or(anonymous_account("rcpt_", reader->id + "\n" + fields.transaction)), "",
      store::ClaimSource::receipt, "receipt:" + reader->id + ":" + fields.transaction};
  a.idempotency = Idempotency{
      receipt_scope(reader->id), fields.transaction,
      sha256_hex("receipt\n" + reader->id + "\n" + fields.transaction + "\n" + fields.drop + "\n" +
                 std::to_string(fields.amount_minor) + "\n" + fields.currency)};
  return a;
}

void StallSales::exchange_receipt(std::string_view slug, std::string_view body_untrusted,
                                  ClaimReply reply) {
  auto attempt = receipt_attempt(slug, body_untrusted);
  if (!attempt) return reply.answer(error(attempt.error()));
  claim_for(std::move(*attempt), std::move(reply));
}

Result<StallSales::SaleAttempt> StallSales::cash_attempt(std::string_view slug,
                                                         std::string_view body_untrusted,
                                                         const Idempotency& idem) {
  if (idem.key.empty()) {
    return error(problem::invalid_request,
                 "a cash sale needs an Idempotency-Key header (one per sale), so that a retried "
                 "request never sells a second serial");
  }
  auto o = json::parse_object(body_untrusted, limits::request_body_bytes_max_json);
  if (!o) return error(o.error());
  DG_RETURN_IF_ERROR_RESULT(
      json::only_keys(*o, {"amount", "currency", "account", "reference"}, "cash sale"));
  auto amount = json::get_int(*o, "amount", "cash sale", 0, limits::price_amount_max);
  auto currency = json::get_string(*o, "currency", "cash sale", limits::currency_code_bytes);
  auto account =
      json::get_optional_string(*o, "account", "cash sale", limits::identifier_bytes_max);
  auto reference =
      json::get_optional_string(*o, "reference", "cash sale", limits::sale_reference_bytes_max);
  if (!amount) return error(amount.error());
  if (!currency) return error(currency.error());
  if (!account) return error(account.error());
  if (!reference) return error(reference.error());
  DG_RETURN_IF_ERROR_RESULT(core::validate_currency(*currency));
  if (*account) DG_RETURN_IF_ERROR_RESULT(core::validate_identifier(**account, "account"));
  auto cached = parts_.catalog.load_drop(slug);
  if (!cached) return error(cached.error());
  const store::Drop& drop = cached->drop;
  DG_RETURN_IF_ERROR_RESULT(
      core::check_sale_amount(drop.spec.price_minor, drop.spec.currency, *amount, *currency));
  SaleAttempt a;
  a.slug = std::string(slug);
  a.sale.transaction = idem.key;
  a.sale.channel = store::SaleChannel::cash;
  a.sale.drop_id = drop.id;
  a.sale.amount_minor = *amount;
  a.sale.currency = *currency;
  a.sale.reference = reference->value_or("");
  a.request = ClaimRequest{account->value_or(anonymous_account("cash_", idem.key)), "",
                           store::ClaimSource::cash, "cash:" + idem.key};
  a.idempotency = idem;
  return a;
}

void StallSales::sell_for_cash(std::string_view slug, std::string_view body_untrusted,
                               const Idempotency& idem, ClaimReply reply) {
  auto attempt = cash_attempt(slug, body_untrusted, idem);
  if (!attempt) return reply.answer(error(attempt.error()));
  claim_for(std::move(*attempt), std::move(reply));
}

// A repeat is answered from the first sale's stored answer before any serial
// is taken. A new sale goes through Claims::claim, whose success arrives on
// the committer's thread: recording the sale moves to a thread that may block.
void StallSales::claim_for(SaleAttempt attempt, ClaimReply reply) {
  if (auto replayed = parts_.idempotency.replay(attempt.idempotency)) {
    if (!*replayed)
      return reply.answer(error(repeat_refusal(replayed->error(), attempt.sale.channel)));
    return reply.answer(finish_sale(attempt, ClaimOutcome{(*replayed)->status, (*replayed)->body}));
  }
  std::string slug = attempt.slug;
  ClaimRequest request = attempt.request;
  Idempotency idem = attempt.idempotency;
  auto run_blocking = reply.run_blocking;
  parts_.claims.claim(
      slug, request, idem,
      ClaimReply{[this, attempt = std::move(attempt),
                  reply = std::move(reply)](Result<ClaimOutcome> outcome) mutable {
                   auto run = reply.run_blocking;
                   run([this, attempt = std::move(attempt), reply = std::move(reply),
                        outcome = std::move(outcome)]() mutable {
                     reply.answer(finish_sale(attempt, std::move(outcome)));
                   });
                 },
                 run_blocking});
}

Result<ClaimOutcome> StallSales::finish_sale(const SaleAttempt& attempt,
                                             Result<ClaimOutcome> outcome) {
  if (!outcome) {
    // A repeat racing the first exchange may be refused for the buyer's
    // limit before its key is seen; once the first committed, its answer is
    // this one's too.
    auto replayed = parts_.idempotency.replay(attempt.idempotency);
    if (!replayed) return outcome;
    if (!*replayed) return error(repeat_refusal(replayed->error(), attempt.sale.channel));
    outcome = ClaimOutcome{(*replayed)->status, (*replayed)->body};
  }
  auto answer = json::parse_object(outcome->body_json, limits::request_body_bytes_max_json * 4);
  if (!answer) return error(Code::corruption, "claim answer: " + answer.error().message());
  auto serial = json::get_int(*answer, "serial", "claim answer", 1, limits::edition_size_max);
  auto account = json::get_string(*answer, "account", "claim answer", limits::identifier_bytes_max);
  if (!serial || !account) return error(Code::corruption, "claim answer without serial or account");
  store::ReceiptSale sale = attempt.sale;
  sale.serial = static_cast<uint32_t>(*serial);
  sale.account = *account;
  sale.sold_at_ms = parts_.clock.now_ms();
  auto recorded = parts_.store.record_receipt_sale(sale);
  if (recorded) {
    (sale.channel == store::SaleChannel::cash ? metrics_.cash_sales : metrics_.receipt_sales).inc();
  } else if (recorded.error().code() == Code::conflict) {
    auto known = parts_.store.get_receipt_sale(sale.reader_id, sale.transaction);
    if (!known) return error(known.error());
    if (known->state == store::SaleState::declined) {
      // Declined while its claim was being made: the serial was sold, and its
      // certificate is revoked now, as the decline would have done.
      auto declined = decline_sale(sale, known->decline_reason);
      if (!declined) return error(declined.error());
      return error(problem::sale_declined, "the payment of transaction " + sale.transaction +
                                               " was reported declined; its serial is revoked");
    }
  } else {
    // The claim is made and the buyer paid: answer it. A repeat records the
    // sale (the claim's idempotency record still says which serial it took).
    log::error("stall sale: claimed but not recorded",
               {{"transaction", sale.transaction}, {"error", recorded.error().to_string()}});
  }
  return ClaimOutcome{outcome->status, with_channel(std::move(outcome->body_json), sale.channel)};
}

// --- Declines.

Result<store::ReceiptSale> StallSales::decline_sale(store::ReceiptSale decline,
                                                    std::string_view reason) {
  int64_t now_ms = parts_.clock.now_ms();
  decline.decline_reason = std::string(reason);
  decline.sold_at_ms = now_ms;
  auto declined = parts_.store.decline_receipt_sale(decline, now_ms);
  if (!declined) return declined;
  if (declined->serial && declined->drop_id != 0) {
    auto drop = parts_.store.get_drop_by_id(declined->drop_id);
    if (!drop) return error(drop.error());
    std::string why =
        reason.empty() ? "payment declined" : "payment declined: " + std::string(reason);
    // Idempotent: a second decline, or an exchange that met the decline, revokes once.
    auto revoked = parts_.certificates.revoke(drop->spec.slug, *declined->serial, why);
    if (!revoked) return error(revoked.error());
  }
  return declined;
}

Result<std::optional<std::pair<int64_t, uint32_t>>> StallSales::claimed_serial(
    std::string_view reader_id, std::string_view transaction) {
  auto record = parts_.store.get_idempotency(receipt_scope(reader_id), transaction);
  if (!record) {
    if (record.error().code() == Code::not_found) return std::nullopt;
    return error(record.error());
  }
  if (!record->response_body.starts_with(kClaimRecordPrefix)) return std::nullopt;
  std::string text = record->response_body;
  text.replace(0, kClaimRecordPrefix.size(), "{");
  auto o = json::parse_object(text, limits::identifier_bytes_max * 4);
  if (!o) return error(Code::corruption, "stored claim record: " + o.error().message());
  auto drop_id = json::get_int(*o, "drop_id", "claim record", 1, INT64_MAX);
  auto serial = json::get_int(*o, "serial", "claim record", 1, limits::edition_size_max);
  if (!drop_id || !serial) return error(Code::corruption, "stored claim record: no drop or serial");
  return std::make_pair(*drop_id, static_cast<uint32_t>(*serial));
}

// The sale is marked declined whether or not its receipt was exchanged yet;
// when a claim was made for it, its certificate is revoked. A claim whose
// sale is not recorded yet (its record comes just after the claim commits)
// is found from its idempotency record, so a decline racing an exchange
// revokes whichever way they interleave (finish_sale does the other half).
Result<std::string> StallSales::decline(std::string_view reader_id, std::string_view transaction,
                                        std::string_view slug, std::string_view reason) {
  store::ReceiptSale d;
  d.reader_id = std::string(reader_id);
  d.transaction = std::string(transaction);
  d.channel = store::SaleChannel::receipt;
  if (!slug.empty()) {
    auto cached = parts_.catalog.load_drop(slug);
    if (!cached) return error(cached.error());
    d.drop_id = cached->drop.id;
  }
  auto before = parts_.store.get_receipt_sale(reader_id, transaction);
  if (!before && before.error().code() != Code::not_found) return error(before.error());
  if (!before || !before->serial) {
    auto claimed = claimed_serial(reader_id, transaction);
    if (!claimed) return error(claimed.error());
    if (*claimed) {
      d.drop_id = (*claimed)->first;
      d.serial = (*claimed)->second;
    }
  }
  auto declined = decline_sale(d, reason);
  if (!declined) return error(declined.error());
  if (!before || before->state != store::SaleState::declined) metrics_.declines.inc();
  std::string drop_slug(slug);
  if (declined->drop_id != 0) {
    auto drop = parts_.store.get_drop_by_id(declined->drop_id);
    if (!drop) return error(drop.error());
    drop_slug = drop->spec.slug;
  }
  return boost::json::serialize(sale_object(*declined, drop_slug));
}

Result<std::string> StallSales::decline_by_operator(std::string_view reader_id,
                                                    std::string_view body_untrusted) {
  auto o = json::parse_object(body_untrusted, limits::request_body_bytes_max_json);
  if (!o) return error(o.error());
  DG_RETURN_IF_ERROR_RESULT(json::only_keys(*o, {"transaction", "drop", "reason"}, "decline"));
  auto txn = json::get_string(*o, "transaction", "decline", limits::identifier_bytes_max);
  auto drop = json::get_optional_string(*o, "drop", "decline", limits::drop_slug_bytes_max);
  auto reason =
      json::get_optional_string(*o, "reason", "decline", limits::decline_reason_bytes_max);
  if (!txn) return error(txn.error());
  if (!drop) return error(drop.error());
  if (!reason) return error(reason.error());
  DG_RETURN_IF_ERROR_RESULT(core::validate_identifier(*txn, "transaction"));
  auto reader = parts_.store.get_reader(reader_id);
  if (!reader) {
    if (reader.error().code() == Code::not_found)
      return error(problem::not_found, "no reader \"" + std::string(reader_id) + "\"");
    return error(reader.error());
  }
  return decline(reader->id, *txn, drop->value_or(""), reason->value_or(""));
}

Result<std::string> StallSales::decline_by_reader(std::string_view body_untrusted) {
  auto o = json::parse_object(body_untrusted, limits::request_body_bytes_max_anonymous);
  if (!o) return error(o.error());
  DG_RETURN_IF_ERROR_RESULT(json::only_keys(*o, {"decline"}, "decline"));
  auto token = json::get_string(*o, "decline", "decline", limits::token_bytes_max);
  if (!token) return error(token.error());
  auto reader = reader_of(*token);
  if (!reader) return error(reader.error());
  auto key = crypto::PublicKey::from_paserk(reader->public_key);
  if (!key) return error(Code::corruption, "reader " + reader->id + ": stored key unreadable");
  auto verified = core::verify_reader_decline(
      {reader->id, *key}, *token,
      core::VerifyOptions{parts_.clock.now_ms(), parts_.config.clock_skew});
  if (!verified) return error(verified.error());
  const core::DeclineFields& f = verified->fields;
  return decline(reader->id, f.transaction, f.drop, f.reason);
}

Result<std::string> StallSales::sales_json(std::string_view slug,
                                           std::optional<store::SaleState> state, int64_t after_id,
                                           uint32_t count_max) {
  auto cached = parts_.catalog.load_drop(slug);
  if (!cached) return error(cached.error());
  auto sales = parts_.store.list_receipt_sales(cached->drop.id, state, after_id, count_max);
  if (!sales) return error(sales.error());
  boost::json::array list;
  for (const auto& s : *sales) list.push_back(sale_object(s, slug));
  boost::json::object out{{"sales", std::move(list)}};
  out["next_after"] =
      sales->empty() ? boost::json::value(nullptr) : boost::json::value(sales->back().id);
  return boost::json::serialize(out);
}

}  // namespace dg::origin
