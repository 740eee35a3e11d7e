// SqlStore: claim codes (docs/formats/claim-codes.md). A batch's codes each
// reserve one serial as a one-serial lease of the batch's own seller, so the
// claim path's lease check covers redemption and the pool never hands those
// serials to anyone else; revoking an unused code returns its lease.
#include "base/limits.h"
#include "store/sql_rows.h"
#include "store/sql_store.h"

namespace dg::store {
namespace {

// A code counts as used when its serial has a claim and it was not revoked
// (a revoked code's serial may be sold again to someone else).
constexpr std::string_view kCodeUsed =
    "(c.revoked_at_ms IS NULL AND EXISTS (SELECT 1 FROM claims k "
    "WHERE k.drop_id = c.drop_id AND k.serial = c.serial))";

Result<CodeBatch> read_code_batch(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  CodeBatch batch;
  batch.id = r.int64();
  batch.drop_id = r.int64();
  batch.label = r.text();
  batch.redeemer = r.text();
  batch.created_at_ms = r.int64();
  batch.generated = r.uint32();
  batch.used = r.uint32();
  batch.revoked = r.uint32();
  if (!r.status().ok()) return error(r.status().with_context("code batch"));
  if (batch.used + batch.revoked > batch.generated) {
    return error(Code::corruption, "code batch " + std::to_string(batch.id) + ": bad counts");
  }
  return batch;
}

}  // namespace

std::string code_batch_seller_id(int64_t batch_id) {
  return "code-batch:" + std::to_string(batch_id);
}

Result<std::vector<uint32_t>> SqlStore::take_unleased_serials(sql::Connection& c, int64_t drop_id,
                                                              uint32_t count) {
  Result<sql::Rows> drop =
      c.query(locked("SELECT edition_size, next_serial FROM drops WHERE id = $1"), {drop_id});
  if (!drop) return error(drop.error());
  if (drop->empty()) return error(Code::not_found, "no drop with id " + std::to_string(drop_id));
  sql::RowReader reader(*drop, 0);
  uint32_t edition_size = reader.uint32();
  uint32_t next_serial = reader.uint32();
  if (!reader.status().ok()) return error(reader.status());
  Result<sql::Rows> returned = lowest_returned_serials(c, drop_id, count);
  if (!returned) return error(returned.error());
  std::vector<uint32_t> serials;
  for (size_t i = 0; i < returned->size(); ++i) {
    sql::RowReader r(*returned, i);
    serials.push_back(r.uint32());
    if (!r.status().ok()) return error(r.status());
  }
  uint32_t fresh = next_serial > edition_size ? 0 : edition_size - next_serial + 1;
  if (uint64_t{fresh} + serials.size() < count) {
    return error(Code::conflict, "drop " + std::to_string(drop_id) + " has " +
                                     std::to_string(fresh + serials.size()) +
                                     " unleased serials, fewer than " + std::to_string(count));
  }
  if (!serials.empty()) {
    Result<sql::Rows> taken =
        c.query("DELETE FROM returned_serials WHERE drop_id = $1 AND serial <= $2",
                {drop_id, int64_t{serials.back()}});
    if (!taken) return error(taken.error());
    if (taken->affected_rows() != serials.size()) {
      return error(Code::corruption, "the pool of returned serials changed under its lock");
    }
  }
  uint32_t fresh_taken = count - static_cast<uint32_t>(serials.size());
  for (uint32_t i = 0; i < fresh_taken; ++i) serials.push_back(next_serial + i);
  if (fresh_taken > 0) {
    Result<sql::Rows> moved = c.query("UPDATE drops SET next_serial = $2 WHERE id = $1",
                                      {drop_id, int64_t{next_serial} + fresh_taken});
    if (!moved) return error(moved.error());
  }
  return serials;
}

Status SqlStore::insert_code_batch_seller(sql::Connection& c, std::string_view seller_id,
                                          int64_t now_ms) {
  Result<sql::Rows> generation = c.query(dialect_.next_generation);
  if (!generation) return generation.error();
  Result<int64_t> next = first_int(*generation);
  if (!next) return next.error();
  // Its own instance: no later registration ever supersedes it.
  Result<sql::Rows> rows = c.query(
      "INSERT INTO sellers (id, kind, instance, generation, registered_at_ms, heartbeat_at_ms) "
      "VALUES ($1, $2, $1, $3, $4, $4)",
      {seller_id, seller_kind_name(SellerKind::edge), *next, now_ms});
  return rows ? Status() : rows.error();
}

Result<CodeBatch> SqlStore::create_code_batch(int64_t drop_id, std::string_view label,
                                              std::string_view redeemer,
                                              const std::vector<std::string>& code_sha256s,
                                              int64_t now_ms) {
  if (code_sha256s.empty() || code_sha256s.size() > limits::code_batch_count_max) {
    return error(Code::invalid_argument,
                 "a batch holds 1.." + std::to_string(limits::code_batch_count_max) + " codes");
  }
  if (label.size() > limits::code_batch_label_bytes_max || redeemer.empty()) {
    return error(Code::invalid_argument, "a batch's label is at most " +
                                             std::to_string(limits::code_batch_label_bytes_max) +
                                             " bytes, and it needs a redeemer");
  }
  const auto count = static_cast<uint32_t>(code_sha256s.size());
  return transact(Tx::write, [&](sql::Connection& c) -> Result<CodeBatch> {
    Result<std::vector<uint32_t>> serials = take_unleased_serials(c, drop_id, count);
    if (!serials) return error(serials.error());
    Result<sql::Rows> inserted = c.query(
        "INSERT INTO code_batches (drop_id, label, redeemer, code_count, created_at_ms) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING id",
        {drop_id, label, redeemer, int64_t{count}, now_ms});
    Result<int64_t> batch_id = first_int(inserted);
    if (!batch_id) return error(batch_id.error());
    std::string seller_id = code_batch_seller_id(*batch_id);
    DG_RETURN_IF_ERROR_RESULT(insert_code_batch_seller(c, seller_id, now_ms));
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t serial = (*serials)[i];
      Result<Lease> lease = insert_lease(c, drop_id, seller_id, serial, serial, now_ms);
      if (!lease) return error(lease.error());
      Result<sql::Rows> code = c.query(
          "INSERT INTO claim_codes (batch_id, drop_id, code_sha256, serial) "
          "VALUES ($1, $2, $3, $4)",
          {*batch_id, drop_id, code_sha256s[i], int64_t{serial}});
      if (!code) return error(reword(code.error(), Code::conflict, "a code exists already"));
    }
    return CodeBatch{*batch_id, drop_id, std::string(label), std::string(redeemer), now_ms, count,
                     0,         0};
  });
}

