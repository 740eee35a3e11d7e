// SqlStore: sellers, serial leases, holds, claims and revocations — the
// scarcity half of the store (DESIGN.md "Scarcity: serial leases").
#include <algorithm>
#include <numeric>
#include <set>

#include "base/assert.h"
#include "base/limits.h"
#include "core/claim.h"
#include "core/lease.h"
#include "store/sql_rows.h"
#include "store/sql_store.h"

namespace dg::store {
namespace {

std::string serial_name(int64_t drop_id, uint32_t serial) {
  return "serial " + std::to_string(serial) + " of drop " + std::to_string(drop_id);
}

// The dead origin sellers' leases: heartbeat too old, or superseded by a later
// registration of the same instance. Edge leases never qualify (DESIGN.md rule 4).
constexpr std::string_view kDeadOriginLeases =
    "SELECT l.id, l.drop_id, l.seller_id, l.first_serial, l.last_serial "
    "FROM leases l JOIN sellers s ON s.id = l.seller_id "
    "WHERE s.kind = 'origin' AND (s.heartbeat_at_ms < $1 OR EXISTS ("
    "SELECT 1 FROM sellers n WHERE n.instance = s.instance AND n.generation > s.generation)) "
    "ORDER BY l.id";

// Puts the lease's unclaimed serials into the pool in one statement: a
// recursive CTE enumerates first..last (limits::lease_serials_max at most) and the
// anti-join on claims skips what was sold.
constexpr std::string_view kReturnUnclaimed =
    "WITH RECURSIVE s(serial) AS (SELECT CAST($2 AS INTEGER) "
    "UNION ALL SELECT serial + 1 FROM s WHERE serial < $3) "
    "INSERT INTO returned_serials (drop_id, serial, returned_at_ms) "
    "SELECT CAST($1 AS BIGINT), serial, CAST($4 AS BIGINT) FROM s "
    "WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.drop_id = $1 AND c.serial = s.serial)";

// Two batches that touch the same serials take their locks in the same
// order, (drop, serial), so they queue behind each other instead of deadlocking.
std::vector<size_t> lock_order(const std::vector<ClaimInsert>& inserts) {
  std::vector<size_t> order(inserts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::pair(inserts[a].drop_id, inserts[a].serial) <
           std::pair(inserts[b].drop_id, inserts[b].serial);
  });
  return order;
}

}  // namespace

// --- Sellers.

Status SqlStore::register_seller(std::string_view seller_id, SellerKind kind,
                                 std::string_view instance, int64_t now_ms) {
  if (seller_id.empty() || instance.empty()) {
    return Status(Code::invalid_argument, "a seller needs an id and an instance");
  }
  return transact(Tx::write, [&](sql::Connection& c) -> Status {
    Result<sql::Rows> existing =
        c.query(locked("SELECT kind FROM sellers WHERE id = $1"), {seller_id});
    if (!existing) return existing.error();
    if (!existing->empty() && existing->cell(0, 0) != std::string(seller_kind_name(kind))) {
      return Status(Code::conflict, "seller \"" + std::string(seller_id) + "\" is registered as " +
                                        existing->cell(0, 0).value_or("?"));
    }
    Result<sql::Rows> generation = c.query(dialect_.next_generation);
    if (!generation) return generation.error();
    Result<int64_t> next = first_int(*generation);
    if (!next) return next.error();
    Result<sql::Rows> rows = c.query(
        "INSERT INTO sellers (id, kind, instance, generation, registered_at_ms, heartbeat_at_ms) "
        "VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO UPDATE SET "
        "instance = excluded.instance, generation = excluded.generation, "
        "registered_at_ms = excluded.registered_at_ms, heartbeat_at_ms = excluded.heartbeat_at_ms",
        {seller_id, seller_kind_name(kind), instance, *next, now_ms});
    return rows ? Status() : rows.error();
  });
}

Status SqlStore::heartbeat(std::string_view seller_id, int64_t now_ms) {
  return transact(Tx::write, [&](sql::Connection& c) -> Status {
    // Never backwards: of two processes' clocks, the later one wins.
    Result<sql::Rows> rows = c.query(
        "UPDATE sellers SET heartbeat_at_ms = CASE WHEN heartbeat_at_ms > $2 "
        "THEN heartbeat_at_ms ELSE $2 END WHERE id = $1",
        {seller_id, now_ms});
    if (!rows) return rows.error();
    if (rows->affected_rows() == 0) {
      return Status(Code::not_found, "no seller \"" + std::string(seller_id) + "\"");
    }
    return check_seller_current(c, seller_id);
  });
}

