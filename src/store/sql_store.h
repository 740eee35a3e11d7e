// SqlStore implements the Store contract once, over sql::Connection, for both
// backends; sqlite/ and postgres/ supply connections and a Dialect. Writing
// the logic once is what makes the two backends mean the same thing.
//
// Concurrency model, the same SQL on both backends:
// - SQLite: every write transaction is BEGIN IMMEDIATE on the one write
//   connection, so writes are serial (in this process by the pool of one, and
//   across processes by SQLite's file lock); row locks are not needed.
// - PostgreSQL: READ COMMITTED, and every read-then-write names its row lock
//   (Dialect::for_update / for_share): the drop row for leases, the lease rows
//   for reclaim versus holds and claims, the claim row for revocation. A
//   statement that follows a lock sees every transaction that held it.
// Private to src/store.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <type_traits>

#include "store/schema.h"
#include "store/sql.h"
#include "store/store.h"

namespace dg::store {

// What differs between the SQL dialects, besides the schema text.
struct Dialect {
  std::string_view name;         // "sqlite" | "postgres", in messages
  std::string_view begin_write;  // starts a write transaction
  std::string_view begin_read;   // starts a read-only transaction on one snapshot
  // Suffixes that lock the rows a SELECT reads until commit. Empty on SQLite,
  // whose write transactions already exclude each other.
  std::string_view for_update;
  std::string_view for_share;
  std::string_view for_update_of_leases;  // the leases (alias l) of a join
  std::string_view next_generation;       // one row: the next seller registration number
  // Runs first in migrate(), held until commit, so concurrent migrations queue.
  std::string_view migration_lock;
  std::string_view create_migrations_table;
  std::string_view migrations_table_exists;  // one row, one column: 0 or 1
  std::span<const Migration> migrations;
};

class SqlStore final : public Store {
 public:
  // `read_pool` null: reads share `write_pool`.
  SqlStore(const Dialect& dialect, std::unique_ptr<sql::ConnectionPool> write_pool,
           std::unique_ptr<sql::ConnectionPool> read_pool);

  Status migrate() override;
  Result<int> schema_version() override;

  Status add_api_key(std::string_view key_sha256, std::string_view label, int64_t now_ms) override;
  Result<bool> api_key_exists(std::string_view key_sha256) override;
  Result<std::vector<std::string>> list_api_keys(uint32_t count_max) override;
  Status delete_api_key(std::string_view key_sha256) override;

  Result<Drop> create_drop(const DropSpec& spec, int64_t now_ms) override;
  Result<Drop> update_drop(std::string_view slug, const DropSpec& spec, int64_t now_ms) override;
  Result<Drop> get_drop(std::string_view slug) override;
  Result<Drop> get_drop_by_id(int64_t drop_id) override;
  Result<std::vector<Drop>> list_drops(std::string_view after_slug, uint32_t count_max) override;
  Result<Drop> set_drop_state(std::string_view slug, std::vector<DropState> from, DropState to,
                              int64_t now_ms) override;

  Status put_asset(int64_t drop_id, const AssetRecord& asset) override;
  Status delete_asset(int64_t drop_id, std::string_view path) override;
  Result<std::vector<AssetRecord>> list_assets(int64_t drop_id) override;

  Status publish_manifest(int64_t drop_id, const ManifestRecord& manifest) override;
  Result<ManifestRecord> current_manifest(int64_t drop_id) override;

  Status register_seller(std::string_view seller_id, SellerKind kind, std::string_view instance,
                         int64_t now_ms) override;
  Status heartbeat(std::string_view seller_id, int64_t now_ms) override;
  Result<Lease> issue_lease(int64_t drop_id, std::string_view seller_id, uint32_t serial_count_max,
                            int64_t now_ms) override;
  Result<uint32_t> unleased_count(int64_t drop_id) override;
  Result<std::vector<LeaseState>> seller_leases(std::string_view seller_id,
                                                int64_t now_ms) override;
  Result<uint32_t> reclaim_dead_sellers(int64_t now_ms, int64_t heartbeat_timeout_ms) override;
  Result<uint32_t> release_leases(std::string_view seller_id, int64_t now_ms) override;
  Result<uint32_t> release_lease(std::string_view seller_id, int64_t drop_id, uint32_t first_serial,
                                 uint32_t last_serial, int64_t now_ms) override;

  Result<Hold> create_hold(int64_t drop_id, uint32_t serial, std::string_view account,
                           std::string_view seller_id, int64_t expires_at_ms, int64_t now_ms,
                           uint32_t per_buyer_limit) override;
  Result<Hold> get_hold(int64_t hold_id) override;
  Result<uint32_t> live_hold_count(int64_t drop_id, int64_t now_ms) override;
  Result<std::vector<Hold>> expire_holds(std::string_view seller_id, int64_t now_ms) override;

  std::vector<Result<Claim>> record_claims(const std::vector<ClaimInsert>& inserts) override;
  Result<Claim> get_claim(int64_t drop_id, uint32_t serial) override;
  Result<std::vector<Claim>> list_claims(int64_t drop_id) override;
  Result<uint32_t> claim_count(int64_t drop_id) override;
  Result<uint32_t> account_claim_count(int64_t drop_id, std::string_view account) override;

