// SqlStore: payment readers and stall sales (receipts, declines, cash).
#include "base/limits.h"
#include "store/sql_rows.h"
#include "store/sql_store.h"

namespace dg::store {
namespace {

constexpr std::string_view kReaderColumns =
    "id, name, public_key, key_id, created_at_ms, revoked_at_ms";
constexpr std::string_view kSaleColumns =
    "id, reader_id, txn, channel, drop_id, serial, amount_minor, currency, account, reference, "
    "state, sold_at_ms, declined_at_ms, decline_reason";

Result<ReaderRecord> read_reader(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  ReaderRecord reader;
  reader.id = r.text();
  reader.name = r.text();
  reader.public_key = r.text();
  reader.key_id = r.text();
  reader.created_at_ms = r.int64();
  reader.revoked_at_ms = r.optional_int64();
  if (!r.status().ok()) return error(r.status().with_context("reader"));
  return reader;
}

Result<ReceiptSale> read_sale(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  ReceiptSale sale;
  sale.id = r.int64();
  sale.reader_id = r.text();
  sale.transaction = r.text();
  std::string channel = r.text();
  sale.drop_id = r.int64();
  sale.serial = r.optional_uint32();
  sale.amount_minor = r.int64();
  sale.currency = r.text();
  sale.account = r.text();
  sale.reference = r.text();
  std::string state = r.text();
  sale.sold_at_ms = r.int64();
  sale.declined_at_ms = r.optional_int64();
  sale.decline_reason = r.text();
  if (!r.status().ok()) return error(r.status().with_context("receipt sale"));
  if (channel == "receipt") {
    sale.channel = SaleChannel::receipt;
  } else if (channel == "cash") {
    sale.channel = SaleChannel::cash;
  } else {
    return error(Code::corruption, "receipt sale row: unknown channel \"" + channel + "\"");
  }
  if (state == "accepted") {
    sale.state = SaleState::accepted;
  } else if (state == "declined") {
    sale.state = SaleState::declined;
  } else {
    return error(Code::corruption, "receipt sale row: unknown state \"" + state + "\"");
  }
  return sale;
}

std::string sale_name(std::string_view reader_id, std::string_view transaction) {
  return "transaction \"" + std::string(transaction) + "\" of reader \"" + std::string(reader_id) +
         "\"";
}

}  // namespace

std::string_view sale_channel_name(SaleChannel channel) {
  return channel == SaleChannel::cash ? "cash" : "receipt";
}

std::string_view sale_state_name(SaleState state) {
  return state == SaleState::declined ? "declined" : "accepted";
}

Result<ReaderRecord> SqlStore::create_reader(const ReaderRecord& reader) {
  return transact(Tx::write, [&](sql::Connection& c) -> Result<ReaderRecord> {
    auto count = first_count(c.query("SELECT COUNT(*) FROM readers", {}));
    if (!count) return error(count.error());
    if (*count >= limits::readers_max) {
      return error(Code::limit_exceeded,
                   "at most " + std::to_string(limits::readers_max) + " readers can be registered");
    }
    Result<sql::Rows> rows = c.query(
        "INSERT INTO readers (id, name, public_key, key_id, created_at_ms) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING " +
            std::string(kReaderColumns),
        {reader.id, reader.name, reader.public_key, reader.key_id, reader.created_at_ms});
    if (!rows)
      return error(reword(rows.error(), Code::conflict, "this reader key is already registered"));
    return read_one(*rows, read_reader, "reader");
  });
}

Result<ReaderRecord> SqlStore::get_reader(std::string_view reader_id) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<ReaderRecord> {
    Result<sql::Rows> rows =
        c.query(select_from(kReaderColumns, "readers WHERE id = $1"), {reader_id});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_reader, "no reader \"" + std::string(reader_id) + "\"");
  });
}

Result<ReaderRecord> SqlStore::get_reader_by_key_id(std::string_view key_id) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<ReaderRecord> {
    Result<sql::Rows> rows =
        c.query(select_from(kReaderColumns, "readers WHERE key_id = $1"), {key_id});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_reader, "no reader with key " + std::string(key_id));
  });
}

Result<std::vector<ReaderRecord>> SqlStore::list_readers() {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<std::vector<ReaderRecord>> {
    Result<sql::Rows> rows =
        c.query(select_from(kReaderColumns, "readers ORDER BY created_at_ms, id LIMIT $1"),
                {int64_t{limits::readers_max}});
    if (!rows) return error(rows.error());
    return read_all(*rows, read_reader);
  });
}