Status SqlStore::check_seller_current(sql::Connection& c, std::string_view seller_id) {
  Result<sql::Rows> rows = c.query(
      "SELECT CASE WHEN EXISTS (SELECT 1 FROM sellers n WHERE n.instance = s.instance "
      "AND n.generation > s.generation) THEN 1 ELSE 0 END FROM sellers s WHERE s.id = $1",
      {seller_id});
  if (!rows) return rows.error();
  if (rows->empty()) return Status(Code::not_found, "no seller \"" + std::string(seller_id) + "\"");
  Result<int64_t> superseded = first_int(*rows);
  if (!superseded) return superseded.error();
  if (*superseded != 0) {
    return Status(Code::conflict, "seller \"" + std::string(seller_id) +
                                      "\" was superseded by a later registration of its instance");
  }
  return Status();
}

// --- Leases.

Result<Lease> SqlStore::issue_lease(int64_t drop_id, std::string_view seller_id,
                                    uint32_t serial_count_max, int64_t now_ms) {
  if (serial_count_max < 1 || serial_count_max > limits::lease_serials_max) {
    return error(Code::invalid_argument,
                 "a lease holds 1.." + std::to_string(limits::lease_serials_max) + " serials");
  }
  return transact(Tx::write, [&](sql::Connection& c) -> Result<Lease> {
    DG_RETURN_IF_ERROR_RESULT(check_seller_current(c, seller_id));
    // The one hot row, locked once per lease: concurrent issuers queue here,
    // and each statement after the lock sees what the previous issuer committed.
    Result<sql::Rows> drop =
        c.query(locked("SELECT edition_size, next_serial FROM drops WHERE id = $1"), {drop_id});
    if (!drop) return error(drop.error());
    if (drop->empty()) return error(Code::not_found, "no drop with id " + std::to_string(drop_id));
    sql::RowReader reader(*drop, 0);
    uint32_t edition_size = reader.uint32();
    uint32_t next_serial = reader.uint32();
    if (!reader.status().ok()) return error(reader.status());

    Result<std::optional<Lease>> returned =
        lease_returned_run(c, drop_id, seller_id, serial_count_max, now_ms);
    if (!returned) return error(returned.error());
    if (*returned) return **returned;

    std::optional<core::SerialRun> fresh =
        core::fresh_lease_run(next_serial, edition_size, serial_count_max);
    if (!fresh) return error(Code::conflict, "drop " + std::to_string(drop_id) + " is sold out");
    Result<sql::Rows> moved = c.query("UPDATE drops SET next_serial = $2 WHERE id = $1",
                                      {drop_id, int64_t{fresh->last_serial} + 1});
    if (!moved) return error(moved.error());
    return insert_lease(c, drop_id, seller_id, fresh->first_serial, fresh->last_serial, now_ms);
  });
}

Result<sql::Rows> SqlStore::lowest_returned_serials(sql::Connection& c, int64_t drop_id,
                                                    uint32_t count_max) {
  // A serial claimed after it was returned (a claim without a lease check
  // that raced a reclaim) must not be leased again: drop such entries first.
  Result<sql::Rows> stale = c.query(
      "DELETE FROM returned_serials WHERE drop_id = $1 AND EXISTS (SELECT 1 FROM claims c "
      "WHERE c.drop_id = returned_serials.drop_id AND c.serial = returned_serials.serial)",
      {drop_id});
  if (!stale) return std::unexpected(stale.error());
  return c.query("SELECT serial FROM returned_serials WHERE drop_id = $1 ORDER BY serial LIMIT $2",
                 {drop_id, int64_t{count_max}});
}