  Result<Revocation> revoke_claim(int64_t drop_id, uint32_t serial, std::string_view reason,
                                  int64_t now_ms) override;
  Result<std::vector<Revocation>> list_revocations() override;

  Result<IdempotencyRecord> get_idempotency(std::string_view scope, std::string_view key) override;
  Status put_idempotency(const IdempotencyRecord& record) override;
  Result<IdempotencyReservation> reserve_idempotency(const IdempotencyRecord& marker,
                                                     std::string_view owner) override;
  Status answer_idempotency(std::string_view scope, std::string_view key, std::string_view owner,
                            unsigned response_status, std::string_view response_body) override;
  Status release_idempotency(std::string_view scope, std::string_view key,
                             std::string_view owner) override;

  Result<EdgeRecord> create_edge(const EdgeRecord& edge, uint32_t pending_max,
                                 int64_t pending_expired_at_ms) override;
  Result<EdgeRecord> get_edge(int64_t edge_id) override;
  Result<EdgeRecord> get_edge_by_key_id(std::string_view key_id) override;
  Result<std::vector<EdgeRecord>> list_edges() override;
  Result<EdgeRecord> update_edge(int64_t edge_id, EdgeState state,
                                 const std::vector<std::string>& drops,
                                 std::string_view grant_token, int64_t now_ms) override;
  Result<ReaderRecord> create_reader(const ReaderRecord& reader) override;
  Result<ReaderRecord> get_reader(std::string_view reader_id) override;
  Result<ReaderRecord> get_reader_by_key_id(std::string_view key_id) override;
  Result<std::vector<ReaderRecord>> list_readers() override;
  Result<ReaderRecord> revoke_reader(std::string_view reader_id, int64_t now_ms) override;
  Result<ReceiptSale> record_receipt_sale(const ReceiptSale& sale) override;
  Result<ReceiptSale> get_receipt_sale(std::string_view reader_id,
                                       std::string_view transaction) override;
  Result<ReceiptSale> decline_receipt_sale(const ReceiptSale& decline,
                                           int64_t declined_at_ms) override;
  Result<std::vector<ReceiptSale>> list_receipt_sales(int64_t drop_id,
                                                      std::optional<SaleState> state,
                                                      int64_t after_id,
                                                      uint32_t count_max) override;

  Result<CodeBatch> create_code_batch(int64_t drop_id, std::string_view label,
                                      std::string_view redeemer,
                                      const std::vector<std::string>& code_sha256s,
                                      int64_t now_ms) override;
  Result<ClaimCodeRecord> find_claim_code(std::string_view code_sha256) override;
  Result<std::vector<CodeBatch>> list_code_batches(int64_t drop_id) override;
  Result<CodeRevocation> revoke_claim_codes(int64_t drop_id, int64_t batch_id,
                                            std::string_view code_sha256, int64_t now_ms) override;
  Result<ManifestRecord> get_manifest(int64_t drop_id, int64_t version) override;

  Result<uint32_t> append_events(const std::vector<Event>& events) override;
  Result<std::vector<Event>> list_events(int64_t drop_id, std::string_view kind,
                                         uint32_t count_max) override;
  Result<uint32_t> count_events(int64_t drop_id, std::string_view kind) override;

  Status create_order(const Order& order) override;
  Result<Order> get_order(std::string_view order_id) override;
  Result<Order> get_order_by_payment_intent(std::string_view payment_intent) override;
  Result<Order> change_order(std::string_view order_id, const OrderChange& change) override;
  Result<bool> record_webhook_event(const WebhookEventRecord& event) override;
  Result<std::optional<WebhookEventRecord>> get_webhook_event(std::string_view event_id) override;
  Result<std::vector<WebhookEventRecord>> webhook_events_of_payment(
      std::string_view payment_intent) override;
  Result<Refund> queue_refund(const Refund& refund, int64_t now_ms) override;
  Result<Refund> update_refund(int64_t refund_id, RefundState state, uint32_t attempts,
                               int64_t next_attempt_at_ms, std::string_view provider_ref,
                               std::string_view last_error, int64_t now_ms) override;
  Result<Refund> get_refund(int64_t refund_id) override;
  Result<std::vector<Refund>> due_refunds(int64_t now_ms, uint32_t count_max) override;
  Result<std::vector<Refund>> list_refunds(uint32_t count_max) override;
  Result<uint32_t> queued_refund_count() override;

 private:
  // write: may change rows; read: several statements on one snapshot;
  // read_one: a single statement, no explicit transaction (saves two round trips).
  enum class Tx { write, read, read_one };

  // Runs `body(connection)` in one transaction of kind `tx`: commits when it
  // returns ok, rolls back otherwise. Body returns Status or Result<T>.
  template <typename F>
  auto transact(Tx tx, F&& body) -> std::invoke_result_t<F&, sql::Connection&>;
  Result<sql::ConnectionPool::Handle> begin(Tx tx);
  // The connection for a transaction of kind `tx`, not yet begun.
  Result<sql::ConnectionPool::Handle> checkout(Tx tx);
  Status end(sql::Connection& connection, Tx tx, bool commit);
  Status fail_writes(const Status& cause);  // the sticky error: set once, kept

