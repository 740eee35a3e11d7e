#include "store/sales_book.h"

#include <sqlite3.h>

#include <mutex>

#include "store/sqlite/statement.h"

namespace dg::store {
namespace {

using sqlite::StatementPtr;

// Frozen: the edge's sales file (docs/formats/sync.md).
constexpr const char* kSchema = R"sql(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS sales (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  sale_key TEXT NOT NULL UNIQUE,
  drop_slug TEXT NOT NULL,
  serial INTEGER NOT NULL CHECK (serial >= 1),
  channel TEXT NOT NULL,
  account TEXT NOT NULL,
  amount_minor INTEGER NOT NULL,
  currency TEXT NOT NULL,
  reference TEXT NOT NULL,
  cert_token TEXT NOT NULL,
  grant_token TEXT NOT NULL,
  answer_json TEXT NOT NULL,
  sold_at_ms INTEGER NOT NULL,
  reported INTEGER NOT NULL DEFAULT 0,
  UNIQUE (drop_slug, serial)
) STRICT;
CREATE INDEX IF NOT EXISTS sales_unreported ON sales (reported, seq);
)sql";

constexpr const char* kColumns =
    "id, sale_key, drop_slug, serial, channel, account, amount_minor, currency, reference, "
    "cert_token, grant_token, answer_json, sold_at_ms";

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};

std::string text_at(sqlite3_stmt* s, int column) {
  const unsigned char* t = sqlite3_column_text(s, column);
  return t ? std::string(reinterpret_cast<const char*>(t),
                         static_cast<size_t>(sqlite3_column_bytes(s, column)))
           : std::string();
}

EdgeSale read_sale(sqlite3_stmt* s) {
  EdgeSale sale;
  sale.id = text_at(s, 0);
  sale.sale_key = text_at(s, 1);
  sale.drop = text_at(s, 2);
  sale.serial = static_cast<uint32_t>(sqlite3_column_int64(s, 3));
  sale.channel = text_at(s, 4);
  sale.account = text_at(s, 5);
  sale.amount_minor = sqlite3_column_int64(s, 6);
  sale.currency = text_at(s, 7);
  sale.reference = text_at(s, 8);
  sale.cert_token = text_at(s, 9);
  sale.grant_token = text_at(s, 10);
  sale.answer_json = text_at(s, 11);
  sale.sold_at_ms = sqlite3_column_int64(s, 12);
  return sale;
}