Result<std::optional<Lease>> SqlStore::lease_returned_run(sql::Connection& c, int64_t drop_id,
                                                          std::string_view seller_id,
                                                          uint32_t serial_count_max,
                                                          int64_t now_ms) {
  Result<sql::Rows> rows = lowest_returned_serials(c, drop_id, serial_count_max);
  if (!rows) return error(rows.error());
  if (rows->empty()) return std::optional<Lease>();
  // The run of consecutive serials that starts at the lowest returned one.
  uint32_t first_serial = 0;
  uint32_t last_serial = 0;
  for (size_t i = 0; i < rows->size(); ++i) {
    sql::RowReader reader(*rows, i);
    uint32_t serial = reader.uint32();
    if (!reader.status().ok()) return error(reader.status());
    if (i == 0) first_serial = serial;
    if (i > 0 && serial != last_serial + 1) break;
    last_serial = serial;
  }
  Result<sql::Rows> taken =
      c.query("DELETE FROM returned_serials WHERE drop_id = $1 AND serial BETWEEN $2 AND $3",
              {drop_id, int64_t{first_serial}, int64_t{last_serial}});
  if (!taken) return error(taken.error());
  if (taken->affected_rows() != uint64_t{last_serial} - first_serial + 1) {
    return error(Code::corruption, "the pool of returned serials changed under its lock");
  }
  Result<Lease> lease = insert_lease(c, drop_id, seller_id, first_serial, last_serial, now_ms);
  if (!lease) return error(lease.error());
  return std::optional<Lease>(std::move(*lease));
}

Result<Lease> SqlStore::insert_lease(sql::Connection& c, int64_t drop_id,
                                     std::string_view seller_id, uint32_t first_serial,
                                     uint32_t last_serial, int64_t now_ms) {
  DG_ASSERT(first_serial >= 1 && first_serial <= last_serial);
  Result<sql::Rows> rows = c.query(
      "INSERT INTO leases (drop_id, seller_id, first_serial, last_serial, issued_at_ms) "
      "VALUES ($1, $2, $3, $4, $5) RETURNING " +
          std::string(kLeaseColumns),
      {drop_id, seller_id, int64_t{first_serial}, int64_t{last_serial}, now_ms});
  if (!rows) return error(rows.error());
  return read_one(*rows, read_lease, "lease");
}

Result<uint32_t> SqlStore::unleased_count(int64_t drop_id) {
  return transact(Tx::read, [&](sql::Connection& c) -> Result<uint32_t> {
    Result<sql::Rows> fresh =
        c.query("SELECT edition_size - next_serial + 1 FROM drops WHERE id = $1", {drop_id});
    if (!fresh) return error(fresh.error());
    if (fresh->empty()) return error(Code::not_found, "no drop with id " + std::to_string(drop_id));
    Result<sql::Rows> returned = c.query(
        "SELECT COUNT(*) FROM returned_serials r WHERE r.drop_id = $1 AND NOT EXISTS "
        "(SELECT 1 FROM claims c WHERE c.drop_id = r.drop_id AND c.serial = r.serial)",
        {drop_id});
    if (!returned) return error(returned.error());
    Result<int64_t> fresh_count = first_int(*fresh);
    Result<int64_t> returned_count = first_int(*returned);
    if (!fresh_count || !returned_count || *fresh_count < 0 ||
        *fresh_count + *returned_count > limits::edition_size_max) {
      return error(Code::corruption, "drop " + std::to_string(drop_id) + ": bad serial counts");
    }
    return static_cast<uint32_t>(*fresh_count + *returned_count);
  });
}

Result<Store::LeaseState> SqlStore::lease_state(sql::Connection& c, const Lease& lease,
                                                int64_t now_ms) {
  Result<sql::Rows> rows = c.query(
      "SELECT serial FROM claims WHERE drop_id = $1 AND serial BETWEEN $2 AND $3 "
      "UNION SELECT serial FROM holds WHERE drop_id = $1 AND serial BETWEEN $2 AND $3 "
      "AND expires_at_ms > $4",
      {lease.drop_id, int64_t{lease.first_serial}, int64_t{lease.last_serial}, now_ms});
  if (!rows) return error(rows.error());
  std::set<uint32_t> taken;
  for (size_t i = 0; i < rows->size(); ++i) {
    sql::RowReader reader(*rows, i);
    taken.insert(reader.uint32());
    if (!reader.status().ok()) return error(reader.status());
  }
  LeaseState state{lease, {}};
  for (uint32_t serial = lease.first_serial; serial <= lease.last_serial; ++serial) {
    if (!taken.contains(serial)) state.available_serials.push_back(serial);
  }
  return state;
}