Result<ClaimCodeRecord> SqlStore::find_claim_code(std::string_view code_sha256) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<ClaimCodeRecord> {
    Result<sql::Rows> rows =
        c.query("SELECT c.id, c.batch_id, c.drop_id, c.serial, b.redeemer, CASE WHEN " +
                    std::string(kCodeUsed) +
                    " THEN 1 ELSE 0 END, c.revoked_at_ms FROM claim_codes c "
                    "JOIN code_batches b ON b.id = c.batch_id WHERE c.code_sha256 = $1",
                {code_sha256});
    if (!rows) return error(rows.error());
    if (rows->empty()) return error(Code::not_found, "no such code");
    sql::RowReader r(*rows, 0);
    ClaimCodeRecord code;
    code.id = r.int64();
    code.batch_id = r.int64();
    code.drop_id = r.int64();
    code.serial = r.uint32();
    code.redeemer = r.text();
    code.used = r.int64() != 0;
    code.revoked_at_ms = r.optional_int64();
    if (!r.status().ok()) return error(r.status().with_context("claim code"));
    return code;
  });
}

Result<std::vector<CodeBatch>> SqlStore::list_code_batches(int64_t drop_id) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<std::vector<CodeBatch>> {
    Result<sql::Rows> rows = c.query(
        "SELECT b.id, b.drop_id, b.label, b.redeemer, b.created_at_ms, b.code_count, "
        "COALESCE(SUM(CASE WHEN " +
            std::string(kCodeUsed) +
            " THEN 1 ELSE 0 END), 0), COUNT(c.revoked_at_ms) FROM code_batches b "
            "JOIN claim_codes c ON c.batch_id = b.id WHERE b.drop_id = $1 "
            "GROUP BY b.id, b.drop_id, b.label, b.redeemer, b.created_at_ms, b.code_count "
            "ORDER BY b.id",
        {drop_id});
    if (!rows) return error(rows.error());
    return read_all(*rows, read_code_batch);
  });
}