  std::string locked(std::string_view select) const;  // `select` + for_update
  std::string shared(std::string_view select) const;  // `select` + for_share

  // Steps of the calls above, run inside their transaction.
  Result<Drop> lock_drop_by_slug(sql::Connection& c, std::string_view slug);
  Result<Drop> read_drop_by_slug(sql::Connection& c, std::string_view slug);
  Status check_seller_current(sql::Connection& c, std::string_view seller_id);
  // The lowest `count_max` returned serials of the drop, after dropping those
  // claimed since they were returned (sql_store_sales.cc).
  Result<sql::Rows> lowest_returned_serials(sql::Connection& c, int64_t drop_id,
                                            uint32_t count_max);
  Result<std::optional<Lease>> lease_returned_run(sql::Connection& c, int64_t drop_id,
                                                  std::string_view seller_id,
                                                  uint32_t serial_count_max, int64_t now_ms);
  Result<Lease> insert_lease(sql::Connection& c, int64_t drop_id, std::string_view seller_id,
                             uint32_t first_serial, uint32_t last_serial, int64_t now_ms);
  Result<uint32_t> return_leases(sql::Connection& c, const sql::Rows& locked_leases,
                                 int64_t now_ms);
  Result<uint32_t> return_lease(sql::Connection& c, const Lease& lease, int64_t now_ms);
  Status check_lease_covers(sql::Connection& c, int64_t drop_id, std::string_view seller_id,
                            uint32_t serial);
  Result<Claim> insert_claim(sql::Connection& c, const ClaimInsert& insert);
  Status check_claim_preconditions(sql::Connection& c, const ClaimInsert& insert);
  Status consume_hold(sql::Connection& c, const ClaimInsert& insert);
  Status count_buyer_claim(sql::Connection& c, const ClaimInsert& insert);
  // The account's unexpired holds of the drop at `at_ms`.
  Result<uint32_t> account_live_holds(sql::Connection& c, int64_t drop_id, std::string_view account,
                                      int64_t at_ms);
  // Sets *result to the claim or its own refusal; returns a failure that
  // leaves the transaction unusable (it fails the whole batch).
  Status claim_in_savepoint(sql::Connection& c, const ClaimInsert& insert, Result<Claim>* result);
  // The fast path of record_claims (sql_store_claims.cc): the batch, taken in
  // `order`, in a few multi-row statements and one transaction. The results
  // of every claim when it was written (and committed, or its commit failed);
  // nullopt when not every claim would pass and nothing was written: record
  // them one by one.
  std::optional<std::vector<Result<Claim>>> record_claims_together(
      const std::vector<ClaimInsert>& inserts, const std::vector<size_t>& order);
  Result<uint32_t> insert_events(sql::Connection& c, std::span<const Event> events);
  Status insert_idempotency(sql::Connection& c, const IdempotencyRecord& record);
  Result<LeaseState> lease_state(sql::Connection& c, const Lease& lease, int64_t now_ms);
  // Claim codes (sql_store_codes.cc): `count` unleased serials of the locked
  // drop, returned ones first, taken out of the pool; conflict if too few.
  Result<std::vector<uint32_t>> take_unleased_serials(sql::Connection& c, int64_t drop_id,
                                                      uint32_t count);
  Status insert_code_batch_seller(sql::Connection& c, std::string_view seller_id, int64_t now_ms);

  const Dialect& dialect_;
  std::unique_ptr<sql::ConnectionPool> write_pool_;
  std::unique_ptr<sql::ConnectionPool> read_pool_;  // may be null
  std::atomic<bool> writes_failed_{false};
  std::mutex writes_failed_mutex_;
  Status writes_failed_status_;  // guarded by writes_failed_mutex_
};

namespace internal {

template <typename R>
struct TxOutcome;

template <>
struct TxOutcome<Status> {
  static bool ok(const Status& status) { return status.ok(); }
  static Status fail(Status status) { return status; }
};

template <typename T>
struct TxOutcome<Result<T>> {
  static bool ok(const Result<T>& result) { return result.has_value(); }
  static Result<T> fail(Status status) { return std::unexpected<Status>(std::move(status)); }
};

}  // namespace internal

template <typename F>
auto SqlStore::transact(Tx tx, F&& body) -> std::invoke_result_t<F&, sql::Connection&> {
  using R = std::invoke_result_t<F&, sql::Connection&>;
  using Outcome = internal::TxOutcome<R>;
  Result<sql::ConnectionPool::Handle> connection = begin(tx);
  if (!connection) return Outcome::fail(connection.error());
  R result = body(**connection);
  Status ended = end(**connection, tx, Outcome::ok(result));
  if (!ended.ok()) return Outcome::fail(std::move(ended));
  return result;
}

}  // namespace dg::store