Result<ReaderRecord> SqlStore::revoke_reader(std::string_view reader_id, int64_t now_ms) {
  return transact(Tx::write, [&](sql::Connection& c) -> Result<ReaderRecord> {
    Result<sql::Rows> rows = c.query(
        "UPDATE readers SET revoked_at_ms = COALESCE(revoked_at_ms, $2) WHERE id = $1 "
        "RETURNING " +
            std::string(kReaderColumns),
        {reader_id, now_ms});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_reader, "no reader \"" + std::string(reader_id) + "\"");
  });
}

Result<ReceiptSale> SqlStore::record_receipt_sale(const ReceiptSale& sale) {
  if (!sale.serial) return error(Code::invalid_argument, "a recorded sale needs its serial");
  return transact(Tx::write, [&](sql::Connection& c) -> Result<ReceiptSale> {
    Result<sql::Rows> rows = c.query(
        "INSERT INTO receipt_sales (reader_id, txn, channel, drop_id, serial, amount_minor, "
        "currency, account, reference, state, sold_at_ms, decline_reason) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'accepted', $10, '') RETURNING " +
            std::string(kSaleColumns),
        {sale.reader_id, sale.transaction, sale_channel_name(sale.channel), sale.drop_id,
         int64_t{*sale.serial}, sale.amount_minor, sale.currency, sale.account, sale.reference,
         sale.sold_at_ms});
    if (!rows) {
      return error(reword(rows.error(), Code::conflict,
                          sale_name(sale.reader_id, sale.transaction) + " is recorded already"));
    }
    return read_one(*rows, read_sale, "receipt sale");
  });
}

Result<ReceiptSale> SqlStore::get_receipt_sale(std::string_view reader_id,
                                               std::string_view transaction) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<ReceiptSale> {
    Result<sql::Rows> rows =
        c.query(select_from(kSaleColumns, "receipt_sales WHERE reader_id = $1 AND txn = $2"),
                {reader_id, transaction});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_sale, "no sale for " + sale_name(reader_id, transaction));
  });
}

// One statement on both backends (an upsert), so a decline racing an
// exchange or another decline of the same transaction never loses either.
Result<ReceiptSale> SqlStore::decline_receipt_sale(const ReceiptSale& d, int64_t declined_at_ms) {
  return transact(Tx::write, [&](sql::Connection& c) -> Result<ReceiptSale> {
    Result<sql::Rows> rows = c.query(
        "INSERT INTO receipt_sales AS s (reader_id, txn, channel, drop_id, serial, amount_minor, "
        "currency, account, reference, state, sold_at_ms, declined_at_ms, decline_reason) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'declined', $10, $10, $11) "
        "ON CONFLICT (reader_id, txn) DO UPDATE SET state = 'declined', "
        "declined_at_ms = COALESCE(s.declined_at_ms, excluded.declined_at_ms), "
        "decline_reason = CASE WHEN s.state = 'declined' THEN s.decline_reason "
        "ELSE excluded.decline_reason END, "
        "serial = COALESCE(s.serial, excluded.serial), "
        "drop_id = CASE WHEN s.drop_id = 0 THEN excluded.drop_id ELSE s.drop_id END, "
        "account = CASE WHEN s.account = '' THEN excluded.account ELSE s.account END "
        "RETURNING " +
            std::string(kSaleColumns),
        {d.reader_id, d.transaction, sale_channel_name(d.channel), d.drop_id,
         d.serial ? sql::Value(int64_t{*d.serial}) : sql::Value(nullptr), d.amount_minor,
         d.currency, d.account, d.reference, declined_at_ms, d.decline_reason});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_sale, "receipt sale");
  });
}

Result<std::vector<ReceiptSale>> SqlStore::list_receipt_sales(int64_t drop_id,
                                                              std::optional<SaleState> state,
                                                              int64_t after_id,
                                                              uint32_t count_max) {
  int64_t limit = std::min(count_max, limits::sales_page_count_max);
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<std::vector<ReceiptSale>> {
    Result<sql::Rows> rows =
        state ? c.query(select_from(kSaleColumns,
                                    "receipt_sales WHERE drop_id = $1 AND state = $2 AND id > $3 "
                                    "ORDER BY id LIMIT $4"),
                        {drop_id, sale_state_name(*state), after_id, limit})
              : c.query(select_from(kSaleColumns,
                                    "receipt_sales WHERE drop_id = $1 AND id > $2 "
                                    "ORDER BY id LIMIT $3"),
                        {drop_id, after_id, limit});
    if (!rows) return error(rows.error());
    return read_all(*rows, read_sale);
  });
}

}  // namespace dg::store
