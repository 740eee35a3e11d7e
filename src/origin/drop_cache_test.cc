// The origin's drop cache (DropCatalog::load_drop), over a real SQLite
// store seen through a wrapper that counts and can hold the drop reads, and
// an injected clock that expires entries: once an entry expired, one caller
// reloads it while the others answer from it, and a write on this origin is
// seen by the next caller even while an older reload is under way.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/env.h"
#include "base/limits.h"
#include "base/time.h"
#include "store/store.h"
#include "support/test_origin.h"

namespace dg::store {
namespace {

// Forwards every call to `inner_` and counts get_drop calls. After
// hold_next_drop_read(), the next get_drop reads the store, then waits for
// release() before it returns what it read; later ones are not held.
class HeldReadsStore final : public Store {
 public:
  explicit HeldReadsStore(Store& inner) : inner_(inner) {}

  void hold_next_drop_read() {
    std::lock_guard lock(mutex_);
    hold_next_ = true;
  }
  void release() {
    std::lock_guard lock(mutex_);
    holding_ = false;
    changed_.notify_all();
  }
  // Waits (bounded) until `count` get_drop calls have begun; false on timeout.
  bool wait_for_drop_reads(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(30),
                             [&] { return get_drop_calls_ >= count; });
  }
  int drop_reads() {
    std::lock_guard lock(mutex_);
    return get_drop_calls_;
  }

  Result<Drop> get_drop(std::string_view slug) override {
    Result<Drop> drop = inner_.get_drop(slug);
    std::unique_lock lock(mutex_);
    ++get_drop_calls_;
    changed_.notify_all();
    if (hold_next_) {
      hold_next_ = false;
      holding_ = true;
      changed_.wait(lock, [&] { return !holding_; });
    }
    return drop;
  }

