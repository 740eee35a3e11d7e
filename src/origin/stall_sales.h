// StallSales: selling at a stall. Payment readers registered by the operator
// sign receipts (docs/formats/receipt.md) that buyers — or the stall's own
// client — exchange for a serial; readers or the operator report a payment
// declined after the fact, which revokes the serial's certificate; and an
// operator records a cash sale. Every sale ends in the one claim path
// (Claims::claim): the lease, UNIQUE(drop, serial), the certificate and the
// download token are the same as any claim's.
//
// Exactly once per (reader, transaction): a receipt's claim carries the
// Idempotency-Key "receipt:<reader>" / <transaction>, written in the claim's
// own transaction, so of any number of exchanges of one transaction —
// retried, or at the same moment — one claim commits and the others get its
// answer. receipt_sales then records the sale for the operator and for
// declines; the claim's idempotency record is the truth it is repaired from.
//
// Thread safety: every method is safe to call from many handler threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/env.h"
#include "base/metrics.h"
#include "base/status.h"
#include "origin/certificates.h"
#include "origin/claims.h"
#include "origin/config.h"
#include "origin/drop_catalog.h"
#include "origin/idempotency.h"
#include "store/store.h"

namespace dg::origin {

class StallSales {
 public:
  struct Parts {
    store::Store& store;
    Claims& claims;
    Certificates& certificates;  // a decline revokes the sale's certificate
    DropCatalog& catalog;
    IdempotencyRecords& idempotency;
    metrics::Registry& metrics;
    const Clock& clock;
    const OriginConfig& config;
  };
  explicit StallSales(Parts parts);

  // --- Readers (operator). register: {"name","public_key":"k4.public…"} →
  // the reader with its new id and key id.
  Result<std::string> register_reader(std::string_view body_untrusted);
  Result<std::string> list_readers_json();
  Result<std::string> revoke_reader(std::string_view reader_id);

  // --- Sales. Both answer through `reply` as Claims::claim does: the claim's
  // JSON plus "channel". exchange: public, {"receipt","account"?}.
  void exchange_receipt(std::string_view slug, std::string_view body_untrusted, ClaimReply reply);
  // Operator: {"amount","currency","account"?,"reference"?}; the request's
  // Idempotency-Key is required and makes a retry answer the first sale.
  void sell_for_cash(std::string_view slug, std::string_view body_untrusted,
                     const Idempotency& idempotency, ClaimReply reply);

  // --- Declines. By the operator: {"transaction","drop"?,"reason"?}; by the
  // reader itself: {"decline":"v4.public…"} signed with its key. Either
  // marks the sale declined (remembered if its receipt was not exchanged
  // yet, which then refuses it) and revokes its certificate.
  Result<std::string> decline_by_operator(std::string_view reader_id,
                                          std::string_view body_untrusted);
  Result<std::string> decline_by_reader(std::string_view body_untrusted);

  // The drop's sales for the operator, oldest first: {"sales":[…],"next_after":id}.
  Result<std::string> sales_json(std::string_view slug, std::optional<store::SaleState> state,
                                 int64_t after_id, uint32_t count_max);

 private:
  struct SaleAttempt;
  // The registered, unrevoked reader whose key signed the token.
  Result<store::ReaderRecord> reader_of(std::string_view token_untrusted);
  // Every check of a sale before its serial is taken.
  Result<SaleAttempt> receipt_attempt(std::string_view slug, std::string_view body_untrusted);
  Result<SaleAttempt> cash_attempt(std::string_view slug, std::string_view body_untrusted,
                                   const Idempotency& idempotency);
  // Claims a serial for a checked sale and records it; answers through `reply`.
  void claim_for(SaleAttempt attempt, ClaimReply reply);
  Result<ClaimOutcome> finish_sale(const SaleAttempt& attempt, Result<ClaimOutcome> outcome);
  Result<std::string> decline(std::string_view reader_id, std::string_view transaction,
                              std::string_view slug, std::string_view reason);
  // Marks a sale declined and revokes its serial's certificate, if it has one.
  Result<store::ReceiptSale> decline_sale(store::ReceiptSale decline, std::string_view reason);
  // The (drop id, serial) a committed claim of (reader, transaction) took,
  // from its idempotency record; nullopt when no claim was made for it.
  Result<std::optional<std::pair<int64_t, uint32_t>>> claimed_serial(std::string_view reader_id,
                                                                     std::string_view transaction);

  Parts parts_;
  struct Metrics {
    metrics::Counter& receipt_sales;
    metrics::Counter& cash_sales;
    metrics::Counter& declines;
  } metrics_;
};

}  // namespace dg::origin
