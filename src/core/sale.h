// The rules a stall sale passes — a payment reader's receipt, a decline, or
// cash — before it becomes a claim: pure functions, no store, no clock. The
// formats are in docs/formats/receipt.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "core/token.h"
#include "crypto/keys.h"

namespace dg::core {

// A sale's amount and currency must be the drop's price exactly: a reader
// that charged another amount, or in another currency, gets no serial
// (price-mismatch, naming both).
Status check_sale_amount(int64_t price_minor, std::string_view price_currency, int64_t amount_minor,
                         std::string_view currency);

// A registered reader: the id its receipts name and its one public key.
struct ReaderKey {
  std::string reader_id;
  crypto::PublicKey key;
};

// Verifies a receipt against one reader's key: the footer's key id must be
// that key's, the signature its, and the "reader" member must equal the
// reader's id (a reader cannot sign for another). Every refusal is
// receipt-refused with the reason in the detail.
Result<VerifiedReceipt> verify_reader_receipt(const ReaderKey& reader,
                                              std::string_view token_untrusted,
                                              const VerifyOptions& options);
// The same for a reader's signed decline.
Result<VerifiedDecline> verify_reader_decline(const ReaderKey& reader,
                                              std::string_view token_untrusted,
                                              const VerifyOptions& options);

}  // namespace dg::core
