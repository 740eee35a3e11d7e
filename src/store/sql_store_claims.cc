// SqlStore: a batch of claims written together, the fast path of
// record_claims (group commit). Written one by one, a claim costs a dozen
// statements — savepoint, checks, claim, buyer counter, idempotency record,
// events — and on PostgreSQL each is a round trip, so the batch's transaction
// would hold the committer for a dozen round trips per claim. Together, the
// same checks and rows take a handful of multi-row statements per batch, and
// PostgreSQL gets them in one flight (pipeline mode): the batch costs two
// round trips, the flight and its COMMIT.
//
// The fast path applies only when every claim of the batch passes. Anything
// else — a refusal, a constraint, a lock timeout — rolls its transaction
// back, and record_claims writes the claims one by one in a new transaction,
// each in its own savepoint, which gives every claim its own answer exactly
// as before. The checks are the per-claim checks of sql_store_sales.cc, made
// over the batch's serials at once, in the same order, with the same locks.
#include <algorithm>
#include <array>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "base/assert.h"
#include "base/limits.h"
#include "core/claim.h"
#include "core/lease.h"
#include "store/sql_rows.h"
#include "store/sql_store.h"

namespace dg::store {
namespace {

// A multi-row statement carries at most this many rows. A run is cut into a
// multiple of kRowsStep rows and the rest (45 = 40 + 5), so a connection
// prepares at most 15 texts per statement instead of one per batch size, and
// a batch of up to 64 claims takes at most two statements per table.
constexpr size_t kRowsPerStatementMax = 64;
constexpr size_t kRowsStep = 8;
static_assert(kRowsPerStatementMax % kRowsStep == 0);

// How many of `remaining` rows the next statement takes.
size_t next_piece(size_t remaining) {
  if (remaining < kRowsStep) return remaining;
  return std::min(remaining, kRowsPerStatementMax) / kRowsStep * kRowsStep;
}

// "($1, $2), ($3, $4)": `rows` rows of `columns` placeholders.
std::string values_list(size_t rows, size_t columns) {
  std::string out;
  size_t placeholder = 0;
  for (size_t row = 0; row < rows; ++row) {
    out += row == 0 ? "(" : ", (";
    for (size_t column = 0; column < columns; ++column) {
      if (column > 0) out += ", ";
      out += "$" + std::to_string(++placeholder);
    }
    out += ")";
  }
  return out;
}

// `head VALUES (…), (…) tail` for every row count next_piece() yields, built
// once (a function-local static per statement): the committer then builds no
// SQL text per batch, and the connection finds its prepared statement by it.
class RowsStatement {
 public:
  RowsStatement(std::string_view head, std::string_view tail, size_t columns) : columns_(columns) {
    for (size_t rows = 1; rows <= kRowsPerStatementMax; ++rows) {
      if (rows >= kRowsStep && rows % kRowsStep != 0) continue;  // never a piece
      texts_[rows] =
          std::string(head) + " VALUES " + values_list(rows, columns) + std::string(tail);
    }
  }
  size_t columns() const { return columns_; }
  std::string_view text(size_t rows) const {
    DG_ASSERT(rows >= 1 && rows <= kRowsPerStatementMax && !texts_[rows].empty());
    return texts_[rows];
  }

 private:
  size_t columns_;
  std::array<std::string, kRowsPerStatementMax + 1> texts_;  // by row count
};

// The statements of a batch, each with the reader of its answer, built before
// any runs: on PostgreSQL they reach the server in one flight (pipeline mode)
// instead of a round trip each. The answers are read in order, so a check's
// reader sees its rows before any later statement's reader runs; a write sent
// after a check that fails is undone with the transaction.
class Flight {
 public:
  using Take = std::function<Status(const sql::Rows&)>;

  // A statement; its parameters are appended to the returned vector.
  std::vector<sql::Value>& add(std::string_view sql, Take take) {
    entries_.push_back({sql, {}, std::move(take)});
    return entries_.back().params;
  }
  // Keeps `text` for as long as the flight (a statement built at run time).
  std::string_view keep(std::string text) { return texts_.emplace_back(std::move(text)); }