Result<std::vector<Store::LeaseState>> SqlStore::seller_leases(std::string_view seller_id,
                                                               int64_t now_ms) {
  return transact(Tx::read, [&](sql::Connection& c) -> Result<std::vector<LeaseState>> {
    Result<sql::Rows> rows = c.query(
        select_from(kLeaseColumns, "leases WHERE seller_id = $1 ORDER BY drop_id, first_serial"),
        {seller_id});
    if (!rows) return error(rows.error());
    Result<std::vector<Lease>> leases = read_all(*rows, read_lease);
    if (!leases) return error(leases.error());
    std::vector<LeaseState> states;
    for (const Lease& lease : *leases) {
      Result<LeaseState> state = lease_state(c, lease, now_ms);
      if (!state) return error(state.error());
      states.push_back(std::move(*state));
    }
    return states;
  });
}

// --- Giving serials back.

Result<uint32_t> SqlStore::return_lease(sql::Connection& c, const Lease& lease, int64_t now_ms) {
  // A buyer holding a serial may still pay for it: leave the whole lease
  // alone until the hold is confirmed or expires (holds are minutes long).
  Result<sql::Rows> held = c.query(
      "SELECT 1 FROM holds WHERE drop_id = $1 AND serial BETWEEN $2 AND $3 "
      "AND expires_at_ms > $4 LIMIT 1",
      {lease.drop_id, int64_t{lease.first_serial}, int64_t{lease.last_serial}, now_ms});
  if (!held) return error(held.error());
  if (!held->empty()) return 0;
  Result<sql::Rows> returned =
      c.query(kReturnUnclaimed,
              {lease.drop_id, int64_t{lease.first_serial}, int64_t{lease.last_serial}, now_ms});
  if (!returned) return error(returned.error());
  Result<sql::Rows> expired_holds =
      c.query("DELETE FROM holds WHERE drop_id = $1 AND serial BETWEEN $2 AND $3",
              {lease.drop_id, int64_t{lease.first_serial}, int64_t{lease.last_serial}});
  if (!expired_holds) return error(expired_holds.error());
  Result<sql::Rows> deleted = c.query("DELETE FROM leases WHERE id = $1", {lease.id});
  if (!deleted) return error(deleted.error());
  DG_ASSERT(returned->affected_rows() <= uint64_t{lease.last_serial} - lease.first_serial + 1);
  return static_cast<uint32_t>(returned->affected_rows());
}

Result<uint32_t> SqlStore::return_leases(sql::Connection& c, const sql::Rows& locked_leases,
                                         int64_t now_ms) {
  Result<std::vector<Lease>> leases = read_all(locked_leases, read_lease);
  if (!leases) return error(leases.error());
  uint32_t returned = 0;
  for (const Lease& lease : *leases) {
    Result<uint32_t> count = return_lease(c, lease, now_ms);
    if (!count) return count;
    returned += *count;
  }
  return returned;
}

Result<uint32_t> SqlStore::reclaim_dead_sellers(int64_t now_ms, int64_t heartbeat_timeout_ms) {
  if (heartbeat_timeout_ms < 0) {
    return error(Code::invalid_argument, "the heartbeat timeout cannot be negative");
  }
  return transact(Tx::write, [&](sql::Connection& c) -> Result<uint32_t> {
    // Locking the leases makes a concurrent create_hold or seller-checked
    // claim on them finish first (and be seen below), or wait and then find
    // the lease gone.
    Result<sql::Rows> leases =
        c.query(std::string(kDeadOriginLeases) + std::string(dialect_.for_update_of_leases),
                {now_ms - heartbeat_timeout_ms});
    if (!leases) return error(leases.error());
    return return_leases(c, *leases, now_ms);
  });
}

Result<uint32_t> SqlStore::release_leases(std::string_view seller_id, int64_t now_ms) {
  return transact(Tx::write, [&](sql::Connection& c) -> Result<uint32_t> {
    Result<sql::Rows> seller = c.query("SELECT 1 FROM sellers WHERE id = $1", {seller_id});
    if (!seller) return error(seller.error());
    if (seller->empty()) {
      return error(Code::not_found, "no seller \"" + std::string(seller_id) + "\"");
    }
    Result<sql::Rows> leases = c.query(
        "SELECT l.id, l.drop_id, l.seller_id, l.first_serial, l.last_serial FROM leases l "
        "WHERE l.seller_id = $1 ORDER BY l.id" +
            std::string(dialect_.for_update_of_leases),
        {seller_id});
    if (!leases) return error(leases.error());
    return return_leases(c, *leases, now_ms);
  });
}

