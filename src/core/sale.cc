#include "core/sale.h"

#include "base/problem_types.h"
#include "crypto/keyring.h"

namespace dg::core {
namespace {

// A keyring holding only the reader's key: the token's footer must name it.
Result<crypto::Keyring> reader_keyring(const ReaderKey& reader) {
  crypto::Keyring keyring;
  DG_RETURN_IF_ERROR_RESULT(keyring.add(reader.key, crypto::KeyStatus::current));
  return keyring;
}

template <typename Verified>
Result<Verified> refused_unless_reader(Result<Verified> verified, const ReaderKey& reader,
                                       std::string_view what) {
  if (!verified) {
    return error(problem::receipt_refused,
                 std::string(what) + " refused: " + verified.error().message());
  }
  if (verified->fields.reader != reader.reader_id) {
    return error(problem::receipt_refused,
                 std::string(what) + " names reader \"" + verified->fields.reader +
                     "\" but is signed with the key of reader \"" + reader.reader_id + "\"");
  }
  return verified;
}

}  // namespace

Status check_sale_amount(int64_t price_minor, std::string_view price_currency, int64_t amount_minor,
                         std::string_view currency) {
  if (amount_minor == price_minor && currency == price_currency) return Status();
  return Status(problem::price_mismatch,
                "the sale is for " + std::to_string(amount_minor) + " " + std::string(currency) +
                    " (minor units) but the drop costs " + std::to_string(price_minor) + " " +
                    std::string(price_currency));
}

Result<VerifiedReceipt> verify_reader_receipt(const ReaderKey& reader,
                                              std::string_view token_untrusted,
                                              const VerifyOptions& options) {
  auto keyring = reader_keyring(reader);
  if (!keyring) return error(keyring.error());
  return refused_unless_reader(verify_receipt(*keyring, token_untrusted, options), reader,
                               "receipt");
}

Result<VerifiedDecline> verify_reader_decline(const ReaderKey& reader,
                                              std::string_view token_untrusted,
                                              const VerifyOptions& options) {
  auto keyring = reader_keyring(reader);
  if (!keyring) return error(keyring.error());
  return refused_unless_reader(verify_decline(*keyring, token_untrusted, options), reader,
                               "decline");
}

}  // namespace dg::core