  // Runs every statement, then every reader: the first failure of either.
  Status run(sql::Connection& c) const {
    std::vector<sql::Statement> statements;
    statements.reserve(entries_.size());
    for (const Entry& entry : entries_) statements.push_back({entry.sql, entry.params});
    std::vector<Result<sql::Rows>> results = c.run_all(statements);
    for (size_t i = 0; i < results.size(); ++i) {
      if (!results[i]) return results[i].error();
      if (entries_[i].take) DG_RETURN_IF_ERROR(entries_[i].take(*results[i]));
    }
    DG_ASSERT(results.size() == entries_.size());
    return Status();
  }

 private:
  struct Entry {
    std::string_view sql;
    std::vector<sql::Value> params;
    Take take;
  };
  std::deque<Entry> entries_;  // stable addresses: add() hands out params
  std::deque<std::string> texts_;
};

// Adds `statement` over rows 0..row_count-1 in pieces of at most
// kRowsPerStatementMax rows: bind(i, params) appends row i's values (views of
// the batch's strings, not copies), take(rows) reads what each piece returned.
template <typename Bind>
void add_rows(Flight& flight, const RowsStatement& statement, size_t row_count, Bind&& bind,
              const Flight::Take& take) {
  for (size_t done = 0; done < row_count;) {
    size_t rows = next_piece(row_count - done);
    std::vector<sql::Value>& params = flight.add(statement.text(rows), take);
    params.reserve(rows * statement.columns());
    for (size_t i = done; i < done + rows; ++i) bind(i, params);
    DG_ASSERT(params.size() == rows * statement.columns());
    done += rows;
  }
}

// The serials a batch asks for in one drop (or one seller's leases of it).
struct SerialSpan {
  uint32_t first = std::numeric_limits<uint32_t>::max();
  uint32_t last = 0;
  int64_t at_ms_min = std::numeric_limits<int64_t>::max();

  void add(const ClaimInsert& insert) {
    first = std::min(first, insert.serial);
    last = std::max(last, insert.serial);
    at_ms_min = std::min(at_ms_min, insert.at_ms);
  }
};

// Whether a batch may be tried together: more than one claim (one claim is
// cheaper alone), no hold to consume (a confirmed payment; rare), and no
// account twice in a drop (one multi-row upsert cannot count a buyer twice).
bool may_go_together(std::span<const ClaimInsert* const> batch) {
  if (batch.size() < 2) return false;
  std::set<std::pair<int64_t, std::string_view>> buyers;
  for (const ClaimInsert* insert : batch) {
    if (insert->from_hold_id) return false;
    if (!buyers.emplace(insert->drop_id, insert->account).second) return false;
  }
  return true;
}

Status not_together(Code code, std::string_view why) {
  return Status(code, "the batch cannot be written together: " + std::string(why));
}

// A batch on its way through one flight: what the readers of the answers
// check them against, and where they put the claims. Outlives the flight.
struct BatchWrite {
  BatchWrite(std::span<const ClaimInsert* const> batch_in, std::vector<Claim>& claims_out)
      : batch(batch_in), claims(claims_out), returned(batch_in.size(), false) {
    for (size_t k = 0; k < batch.size(); ++k) {
      position[{batch[k]->drop_id, batch[k]->serial}] = k;
      limit_of[{batch[k]->drop_id, batch[k]->account}] = batch[k];
      if (batch[k]->idempotency) records.push_back(&*batch[k]->idempotency);
      for (const Event& event : batch[k]->events) events.push_back(&event);
    }
  }