// --- Holds.

Status SqlStore::check_lease_covers(sql::Connection& c, int64_t drop_id, std::string_view seller_id,
                                    uint32_t serial) {
  // FOR SHARE: many sales may share a lease at once; a reclaim (FOR UPDATE)
  // waits for them, and they wait for it.
  Result<sql::Rows> rows =
      c.query(shared("SELECT id FROM leases WHERE seller_id = $1 AND drop_id = $2 "
                     "AND first_serial <= $3 AND last_serial >= $3"),
              {seller_id, drop_id, int64_t{serial}});
  if (!rows) return rows.error();
  if (rows->empty()) {
    return Status(Code::conflict, serial_name(drop_id, serial) + " is not in a lease of seller \"" +
                                      std::string(seller_id) + "\"");
  }
  return Status();
}

Result<Hold> SqlStore::create_hold(int64_t drop_id, uint32_t serial, std::string_view account,
                                   std::string_view seller_id, int64_t expires_at_ms,
                                   int64_t now_ms, uint32_t per_buyer_limit) {
  if (expires_at_ms <= now_ms) return error(Code::invalid_argument, "a hold must expire later");
  return transact(Tx::write, [&](sql::Connection& c) -> Result<Hold> {
    DG_RETURN_IF_ERROR_RESULT(check_lease_covers(c, drop_id, seller_id, serial));
    Result<sql::Rows> claimed = c.query("SELECT 1 FROM claims WHERE drop_id = $1 AND serial = $2",
                                        {drop_id, int64_t{serial}});
    if (!claimed) return error(claimed.error());
    if (!claimed->empty()) return error(Code::conflict, serial_name(drop_id, serial) + " is sold");
    Result<sql::Rows> expired =
        c.query("DELETE FROM holds WHERE drop_id = $1 AND serial = $2 AND expires_at_ms <= $3",
                {drop_id, int64_t{serial}, now_ms});
    if (!expired) return error(expired.error());
    // The buyer's counter row, locked until commit: the buyer's concurrent
    // holds and claims queue here, and each counts what the one before wrote.
    // holds_until_ms tells later claims that this buyer may have live holds.
    Result<sql::Rows> buyer = c.query(
        "INSERT INTO buyer_claims (drop_id, account, claim_count, holds_until_ms) "
        "VALUES ($1, $2, 0, $3) ON CONFLICT (drop_id, account) DO UPDATE SET holds_until_ms = "
        "CASE WHEN buyer_claims.holds_until_ms > excluded.holds_until_ms "
        "THEN buyer_claims.holds_until_ms ELSE excluded.holds_until_ms END RETURNING claim_count",
        {drop_id, account, expires_at_ms});
    if (!buyer) return error(buyer.error());
    Result<int64_t> claim_count = first_int(*buyer);
    if (!claim_count) return error(claim_count.error());
    Result<uint32_t> held = account_live_holds(c, drop_id, account, now_ms);
    if (!held) return error(held.error());
    if (!core::within_buyer_limit(*claim_count, *held, per_buyer_limit)) {
      return error(Code::limit_exceeded, "the account already has " + std::to_string(*claim_count) +
                                             " claims and " + std::to_string(*held) +
                                             " holds of drop " + std::to_string(drop_id) +
                                             " (limit " + std::to_string(per_buyer_limit) + ")");
    }
    // UNIQUE (drop_id, serial) on holds settles two concurrent holds.
    Result<sql::Rows> rows = c.query(
        "INSERT INTO holds (drop_id, serial, account, seller_id, expires_at_ms, created_at_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING " +
            std::string(kHoldColumns),
        {drop_id, int64_t{serial}, account, seller_id, expires_at_ms, now_ms});
    if (!rows) {
      return error(reword(rows.error(), Code::conflict, serial_name(drop_id, serial) + " is held"));
    }
    return read_one(*rows, read_hold, "hold");
  });
}