Result<CodeRevocation> SqlStore::revoke_claim_codes(int64_t drop_id, int64_t batch_id,
                                                    std::string_view code_sha256, int64_t now_ms) {
  if ((batch_id == 0) == code_sha256.empty()) {
    return error(Code::invalid_argument, "revoke a batch or a code, one of the two");
  }
  return transact(Tx::write, [&](sql::Connection& c) -> Result<CodeRevocation> {
    Result<sql::Rows> codes =
        batch_id != 0 ? c.query(
                            "SELECT c.id, c.batch_id, c.serial, c.revoked_at_ms FROM claim_codes c "
                            "WHERE c.drop_id = $1 AND c.batch_id = $2 ORDER BY c.serial",
                            {drop_id, batch_id})
                      : c.query(
                            "SELECT c.id, c.batch_id, c.serial, c.revoked_at_ms FROM claim_codes c "
                            "WHERE c.drop_id = $1 AND c.code_sha256 = $2",
                            {drop_id, code_sha256});
    if (!codes) return error(codes.error());
    if (codes->empty()) return error(Code::not_found, "no such code batch or code for this drop");
    CodeRevocation outcome;
    for (size_t i = 0; i < codes->size(); ++i) {
      sql::RowReader r(*codes, i);
      int64_t code_id = r.int64();
      int64_t code_batch = r.int64();
      uint32_t serial = r.uint32();
      std::optional<int64_t> revoked_at_ms = r.optional_int64();
      if (!r.status().ok()) return error(r.status().with_context("claim code"));
      if (revoked_at_ms) continue;
      // Locking the code's lease makes a redemption of it that is committing
      // finish first (and be seen below), or wait and then find it gone.
      Result<sql::Rows> lease = c.query(
          "SELECT l.id, l.drop_id, l.seller_id, l.first_serial, l.last_serial FROM leases l "
          "WHERE l.seller_id = $1 AND l.drop_id = $2 AND l.first_serial = $3" +
              std::string(dialect_.for_update_of_leases),
          {code_batch_seller_id(code_batch), drop_id, int64_t{serial}});
      if (!lease) return error(lease.error());
      Result<sql::Rows> claimed = c.query("SELECT 1 FROM claims WHERE drop_id = $1 AND serial = $2",
                                          {drop_id, int64_t{serial}});
      if (!claimed) return error(claimed.error());
      if (!claimed->empty()) {
        ++outcome.already_used;
        continue;
      }
      if (lease->empty()) return error(Code::corruption, "an unused code has no lease");
      Result<uint32_t> returned = return_leases(c, *lease, now_ms);
      if (!returned) return error(returned.error());
      Result<sql::Rows> marked =
          c.query("UPDATE claim_codes SET revoked_at_ms = $2 WHERE id = $1", {code_id, now_ms});
      if (!marked) return error(marked.error());
      ++outcome.revoked;
    }
    return outcome;
  });
}

}  // namespace dg::store