  Status migrate() override { return inner_.migrate(); }
  Result<int> schema_version() override { return inner_.schema_version(); }
  Status add_api_key(std::string_view key_sha256, std::string_view label, int64_t now_ms) override {
    return inner_.add_api_key(key_sha256, label, now_ms);
  }
  Result<bool> api_key_exists(std::string_view key_sha256) override {
    return inner_.api_key_exists(key_sha256);
  }
  Result<std::vector<std::string>> list_api_keys(uint32_t count_max) override {
    return inner_.list_api_keys(count_max);
  }
  Status delete_api_key(std::string_view key_sha256) override {
    return inner_.delete_api_key(key_sha256);
  }
  Result<Drop> create_drop(const DropSpec& spec, int64_t now_ms) override {
    return inner_.create_drop(spec, now_ms);
  }
  Result<Drop> update_drop(std::string_view slug, const DropSpec& spec, int64_t now_ms) override {
    return inner_.update_drop(slug, spec, now_ms);
  }
  Result<Drop> get_drop_by_id(int64_t drop_id) override { return inner_.get_drop_by_id(drop_id); }
  Result<std::vector<Drop>> list_drops(std::string_view after_slug, uint32_t count_max) override {
    return inner_.list_drops(after_slug, count_max);
  }
  Result<Drop> set_drop_state(std::string_view slug, std::vector<DropState> from, DropState to,
                              int64_t now_ms) override {
    return inner_.set_drop_state(slug, std::move(from), to, now_ms);
  }
  Status put_asset(int64_t drop_id, const AssetRecord& asset) override {
    return inner_.put_asset(drop_id, asset);
  }
  Status delete_asset(int64_t drop_id, std::string_view path) override {
    return inner_.delete_asset(drop_id, path);
  }
  Result<std::vector<AssetRecord>> list_assets(int64_t drop_id) override {
    return inner_.list_assets(drop_id);
  }
  Status publish_manifest(int64_t drop_id, const ManifestRecord& manifest) override {
    return inner_.publish_manifest(drop_id, manifest);
  }
  Result<ManifestRecord> current_manifest(int64_t drop_id) override {
    return inner_.current_manifest(drop_id);
  }
  Status register_seller(std::string_view seller_id, SellerKind kind, std::string_view instance,
                         int64_t now_ms) override {
    return inner_.register_seller(seller_id, kind, instance, now_ms);
  }
  Status heartbeat(std::string_view seller_id, int64_t now_ms) override {
    return inner_.heartbeat(seller_id, now_ms);
  }
  Result<Lease> issue_lease(int64_t drop_id, std::string_view seller_id, uint32_t serial_count_max,
                            int64_t now_ms) override {
    return inner_.issue_lease(drop_id, seller_id, serial_count_max, now_ms);
  }
  Result<uint32_t> unleased_count(int64_t drop_id) override {
    return inner_.unleased_count(drop_id);
  }
  Result<std::vector<LeaseState>> seller_leases(std::string_view seller_id,
                                                int64_t now_ms) override {
    return inner_.seller_leases(seller_id, now_ms);
  }
  Result<uint32_t> reclaim_dead_sellers(int64_t now_ms, int64_t heartbeat_timeout_ms) override {
    return inner_.reclaim_dead_sellers(now_ms, heartbeat_timeout_ms);
  }
  Result<uint32_t> release_leases(std::string_view seller_id, int64_t now_ms) override {
    return inner_.release_leases(seller_id, now_ms);
  }
  Result<uint32_t> release_lease(std::string_view seller_id, int64_t drop_id, uint32_t first_serial,
                                 uint32_t last_serial, int64_t now_ms) override {
    return inner_.release_lease(seller_id, drop_id, first_serial, last_serial, now_ms);
  }
  Result<Hold> create_hold(int64_t drop_id, uint32_t serial, std::string_view account,
                           std::string_view seller_id, int64_t expires_at_ms, int64_t now_ms,
                           uint32_t per_buyer_limit) override {
    return inner_.create_hold(drop_id, serial, account, seller_id, expires_at_ms, now_ms,
                              per_buyer_limit);
  }
  Result<Hold> get_hold(int64_t hold_id) override { return inner_.get_hold(hold_id); }
  Result<uint32_t> live_hold_count(int64_t drop_id, int64_t now_ms) override {
    return inner_.live_hold_count(drop_id, now_ms);
  }
  Result<std::vector<Hold>> expire_holds(std::string_view seller_id, int64_t now_ms) override {
    return inner_.expire_holds(seller_id, now_ms);
  }
  std::vector<Result<Claim>> record_claims(const std::vector<ClaimInsert>& inserts) override {
    return inner_.record_claims(inserts);
  }
  Result<Claim> get_claim(int64_t drop_id, uint32_t serial) override {
    return inner_.get_claim(drop_id, serial);
  }
  Result<std::vector<Claim>> list_claims(int64_t drop_id) override {
    return inner_.list_claims(drop_id);
  }
  Result<uint32_t> claim_count(int64_t drop_id) override { return inner_.claim_count(drop_id); }
  Result<uint32_t> account_claim_count(int64_t drop_id, std::string_view account) override {
    return inner_.account_claim_count(drop_id, account);
  }
  Result<Revocation> revoke_claim(int64_t drop_id, uint32_t serial, std::string_view reason,
                                  int64_t now_ms) override {
    return inner_.revoke_claim(drop_id, serial, reason, now_ms);
  }
  Result<std::vector<Revocation>> list_revocations() override { return inner_.list_revocations(); }
  Result<IdempotencyRecord> get_idempotency(std::string_view scope, std::string_view key) override {
    return inner_.get_idempotency(scope, key);
  }
  Status put_idempotency(const IdempotencyRecord& record) override {
    return inner_.put_idempotency(record);
  }
  Result<IdempotencyReservation> reserve_idempotency(const IdempotencyRecord& marker,
                                                     std::string_view owner) override {
    return inner_.reserve_idempotency(marker, owner);
  }
  Status answer_idempotency(std::string_view scope, std::string_view key, std::string_view owner,
                            unsigned response_status, std::string_view response_body) override {
    return inner_.answer_idempotency(scope, key, owner, response_status, response_body);
  }
  Status release_idempotency(std::string_view scope, std::string_view key,
                             std::string_view owner) override {
    return inner_.release_idempotency(scope, key, owner);
  }
  Result<EdgeRecord> create_edge(const EdgeRecord& edge, uint32_t pending_max,
                                 int64_t pending_expired_at_ms) override {
    return inner_.create_edge(edge, pending_max, pending_expired_at_ms);
  }
  Result<EdgeRecord> get_edge(int64_t edge_id) override { return inner_.get_edge(edge_id); }
  Result<EdgeRecord> get_edge_by_key_id(std::string_view key_id) override {
    return inner_.get_edge_by_key_id(key_id);
  }
  Result<std::vector<EdgeRecord>> list_edges() override { return inner_.list_edges(); }
  Result<EdgeRecord> update_edge(int64_t edge_id, EdgeState state,
                                 const std::vector<std::string>& drops,
                                 std::string_view grant_token, int64_t now_ms) override {
    return inner_.update_edge(edge_id, state, drops, grant_token, now_ms);
  }
  Result<ReaderRecord> create_reader(const ReaderRecord& reader) override {
    return inner_.create_reader(reader);
  }
  Result<ReaderRecord> get_reader(std::string_view reader_id) override {
    return inner_.get_reader(reader_id);
  }
  Result<ReaderRecord> get_reader_by_key_id(std::string_view key_id) override {
    return inner_.get_reader_by_key_id(key_id);
  }
  Result<std::vector<ReaderRecord>> list_readers() override { return inner_.list_readers(); }
  Result<ReaderRecord> revoke_reader(std::string_view reader_id, int64_t now_ms) override {
    return inner_.revoke_reader(reader_id, now_ms);
  }
  Result<ReceiptSale> record_receipt_sale(const ReceiptSale& sale) override {
    return inner_.record_receipt_sale(sale);
  }
  Result<ReceiptSale> get_receipt_sale(std::string_view reader_id,
                                       std::string_view transaction) override {
    return inner_.get_receipt_sale(reader_id, transaction);
  }
  Result<ReceiptSale> decline_receipt_sale(const ReceiptSale& decline,
                                           int64_t declined_at_ms) override {
    return inner_.decline_receipt_sale(decline, declined_at_ms);
  }
  Result<std::vector<ReceiptSale>> list_receipt_sales(int64_t drop_id,
                                                      std::optional<SaleState> state,
                                                      int64_t after_id,
                                                      uint32_t count_max) override {
    return inner_.list_receipt_sales(drop_id, state, after_id, count_max);
  }
  Result<CodeBatch> create_code_batch(int64_t drop_id, std::string_view label,
                                      std::string_view redeemer,
                                      const std::vector<std::string>& code_sha256s,
                                      int64_t now_ms) override {
    return inner_.create_code_batch(drop_id, label, redeemer, code_sha256s, now_ms);
  }
  Result<ClaimCodeRecord> find_claim_code(std::string_view code_sha256) override {
    return inner_.find_claim_code(code_sha256);
  }
  Result<std::vector<CodeBatch>> list_code_batches(int64_t drop_id) override {
    return inner_.list_code_batches(drop_id);
  }
  Result<CodeRevocation> revoke_claim_codes(int64_t drop_id, int64_t batch_id,
                                            std::string_view code_sha256, int64_t now_ms) override {
    return inner_.revoke_claim_codes(drop_id, batch_id, code_sha256, now_ms);
  }
  Result<ManifestRecord> get_manifest(int64_t drop_id, int64_t version) override {
    return inner_.get_manifest(drop_id, version);
  }
  Result<uint32_t> append_events(const std::vector<Event>& events) override {
    return inner_.append_events(events);
  }
  Result<std::vector<Event>> list_events(int64_t drop_id, std::string_view kind,
                                         uint32_t count_max) override {
    return inner_.list_events(drop_id, kind, count_max);
  }
  Result<uint32_t> count_events(int64_t drop_id, std::string_view kind) override {
    return inner_.count_events(drop_id, kind);
  }
  Status create_order(const Order& order) override { return inner_.create_order(order); }
  Result<Order> get_order(std::string_view id) override { return inner_.get_order(id); }
  Result<Order> get_order_by_payment_intent(std::string_view pi) override {
    return inner_.get_order_by_payment_intent(pi);
  }
  Result<Order> change_order(std::string_view id, const OrderChange& change) override {
    return inner_.change_order(id, change);
  }
  Result<bool> record_webhook_event(const WebhookEventRecord& event) override {
    return inner_.record_webhook_event(event);
  }
  Result<std::optional<WebhookEventRecord>> get_webhook_event(std::string_view id) override {
    return inner_.get_webhook_event(id);
  }
  Result<std::vector<WebhookEventRecord>> webhook_events_of_payment(std::string_view pi) override {
    return inner_.webhook_events_of_payment(pi);
  }
  Result<Refund> queue_refund(const Refund& refund, int64_t now_ms) override {
    return inner_.queue_refund(refund, now_ms);
  }
  Result<Refund> update_refund(int64_t id, RefundState state, uint32_t attempts, int64_t next_ms,
                               std::string_view ref, std::string_view err,
                               int64_t now_ms) override {
    return inner_.update_refund(id, state, attempts, next_ms, ref, err, now_ms);
  }
  Result<Refund> get_refund(int64_t id) override { return inner_.get_refund(id); }
  Result<std::vector<Refund>> due_refunds(int64_t now_ms, uint32_t count_max) override {
    return inner_.due_refunds(now_ms, count_max);
  }
  Result<std::vector<Refund>> list_refunds(uint32_t count_max) override {
    return inner_.list_refunds(count_max);
  }
  Result<uint32_t> queued_refund_count() override { return inner_.queued_refund_count(); }