Result<Hold> SqlStore::get_hold(int64_t hold_id) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<Hold> {
    Result<sql::Rows> rows = c.query(select_from(kHoldColumns, "holds WHERE id = $1"), {hold_id});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_hold, "no hold " + std::to_string(hold_id));
  });
}

Result<uint32_t> SqlStore::live_hold_count(int64_t drop_id, int64_t now_ms) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<uint32_t> {
    return first_count(c.query(
        "SELECT COUNT(*) FROM holds WHERE drop_id = $1 AND expires_at_ms > $2", {drop_id, now_ms}));
  });
}

Result<uint32_t> SqlStore::account_live_holds(sql::Connection& c, int64_t drop_id,
                                              std::string_view account, int64_t at_ms) {
  return first_count(c.query(
      "SELECT COUNT(*) FROM holds WHERE drop_id = $1 AND account = $2 AND expires_at_ms > $3",
      {drop_id, account, at_ms}));
}

Result<std::vector<Hold>> SqlStore::expire_holds(std::string_view seller_id, int64_t now_ms) {
  Result<std::vector<Hold>> holds =
      transact(Tx::write, [&](sql::Connection& c) -> Result<std::vector<Hold>> {
        Result<sql::Rows> rows = c.query(
            "DELETE FROM holds WHERE expires_at_ms <= $1 AND ($2 = '' OR seller_id = $2) "
            "RETURNING " +
                std::string(kHoldColumns),
            {now_ms, seller_id});
        if (!rows) return error(rows.error());
        return read_all(*rows, read_hold);
      });
  if (holds) {
    std::sort(holds->begin(), holds->end(),
              [](const Hold& a, const Hold& b) { return a.id < b.id; });
  }
  return holds;
}

// --- Claims.

std::vector<Result<Claim>> SqlStore::record_claims(const std::vector<ClaimInsert>& inserts) {
  if (inserts.size() > limits::claims_batch_count_max) {
    Status refused(
        Code::invalid_argument,
        "at most " + std::to_string(limits::claims_batch_count_max) + " claims per batch");
    return std::vector<Result<Claim>>(inserts.size(), error(refused));
  }
  std::vector<Result<Claim>> results(inserts.size(), Claim{});
  if (inserts.empty()) return results;
  std::vector<size_t> order = lock_order(inserts);
  std::vector<bool> attempted(inserts.size(), false);
  if (auto together = record_claims_together(inserts, order)) return std::move(*together);
  Status batch = transact(Tx::write, [&](sql::Connection& c) -> Status {
    for (size_t i : order) {
      attempted[i] = true;
      DG_RETURN_IF_ERROR(claim_in_savepoint(c, inserts[i], &results[i]));
    }
    return Status();
  });
  // Nothing is acknowledged unless the one COMMIT of the batch succeeded.
  if (!batch.ok()) {
    for (size_t i = 0; i < results.size(); ++i) {
      if (results[i] || !attempted[i]) results[i] = error(batch);
    }
  }
  return results;
}

Status SqlStore::claim_in_savepoint(sql::Connection& c, const ClaimInsert& insert,
                                    Result<Claim>* result) {
  DG_RETURN_IF_ERROR(c.exec("SAVEPOINT claim"));
  *result = insert_claim(c, insert);
  if (*result) return c.exec("RELEASE SAVEPOINT claim");
  // Undo this insert only; a failure here leaves the transaction unusable,
  // and the returned Status then fails the whole batch.
  return c.exec("ROLLBACK TO SAVEPOINT claim; RELEASE SAVEPOINT claim");
}

Result<Claim> SqlStore::insert_claim(sql::Connection& c, const ClaimInsert& insert) {
  DG_RETURN_IF_ERROR_RESULT(check_claim_preconditions(c, insert));
  Result<sql::Rows> rows = c.query(
      "INSERT INTO claims (drop_id, serial, account, source, payment_ref, cert_id, cert_token, "
      "claimed_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING " +
          std::string(kClaimColumns),
      {insert.drop_id, int64_t{insert.serial}, insert.account, claim_source_name(insert.source),
       insert.payment_ref, insert.cert_id, insert.cert_token, insert.at_ms});
  if (!rows) return error(rows.error().with_context(serial_name(insert.drop_id, insert.serial)));
  Result<Claim> claim = read_one(*rows, read_claim, "claim");
  if (!claim) return claim;
  DG_RETURN_IF_ERROR_RESULT(count_buyer_claim(c, insert));
  if (insert.idempotency) DG_RETURN_IF_ERROR_RESULT(insert_idempotency(c, *insert.idempotency));
  Result<uint32_t> events = insert_events(c, insert.events);
  if (!events) return error(events.error());
  return claim;
}

