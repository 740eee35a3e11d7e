// The rules of a stall sale: the amount and currency against the drop's
// price, and a reader's receipt or decline verified against that reader's
// own key — the reader it names, the key in its footer, its purpose.
#include "core/sale.h"

#include <gtest/gtest.h>

#include "base/problem_types.h"

namespace dg::core {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

struct Reader {
  Reader() : Reader(crypto::SecretKey::generate()) {}
  explicit Reader(crypto::SecretKey secret)
      : key{"rdr_one", secret.public_key()}, signer(std::move(secret), "stall-reader") {}
  ReaderKey key;
  TokenSigner signer;
};

ReceiptFields receipt_fields(std::string reader = "rdr_one") {
  return {std::move(reader), "txn-1", 1200, "EUR", "summer-tape"};
}

// Checks that only the exact price sells: one cent off either way, or the
// right amount in another currency, is price-mismatch naming both.
TEST(CheckSaleAmount, OnlyTheExactPriceAndCurrencySell) {
  EXPECT_TRUE(check_sale_amount(1200, "EUR", 1200, "EUR").ok());
  Status low = check_sale_amount(1200, "EUR", 1199, "EUR");
  EXPECT_EQ(low.type(), &problem::price_mismatch);
  EXPECT_EQ(low.message(), "the sale is for 1199 EUR (minor units) but the drop costs 1200 EUR");
  EXPECT_EQ(check_sale_amount(1200, "EUR", 1201, "EUR").type(), &problem::price_mismatch);
  EXPECT_EQ(check_sale_amount(1200, "EUR", 1200, "USD").type(), &problem::price_mismatch);
  EXPECT_TRUE(check_sale_amount(0, "EUR", 0, "EUR").ok());
}

// Checks that a receipt signed by the reader's key and naming the reader
// verifies, with its fields.
TEST(VerifyReaderReceipt, AcceptsTheReadersOwnReceipt) {
  Reader reader;
  auto token = issue_receipt(reader.signer, receipt_fields(), kNow, 600);
  ASSERT_TRUE(token.has_value());
  auto verified = verify_reader_receipt(reader.key, *token, VerifyOptions{kNow});
  ASSERT_TRUE(verified.has_value()) << verified.error().to_string();
  EXPECT_EQ(verified->fields.transaction, "txn-1");
  EXPECT_EQ(verified->fields.amount_minor, 1200);
  EXPECT_EQ(verified->common.key_id, reader.key.key.key_id());
}

// Checks that a reader cannot sign for another: its own key over a receipt
// naming another reader id is refused.
TEST(VerifyReaderReceipt, RefusesAReceiptNamingAnotherReader) {
  Reader reader;
  auto token = issue_receipt(reader.signer, receipt_fields("rdr_two"), kNow, 600);
  ASSERT_TRUE(token.has_value());
  auto verified = verify_reader_receipt(reader.key, *token, VerifyOptions{kNow});
  ASSERT_FALSE(verified.has_value());
  EXPECT_EQ(verified.error().type(), &problem::receipt_refused);
}

// Checks that a receipt signed by another key (a forgery naming the reader)
// is refused, as is one past its expiry beyond the clock-skew leeway.
TEST(VerifyReaderReceipt, RefusesForgedAndExpiredReceipts) {
  Reader reader, forger;
  auto forged = issue_receipt(forger.signer, receipt_fields(), kNow, 600);
  ASSERT_TRUE(forged.has_value());
  auto refused = verify_reader_receipt(reader.key, *forged, VerifyOptions{kNow});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().type(), &problem::receipt_refused);

  auto token = issue_receipt(reader.signer, receipt_fields(), kNow, 60);
  ASSERT_TRUE(token.has_value());
  auto late = verify_reader_receipt(reader.key, *token, VerifyOptions{kNow + 60'000 + 181'000});
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().type(), &problem::receipt_refused);
  EXPECT_NE(late.error().message().find("expired"), std::string::npos) << late.error().message();
}

// Checks that purposes do not mix: a decline is not a receipt and a receipt
// is not a decline, though the same reader key signed both.
TEST(VerifyReaderDecline, DeclinesAndReceiptsAreNotInterchangeable) {
  Reader reader;
  auto decline =
      issue_decline(reader.signer, {"rdr_one", "txn-1", "summer-tape", "card declined"}, kNow, 600);
  auto receipt = issue_receipt(reader.signer, receipt_fields(), kNow, 600);
  ASSERT_TRUE(decline.has_value());
  ASSERT_TRUE(receipt.has_value());
  auto verified = verify_reader_decline(reader.key, *decline, VerifyOptions{kNow});
  ASSERT_TRUE(verified.has_value()) << verified.error().to_string();
  EXPECT_EQ(verified->fields.reason, "card declined");
  EXPECT_FALSE(verify_reader_receipt(reader.key, *decline, VerifyOptions{kNow}).has_value());
  EXPECT_FALSE(verify_reader_decline(reader.key, *receipt, VerifyOptions{kNow}).has_value());
}

// Checks that the footer's key id can be read before verification (to find
// the reader) and that a token without a proper footer gives none.
TEST(UnverifiedKeyId, ReadsTheFooterKeyIdOnly) {
  Reader reader;
  auto token = issue_receipt(reader.signer, receipt_fields(), kNow, 600);
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(unverified_key_id(*token).value_or(""), reader.key.key.key_id());
  EXPECT_FALSE(unverified_key_id("v4.public.AAAA").has_value());
  EXPECT_FALSE(unverified_key_id("not a token").has_value());
}

}  // namespace
}  // namespace dg::core