 private:
  Store& inner_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool hold_next_ = false;
  bool holding_ = false;
  int get_drop_calls_ = 0;
};

}  // namespace
}  // namespace dg::store

namespace dg::origin {
namespace {

constexpr int64_t kNow = 1'930'367'167'000;

class DropCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto hold_reads = [this](store::Store& sqlite) {
      auto wrapped = std::make_unique<store::HeldReadsStore>(sqlite);
      store_ = wrapped.get();
      return wrapped;
    };
    Status started = origin_.start(clock_, hold_reads);
    ASSERT_TRUE(started.ok()) << started.to_string();
    store::DropSpec spec;
    spec.slug = "tape";
    spec.title = "Tape";
    spec.edition_size = 10;
    spec.opens_at_ms = kNow;
    spec.rights.license = "CC-BY-NC-4.0";
    store::Store& sqlite = origin_.sqlite();  // unseen by the wrapper: no drop read counted
    ASSERT_TRUE(sqlite.create_drop(spec, kNow).has_value());
    ASSERT_TRUE(
        sqlite.set_drop_state("tape", {store::DropState::draft}, store::DropState::live, kNow)
            .has_value());
  }

  // The drop's state as the public drop page says it (read through the cache).
  std::string public_state() {
    Result<std::string> json = origin_.service().catalog.public_drop_json("tape");
    EXPECT_TRUE(json.has_value()) << json.error().to_string();
    if (!json) return "";
    return std::string(boost::json::parse(*json).as_object().at("state").as_string());
  }