Status SqlStore::check_claim_preconditions(sql::Connection& c, const ClaimInsert& insert) {
  // A plain read: the drop row is the hot row of leasing, and a sale must not lock it.
  Result<sql::Rows> drop =
      c.query("SELECT edition_size FROM drops WHERE id = $1", {insert.drop_id});
  if (!drop) return drop.error();
  if (drop->empty()) {
    return Status(Code::not_found, "no drop with id " + std::to_string(insert.drop_id));
  }
  Result<int64_t> edition_size = first_int(*drop);
  if (!edition_size) return edition_size.error();
  if (insert.serial < 1 || insert.serial > *edition_size) {
    return Status(Code::invalid_argument,
                  serial_name(insert.drop_id, insert.serial) + " is outside the edition");
  }
  if (!insert.seller_id.empty()) {
    DG_RETURN_IF_ERROR(check_lease_covers(c, insert.drop_id, insert.seller_id, insert.serial));
  }
  if (insert.from_hold_id) return consume_hold(c, insert);
  Result<sql::Rows> held =
      c.query("SELECT id FROM holds WHERE drop_id = $1 AND serial = $2 AND expires_at_ms > $3",
              {insert.drop_id, int64_t{insert.serial}, insert.at_ms});
  if (!held) return held.error();
  if (!held->empty()) {
    return Status(Code::conflict, serial_name(insert.drop_id, insert.serial) + " is held");
  }
  return Status();
}

Status SqlStore::consume_hold(sql::Connection& c, const ClaimInsert& insert) {
  // Delete first, judge after: the DELETE locks the hold, so of two
  // confirmations the second finds it gone; a refusal rolls the savepoint back.
  Result<sql::Rows> rows =
      c.query("DELETE FROM holds WHERE id = $1 RETURNING " + std::string(kHoldColumns),
              {*insert.from_hold_id});
  if (!rows) return rows.error();
  std::string name = "hold " + std::to_string(*insert.from_hold_id);
  if (rows->empty()) return Status(Code::conflict, name + " is gone");
  Result<Hold> hold = read_hold(*rows, 0);
  if (!hold) return hold.error();
  if (hold->drop_id != insert.drop_id || hold->serial != insert.serial ||
      hold->account != insert.account) {
    return Status(Code::conflict, name + " is for another serial or account");
  }
  if (hold->expires_at_ms <= insert.at_ms) return Status(Code::conflict, name + " expired");
  return Status();
}

Status SqlStore::count_buyer_claim(sql::Connection& c, const ClaimInsert& insert) {
  // One counter row per buyer and drop: O(1), and its row lock serialises
  // two concurrent claims of one buyer so both cannot pass the limit.
  Result<sql::Rows> rows = c.query(
      "INSERT INTO buyer_claims (drop_id, account, claim_count) VALUES ($1, $2, 1) "
      "ON CONFLICT (drop_id, account) DO UPDATE SET claim_count = buyer_claims.claim_count + 1 "
      "RETURNING claim_count, holds_until_ms",
      {insert.drop_id, insert.account});
  if (!rows) return rows.error();
  if (rows->empty()) return Status(Code::corruption, "the buyer counter returned no row");
  sql::RowReader reader(*rows, 0);
  int64_t count = reader.int64();
  int64_t holds_until_ms = reader.int64();
  if (!reader.status().ok()) return reader.status();
  // The buyer's other live holds count too (a hold this claim confirms was
  // deleted above, so it counts once). Read after the row lock, so a hold
  // committed by the lock's previous owner is seen; skipped for buyers whose
  // holds all expired, nearly all of them.
  uint32_t held = 0;
  if (holds_until_ms > insert.at_ms) {
    Result<uint32_t> live = account_live_holds(c, insert.drop_id, insert.account, insert.at_ms);
    if (!live) return live.error();
    held = *live;
  }
  // `count` includes this claim: the buyer had count - 1 before it.
  if (!core::within_buyer_limit(count - 1, held, insert.per_buyer_limit)) {
    return Status(Code::limit_exceeded,
                  "the account already has " + std::to_string(count - 1) + " claims and " +
                      std::to_string(held) + " holds of drop " + std::to_string(insert.drop_id) +
                      " (limit " + std::to_string(insert.per_buyer_limit) + ")");
  }
  return Status();
}