void bind_text(sqlite3_stmt* s, int index, const std::string& text) {
  sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

class SqliteSalesBook final : public SalesBook {
 public:
  explicit SqliteSalesBook(sqlite3* db) : db_(db) {}

  Result<std::optional<EdgeSale>> find(const std::string& sale_key) override {
    std::lock_guard lock(mutex_);
    auto s = prepare(std::string("SELECT ") + kColumns + " FROM sales WHERE sale_key = ?1");
    if (!s) return error(s.error());
    bind_text(s->get(), 1, sale_key);
    int rc = sqlite3_step(s->get());
    if (rc == SQLITE_ROW) return std::optional<EdgeSale>(read_sale(s->get()));
    if (rc != SQLITE_DONE) return error(failure("find"));
    return std::optional<EdgeSale>();
  }

  Status record(const EdgeSale& sale) override {
    std::lock_guard lock(mutex_);
    auto s = prepare(std::string("INSERT INTO sales (") + kColumns +
                     ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
    if (!s) return s.error();
    sqlite3_stmt* st = s->get();
    bind_text(st, 1, sale.id);
    bind_text(st, 2, sale.sale_key);
    bind_text(st, 3, sale.drop);
    sqlite3_bind_int64(st, 4, sale.serial);
    bind_text(st, 5, sale.channel);
    bind_text(st, 6, sale.account);
    sqlite3_bind_int64(st, 7, sale.amount_minor);
    bind_text(st, 8, sale.currency);
    bind_text(st, 9, sale.reference);
    bind_text(st, 10, sale.cert_token);
    bind_text(st, 11, sale.grant_token);
    bind_text(st, 12, sale.answer_json);
    sqlite3_bind_int64(st, 13, sale.sold_at_ms);
    // Autocommit with synchronous=FULL: the commit's fsync is done when step returns.
    int rc = sqlite3_step(st);
    if (rc == SQLITE_CONSTRAINT) {
      return Status(Code::conflict, "this sale (or its serial) is recorded already");
    }
    if (rc != SQLITE_DONE) return failure("record");
    return Status();
  }

  Result<std::vector<uint32_t>> sold_serials(const std::string& drop) override {
    std::lock_guard lock(mutex_);
    auto s = prepare("SELECT serial FROM sales WHERE drop_slug = ?1");
    if (!s) return error(s.error());
    bind_text(s->get(), 1, drop);
    std::vector<uint32_t> out;
    int rc;
    while ((rc = sqlite3_step(s->get())) == SQLITE_ROW)
      out.push_back(static_cast<uint32_t>(sqlite3_column_int64(s->get(), 0)));
    if (rc != SQLITE_DONE) return error(failure("sold serials"));
    return out;
  }

  Result<std::vector<EdgeSale>> unreported(uint32_t count_max) override {
    std::lock_guard lock(mutex_);
    auto s = prepare(std::string("SELECT ") + kColumns +
                     " FROM sales WHERE reported = 0 ORDER BY seq LIMIT ?1");
    if (!s) return error(s.error());
    sqlite3_bind_int64(s->get(), 1, count_max);
    std::vector<EdgeSale> out;
    int rc;
    while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) out.push_back(read_sale(s->get()));
    if (rc != SQLITE_DONE) return error(failure("unreported"));
    return out;
  }

  Status mark_reported(const std::vector<std::string>& ids) override {
    std::lock_guard lock(mutex_);
    if (sqlite3_exec(db_.get(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
      return failure("begin");
    auto s = prepare("UPDATE sales SET reported = 1 WHERE id = ?1");
    if (!s) {
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      return s.error();
    }
    for (const auto& id : ids) {
      sqlite::ResetOnExit reset(s->get());
      bind_text(s->get(), 1, id);
      if (sqlite3_step(s->get()) != SQLITE_DONE) {
        Status failed = failure("mark reported");
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        return failed;
      }
    }
    if (sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
      return failure("commit");
    return Status();
  }

  Result<Pending> pending() override {
    std::lock_guard lock(mutex_);
    auto s =
        prepare("SELECT COUNT(*), COALESCE(SUM(amount_minor), 0) FROM sales WHERE reported = 0");
    if (!s) return error(s.error());
    if (sqlite3_step(s->get()) != SQLITE_ROW) return error(failure("pending"));
    return Pending{static_cast<uint32_t>(sqlite3_column_int64(s->get(), 0)),
                   sqlite3_column_int64(s->get(), 1)};
  }

 private:
  Status failure(std::string_view doing) {
    return Status(Code::io_error,
                  "sales book: " + std::string(doing) + ": " + sqlite3_errmsg(db_.get()));
  }
  Result<StatementPtr> prepare(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK)
      return error(failure("prepare"));
    return StatementPtr(raw);
  }

  std::mutex mutex_;
  std::unique_ptr<sqlite3, DbCloser> db_;
};

}  // namespace

Result<std::unique_ptr<SalesBook>> SalesBook::open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<SqliteSalesBook> book = std::make_unique<SqliteSalesBook>(raw);
  if (rc != SQLITE_OK) {
    return error(Code::io_error, "cannot open sales book " + path + ": " +
                                     (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  char* message = nullptr;
  if (sqlite3_exec(raw, kSchema, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "?";
    sqlite3_free(message);
    return error(Code::io_error, "cannot set up sales book " + path + ": " + text);
  }
  return std::unique_ptr<SalesBook>(std::move(book));
}

}  // namespace dg::store