  std::span<const ClaimInsert* const> batch;
  std::vector<Claim>& claims;                               // by index in batch
  std::map<std::pair<int64_t, uint32_t>, size_t> position;  // (drop, serial) → index
  std::vector<bool> returned;                               // by index in batch
  std::map<std::pair<int64_t, std::string_view>, const ClaimInsert*> limit_of;  // by buyer
  std::vector<const IdempotencyRecord*> records;
  std::vector<const Event*> events;
};

// check_lease_covers for every claim of `seller_id` in `drop_id`, with one
// statement. A seller's leases of a drop never overlap and hold at most
// limits::lease_serials_max serials, so the leases that can cover span.first..last
// start in first - limits::lease_serials_max + 1 .. last: a bounded index range.
void add_leases_cover_check(Flight& flight, std::string_view for_share, std::string_view seller_id,
                            int64_t drop_id, const SerialSpan& span,
                            std::span<const ClaimInsert* const> batch) {
  int64_t lowest_start = int64_t{span.first} - int64_t{limits::lease_serials_max} + 1;
  std::string_view sql = flight.keep(
      "SELECT first_serial, last_serial FROM leases WHERE seller_id = $1 AND drop_id = $2 "
      "AND first_serial BETWEEN $3 AND $4 AND last_serial >= $5 ORDER BY first_serial" +
      std::string(for_share));
  flight
      .add(sql,
           [seller_id, drop_id, batch](const sql::Rows& rows) -> Status {
             std::vector<core::SerialRun> leases;  // sorted by first serial
             for (size_t row = 0; row < rows.size(); ++row) {
               sql::RowReader reader(rows, row);
               uint32_t first = reader.uint32();
               uint32_t last = reader.uint32();
               if (!reader.status().ok()) return reader.status();
               leases.push_back({first, last});
             }
             for (const ClaimInsert* insert : batch) {
               if (insert->seller_id != seller_id || insert->drop_id != drop_id) continue;
               if (core::lease_covering(leases, insert->serial) == nullptr) {
                 return not_together(Code::conflict, "a serial is not in a lease of its seller");
               }
             }
             return Status();
           })
      .assign({seller_id, drop_id, lowest_start, int64_t{span.last}, int64_t{span.first}});
}

// The hold check of check_claim_preconditions for the batch's claims in
// `drop_id`: one read of the unexpired holds on span.first..last.
void add_unheld_check(Flight& flight, int64_t drop_id, const SerialSpan& span,
                      std::span<const ClaimInsert* const> batch) {
  flight
      .add(
          "SELECT serial, expires_at_ms FROM holds WHERE drop_id = $1 AND serial BETWEEN $2 "
          "AND $3 AND expires_at_ms > $4",
          [drop_id, batch](const sql::Rows& held) -> Status {
            std::map<uint32_t, int64_t> expiry_by_serial;
            for (size_t row = 0; row < held.size(); ++row) {
              sql::RowReader reader(held, row);
              uint32_t serial = reader.uint32();
              int64_t expires_at_ms = reader.int64();
              if (!reader.status().ok()) return reader.status();
              expiry_by_serial[serial] = expires_at_ms;
            }
            for (const ClaimInsert* insert : batch) {
              if (insert->drop_id != drop_id) continue;
              auto hold = expiry_by_serial.find(insert->serial);
              if (hold != expiry_by_serial.end() && hold->second > insert->at_ms) {
                return not_together(Code::conflict, "a serial is held");
              }
            }
            return Status();
          })
      .assign({drop_id, int64_t{span.first}, int64_t{span.last}, span.at_ms_min});
}

// check_claim_preconditions over the whole batch: each drop's edition read
// once, each seller's leases over the batch's serials locked FOR SHARE in
// one statement, unexpired holds on those serials read once.
void add_claim_checks(Flight& flight, std::string_view for_share,
                      std::span<const ClaimInsert* const> batch) {
  std::map<int64_t, SerialSpan> drops;
  std::map<std::pair<std::string_view, int64_t>, SerialSpan> sellers;
  for (const ClaimInsert* insert : batch) {
    drops[insert->drop_id].add(*insert);
    if (!insert->seller_id.empty()) sellers[{insert->seller_id, insert->drop_id}].add(*insert);
  }
  for (const auto& [drop_id, span] : drops) {
    // A plain read, as for one claim: the drop row is the hot row of leasing.
    flight
        .add("SELECT edition_size FROM drops WHERE id = $1",
             [span](const sql::Rows& rows) -> Status {
               if (rows.empty()) return not_together(Code::not_found, "a drop does not exist");
               Result<int64_t> edition_size = first_int(rows);
               if (!edition_size) return edition_size.error();
               if (span.first < 1 || span.last > *edition_size) {
                 return not_together(Code::invalid_argument, "a serial is outside its edition");
               }
               return Status();
             })
        .assign({drop_id});
  }
  for (const auto& [key, span] : sellers) {
    add_leases_cover_check(flight, for_share, key.first, key.second, span, batch);
  }
  for (const auto& [drop_id, span] : drops) add_unheld_check(flight, drop_id, span, batch);
}

void add_claim_rows(Flight& flight, BatchWrite& write) {
  static const RowsStatement kInsert(
      "INSERT INTO claims (drop_id, serial, account, source, payment_ref, cert_id, cert_token, "
      "claimed_at_ms)",
      " RETURNING id, drop_id, serial", 8);
  add_rows(
      flight, kInsert, write.batch.size(),
      [&](size_t k, std::vector<sql::Value>& p) {
        const ClaimInsert& i = *write.batch[k];
        p.insert(p.end(), {i.drop_id, int64_t{i.serial}, i.account, claim_source_name(i.source),
                           i.payment_ref, i.cert_id, i.cert_token, i.at_ms});
      },
      [&write](const sql::Rows& rows) -> Status {
        // The rest of each claim is what was inserted: only the id is new.
        for (size_t row = 0; row < rows.size(); ++row) {
          sql::RowReader reader(rows, row);
          int64_t id = reader.int64();
          int64_t drop_id = reader.int64();
          uint32_t serial = reader.uint32();
          if (!reader.status().ok()) return reader.status();
          auto found = write.position.find({drop_id, serial});
          if (found == write.position.end())
            return Status(Code::corruption, "an unasked claim came back");
          const ClaimInsert& i = *write.batch[found->second];
          write.returned[found->second] = true;
          write.claims[found->second] =
              Claim{id,        drop_id,      serial,  i.account,   i.source, i.payment_ref,
                    i.cert_id, i.cert_token, i.at_ms, std::nullopt};
        }
        return Status();
      });
}

// count_buyer_claim for the batch: one upsert over its buyers (distinct, see
// may_go_together), in the batch's order, refused if any buyer passes the limit
// or may have live holds (count_buyer_claim counts those one by one).
void add_buyer_counts(Flight& flight, BatchWrite& write) {
  static const RowsStatement kUpsert(
      "INSERT INTO buyer_claims (drop_id, account, claim_count)",
      " ON CONFLICT (drop_id, account) DO UPDATE SET claim_count = buyer_claims.claim_count + 1 "
      "RETURNING drop_id, account, claim_count, holds_until_ms",
      3);
  add_rows(
      flight, kUpsert, write.batch.size(),
      [&](size_t k, std::vector<sql::Value>& p) {
        p.insert(p.end(), {write.batch[k]->drop_id, write.batch[k]->account, int64_t{1}});
      },
      [&write](const sql::Rows& rows) -> Status {
        for (size_t row = 0; row < rows.size(); ++row) {
          sql::RowReader reader(rows, row);
          int64_t drop_id = reader.int64();
          std::string account = reader.text();
          int64_t count = reader.int64();
          int64_t holds_until_ms = reader.int64();
          if (!reader.status().ok()) return reader.status();
          auto limit = write.limit_of.find({drop_id, account});
          if (limit == write.limit_of.end())
            return Status(Code::corruption, "an unasked buyer came back");
          // `count` includes this claim: the buyer had count - 1 before it.
          if (!core::within_buyer_limit(count - 1, 0, limit->second->per_buyer_limit)) {
            return not_together(Code::limit_exceeded, "a buyer is at the per-buyer limit");
          }
          if (holds_until_ms > limit->second->at_ms) {
            return not_together(Code::limit_exceeded, "a buyer may have live holds");
          }
        }
        return Status();
      });
}

// insert_events for the events of the batch, in order. An event with a
// dedup_key goes in with ON CONFLICT DO NOTHING (a repeat is skipped, as in
// insert_events); one without can meet no unique index, so it goes in with a
// plain INSERT, which spares PostgreSQL the speculative insertion per row.
void add_events(Flight& flight, const std::vector<const Event*>& events) {
  static constexpr std::string_view kHead =
      "INSERT INTO events (kind, drop_id, serial, account, detail_json, at_ms, dedup_key)";
  static const RowsStatement kDeduped(kHead, " ON CONFLICT DO NOTHING", 7);
  static const RowsStatement kPlain(kHead, "", 7);
  for (size_t begin = 0; begin < events.size();) {
    bool deduped = !events[begin]->dedup_key.empty();
    size_t end = begin;
    while (end < events.size() && !events[end]->dedup_key.empty() == deduped) ++end;
    add_rows(
        flight, deduped ? kDeduped : kPlain, end - begin,
        [&](size_t i, std::vector<sql::Value>& p) {
          const Event& e = *events[begin + i];
          p.insert(p.end(), {e.kind, e.drop_id,
                             e.serial ? sql::Value(int64_t{*e.serial}) : sql::Value(nullptr),
                             e.account, e.detail_json, e.at_ms, e.dedup_key});
        },
        nullptr);
    begin = end;
  }
}

// The rows of insert_claim for the whole batch, after its checks.
void add_claim_writes(Flight& flight, BatchWrite& write) {
  add_claim_rows(flight, write);
  add_buyer_counts(flight, write);
  static const RowsStatement kRecords(
      "INSERT INTO idempotency (scope, key, request_sha256, response_status, response_body, "
      "created_at_ms)",
      "", 6);
  add_rows(
      flight, kRecords, write.records.size(),
      [&](size_t i, std::vector<sql::Value>& p) {
        const IdempotencyRecord& r = *write.records[i];
        p.insert(p.end(), {r.scope, r.key, r.request_sha256, int64_t{r.response_status},
                           r.response_body, r.created_at_ms});
      },
      nullptr);
  add_events(flight, write.events);
}

}  // namespace

// One flight: BEGIN, the checks, the writes; then COMMIT once every answer
// passed, or ROLLBACK. Two round trips per batch on PostgreSQL.
std::optional<std::vector<Result<Claim>>> SqlStore::record_claims_together(
    const std::vector<ClaimInsert>& inserts, const std::vector<size_t>& order) {
  std::vector<const ClaimInsert*> batch;
  batch.reserve(order.size());
  for (size_t i : order) batch.push_back(&inserts[i]);
  if (!may_go_together(batch)) return std::nullopt;
  std::vector<Claim> claims(batch.size());
  BatchWrite write(batch, claims);
  Flight flight;
  flight.add(dialect_.begin_write, nullptr);
  add_claim_checks(flight, dialect_.for_share, batch);
  add_claim_writes(flight, write);
  // Not every claim passed (or the batch could not begin): nothing was
  // written, so they can be written one by one.
  Result<sql::ConnectionPool::Handle> connection = checkout(Tx::write);
  if (!connection) return std::nullopt;
  Status ran = flight.run(**connection);
  if (ran.ok() &&
      std::find(write.returned.begin(), write.returned.end(), false) != write.returned.end()) {
    ran = Status(Code::corruption, "an inserted claim did not come back");
  }
  if (!ran.ok()) {
    static_cast<void>(end(**connection, Tx::write, /*commit=*/false));
    return std::nullopt;
  }
  // Written: committed, or a failed COMMIT whose outcome is unknown; either
  // way every claim shares the batch's fate.
  Status together = end(**connection, Tx::write, /*commit=*/true);
  std::vector<Result<Claim>> results(inserts.size(), error(together));
  if (together.ok()) {
    for (size_t k = 0; k < order.size(); ++k) results[order[k]] = std::move(claims[k]);
  }
  return results;
}

}  // namespace dg::store