Result<Claim> SqlStore::get_claim(int64_t drop_id, uint32_t serial) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<Claim> {
    Result<sql::Rows> rows =
        c.query(select_from(kClaimColumns, "claims WHERE drop_id = $1 AND serial = $2"),
                {drop_id, int64_t{serial}});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_claim, serial_name(drop_id, serial) + " is not claimed");
  });
}

Result<std::vector<Claim>> SqlStore::list_claims(int64_t drop_id) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<std::vector<Claim>> {
    Result<sql::Rows> rows =
        c.query(select_from(kClaimColumns, "claims WHERE drop_id = $1 ORDER BY serial"), {drop_id});
    if (!rows) return error(rows.error());
    return read_all(*rows, read_claim);
  });
}

Result<uint32_t> SqlStore::claim_count(int64_t drop_id) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<uint32_t> {
    Result<sql::Rows> rows = c.query("SELECT COUNT(*) FROM claims WHERE drop_id = $1", {drop_id});
    if (!rows) return error(rows.error());
    return first_count(*rows);
  });
}

Result<uint32_t> SqlStore::account_claim_count(int64_t drop_id, std::string_view account) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<uint32_t> {
    Result<sql::Rows> rows =
        c.query("SELECT claim_count FROM buyer_claims WHERE drop_id = $1 AND account = $2",
                {drop_id, account});
    if (!rows) return error(rows.error());
    if (rows->empty()) return 0;
    return first_count(*rows);
  });
}

// --- Revocation.

Result<Revocation> SqlStore::revoke_claim(int64_t drop_id, uint32_t serial, std::string_view reason,
                                          int64_t now_ms) {
  return transact(Tx::write, [&](sql::Connection& c) -> Result<Revocation> {
    Result<sql::Rows> rows =
        c.query(locked(select_from(kClaimColumns, "claims WHERE drop_id = $1 AND serial = $2")),
                {drop_id, int64_t{serial}});
    if (!rows) return error(rows.error());
    Result<Claim> claim =
        read_one(*rows, read_claim, serial_name(drop_id, serial) + " is not claimed");
    if (!claim) return error(claim.error());
    if (claim->revoked_at_ms) {
      Result<sql::Rows> first =
          c.query(select_from(kRevocationColumns, "revocations WHERE claim_id = $1"), {claim->id});
      if (!first) return error(first.error());
      if (first->empty()) return error(Code::corruption, "a revoked claim has no revocation");
      return read_revocation(*first, 0);
    }
    Result<sql::Rows> marked =
        c.query("UPDATE claims SET revoked_at_ms = $2 WHERE id = $1", {claim->id, now_ms});
    if (!marked) return error(marked.error());
    // A revoked claim no longer counts toward its buyer's limit.
    Result<sql::Rows> uncounted = c.query(
        "UPDATE buyer_claims SET claim_count = claim_count - 1 "
        "WHERE drop_id = $1 AND account = $2 AND claim_count > 0",
        {drop_id, claim->account});
    if (!uncounted) return error(uncounted.error());
    Result<sql::Rows> inserted = c.query(
        "INSERT INTO revocations (claim_id, cert_id, drop_id, serial, revoked_at_ms, reason) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING " +
            std::string(kRevocationColumns),
        {claim->id, claim->cert_id, drop_id, int64_t{serial}, now_ms, reason});
    if (!inserted) return error(inserted.error());
    return read_one(*inserted, read_revocation, "revocation");
  });
}

Result<std::vector<Revocation>> SqlStore::list_revocations() {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<std::vector<Revocation>> {
    Result<sql::Rows> rows = c.query(select_from(kRevocationColumns, "revocations ORDER BY id"));
    if (!rows) return error(rows.error());
    return read_all(*rows, read_revocation);
  });
}

}  // namespace dg::store