  ManualClock clock_{kNow};
  dg::testing::TestOrigin origin_;          // after the clock it reads
  store::HeldReadsStore* store_ = nullptr;  // the service's store, owned by origin_
};

// After the entry expired, the first caller reloads it; the callers that come
// while it does answer from the expired entry (none reads the drop itself):
// N callers, one reload.
TEST_F(DropCacheTest, CallersAfterExpiryShareOneReloadAndAnswerFromTheOldEntryMeanwhile) {
  EXPECT_EQ(public_state(), "live");
  ASSERT_EQ(store_->drop_reads(), 1);
  clock_.advance_ms(to_ms(limits::drop_cache_ttl) + 1);
  store_->hold_next_drop_read();
  std::thread reloader([&] { EXPECT_EQ(public_state(), "live"); });
  ASSERT_TRUE(store_->wait_for_drop_reads(2));  // the reload is under way, held
  std::vector<std::thread> others;
  for (int i = 0; i < 8; ++i) others.emplace_back([&] { EXPECT_EQ(public_state(), "live"); });
  for (std::thread& other : others) other.join();
  EXPECT_EQ(store_->drop_reads(), 2);
  store_->release();
  reloader.join();
  EXPECT_EQ(public_state(), "live");  // the reloaded entry, fresh again
  EXPECT_EQ(store_->drop_reads(), 2);
}

// A reload that read the drop before a pause on this origin must not put the
// drop it read back into the cache: the pause is seen by the next caller,
// and still after that reload finished.
TEST_F(DropCacheTest, AWriteHereIsSeenAtOnceEvenWhileAnOlderReloadIsUnderWay) {
  EXPECT_EQ(public_state(), "live");
  clock_.advance_ms(to_ms(limits::drop_cache_ttl) + 1);
  store_->hold_next_drop_read();
  std::thread reloader([&] { EXPECT_EQ(public_state(), "live"); });  // reads "live", then held
  ASSERT_TRUE(store_->wait_for_drop_reads(2));
  ASSERT_TRUE(origin_.service().drops.pause("tape").has_value());
  EXPECT_EQ(public_state(), "paused");  // loaded again, not held
  store_->release();
  reloader.join();
  EXPECT_EQ(public_state(), "paused");
}

}  // namespace
}  // namespace dg::origin
