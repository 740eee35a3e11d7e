// The store conformance suite: the same tests against every backend
// (SQLite on a temp file, PostgreSQL on a throwaway cluster), so the two
// mean the same thing. The PostgreSQL half needs DG_TEST_POSTGRES and fails
// loudly without it; ctest provides it (see tests/CMakeLists.txt).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <thread>

#include "base/limits.h"
#include "base/time.h"
#include "store/schema.h"
#include "store/store.h"
#include "store_test_support.h"

namespace dg::store {
namespace {

using testing::Backend;
using testing::TestDatabase;

constexpr int64_t kT0 = 1'800'000'000'000;  // a fixed "now", Unix ms
constexpr int64_t kSecond = 1000;
constexpr uint32_t kConnections = 8;
constexpr uint32_t kAnyLimit = 1000;  // a per-buyer limit no test reaches by accident

DropSpec drop_spec(std::string slug, uint32_t edition_size) {
  DropSpec spec;
  spec.slug = std::move(slug);
  spec.title = "Summer Tape";
  spec.edition_size = edition_size;
  spec.opens_at_ms = kT0;
  spec.per_buyer_limit = 2;
  spec.price_minor = 1200;
  spec.rights.license = "CC-BY-NC-4.0";
  return spec;
}

ClaimInsert claim(int64_t drop_id, uint32_t serial, std::string account) {
  ClaimInsert insert;
  insert.drop_id = drop_id;
  insert.serial = serial;
  insert.account = std::move(account);
  insert.source = ClaimSource::payment;
  insert.payment_ref = "pay-" + std::to_string(serial);
  insert.cert_id = "cert-" + std::to_string(drop_id) + "-" + std::to_string(serial);
  insert.cert_token = "v4.public.token-" + std::to_string(serial);
  insert.per_buyer_limit = 1000;
  insert.at_ms = kT0;
  return insert;
}

Event event(std::string kind, int64_t drop_id, std::string dedup_key = "") {
  Event out;
  out.kind = std::move(kind);
  out.drop_id = drop_id;
  out.account = "buyer";
  out.detail_json = R"({"n":1})";
  out.at_ms = kT0;
  out.dedup_key = std::move(dedup_key);
  return out;
}

std::vector<uint32_t> serials_of(const Lease& lease) {
  std::vector<uint32_t> out;
  for (uint32_t s = lease.first_serial; s <= lease.last_serial; ++s) out.push_back(s);
  return out;
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  virtual bool migrate_in_setup() const { return true; }

  void SetUp() override {
    database_ = GetParam().make();
    ASSERT_NE(database_, nullptr) << "no " << GetParam().name << " test database";
    store_ = open();
    ASSERT_NE(store_, nullptr);
    if (migrate_in_setup()) ASSERT_OK(store_->migrate());
  }

  std::unique_ptr<Store> open() {
    Result<std::unique_ptr<Store>> store = database_->open(kConnections);
    EXPECT_TRUE(store.has_value()) << store.error().to_string();
    return store ? std::move(*store) : nullptr;
  }

  int64_t make_drop(const std::string& slug, uint32_t edition_size) {
    Result<Drop> drop = store_->create_drop(drop_spec(slug, edition_size), kT0);
    EXPECT_TRUE(drop.has_value()) << drop.error().to_string();
    return drop ? drop->id : 0;
  }

  void add_seller(const std::string& id, SellerKind kind = SellerKind::origin,
                  const std::string& instance = "", int64_t now_ms = kT0) {
    EXPECT_OK(
        store_->register_seller(id, kind, instance.empty() ? "slot-" + id : instance, now_ms));
  }

  std::unique_ptr<TestDatabase> database_;
  std::unique_ptr<Store> store_;
};

class StoreConformance : public StoreTest {};

class StoreMigrationConformance : public StoreTest {
 protected:
  bool migrate_in_setup() const override { return false; }
};

// --- Schema.

TEST_P(StoreMigrationConformance, MigrateCreatesTheLatestSchemaOnceAndIsIdempotent) {
  EXPECT_EQ(store_->schema_version().value_or(-1), 0);
  ASSERT_OK(store_->migrate());
  EXPECT_EQ(store_->schema_version().value_or(-1), latest_schema_version());
  ASSERT_OK(store_->migrate());
  EXPECT_EQ(store_->schema_version().value_or(-1), latest_schema_version());
  ASSERT_OK(store_->create_drop(drop_spec("after-migrate", 3), kT0));
}

TEST_P(StoreMigrationConformance, ConcurrentMigrationsFromSeveralProcessesAllSucceed) {
  constexpr int kProcesses = 4;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kProcesses; ++i) stores.push_back(open());
  std::vector<Status> statuses(kProcesses);
  std::vector<std::thread> threads;
  for (int i = 0; i < kProcesses; ++i) {
    threads.emplace_back([&, i] { statuses[i] = stores[i]->migrate(); });
  }
  for (auto& thread : threads) thread.join();
  for (const Status& status : statuses) EXPECT_OK(status);
  EXPECT_EQ(store_->schema_version().value_or(-1), latest_schema_version());
}

// --- API keys, drops, assets, manifests.

TEST_P(StoreConformance, ApiKeysAreAddedOnceAndFound) {
  ASSERT_OK(store_->add_api_key("ab12", "laptop", kT0));
  EXPECT_CODE(store_->add_api_key("ab12", "again", kT0), Code::conflict);
  EXPECT_TRUE(store_->api_key_exists("ab12").value_or(false));
  EXPECT_FALSE(store_->api_key_exists("cd34").value_or(true));
}

// The origin holds operator keys in memory (OperatorKeys) and refreshes them
// from this list; a deleted (revoked) key leaves it, and the list is bounded.
TEST_P(StoreConformance, ApiKeysAreListedBoundedAndDeleted) {
  ASSERT_OK(store_->add_api_key("bb", "laptop", kT0));
  ASSERT_OK(store_->add_api_key("aa", "phone", kT0));
  EXPECT_EQ(store_->list_api_keys(10).value_or(std::vector<std::string>{}),
            (std::vector<std::string>{"aa", "bb"}));
  EXPECT_CODE(store_->list_api_keys(1), Code::limit_exceeded);
  ASSERT_OK(store_->delete_api_key("aa"));
  EXPECT_CODE(store_->delete_api_key("aa"), Code::not_found);
  EXPECT_FALSE(store_->api_key_exists("aa").value_or(true));
  EXPECT_EQ(store_->list_api_keys(1).value_or(std::vector<std::string>{}),
            (std::vector<std::string>{"bb"}));
}

EdgeRecord enrolment(int n, int64_t at_ms) {
  EdgeRecord edge;
  edge.name = "edge-" + std::to_string(n);
  edge.edge_key = "k4.public.edge-" + std::to_string(n);
  edge.key_id = "k4.pid.edge-" + std::to_string(n);
  edge.secret_sha256 = std::string(64, 'a');
  edge.created_at_ms = at_ms;
  return edge;
}

size_t pending_count(Store& store) {
  auto edges = store.list_edges();
  EXPECT_TRUE(edges.has_value());
  if (!edges) return 0;
  return std::count_if(edges->begin(), edges->end(),
                       [](const EdgeRecord& e) { return e.state == EdgeState::pending; });
}

// A full pending list makes room by dropping the oldest pending enrolment, so
// no number of anonymous enrolments can refuse a new one; approved edges are
// never dropped.
TEST_P(StoreConformance, AFullPendingListDropsTheOldestPendingEnrolment) {
  auto approved = store_->create_edge(enrolment(0, kT0), 3, kT0 - 3600 * kSecond);
  ASSERT_TRUE(approved.has_value()) << approved.error().to_string();
  ASSERT_TRUE(store_->update_edge(approved->id, EdgeState::approved, {}, "grant", kT0).has_value());
  std::vector<int64_t> ids;
  for (int n = 1; n <= 5; ++n) {
    auto edge = store_->create_edge(enrolment(n, kT0 + n), 3, kT0 - 3600 * kSecond);
    ASSERT_TRUE(edge.has_value()) << n << ": " << edge.error().to_string();
    ids.push_back(edge->id);
  }
  EXPECT_EQ(pending_count(*store_), 3u);
  EXPECT_CODE(store_->get_edge(ids[0]), Code::not_found);
  EXPECT_CODE(store_->get_edge(ids[1]), Code::not_found);
  EXPECT_TRUE(store_->get_edge(ids[4]).has_value());
  EXPECT_EQ(store_->get_edge(approved->id).value_or(EdgeRecord{}).state, EdgeState::approved);
  // A dropped enrolment's key may enrol again.
  EXPECT_TRUE(store_->create_edge(enrolment(1, kT0 + 10), 3, kT0 - 3600 * kSecond).has_value());
  EXPECT_CODE(store_->create_edge(enrolment(5, kT0 + 11), 3, kT0 - 3600 * kSecond), Code::conflict);
  EXPECT_CODE(store_->create_edge(enrolment(9, kT0), 0, kT0), Code::invalid_argument);
}

// Pending enrolments created at or before the expiry time are deleted by the
// next enrolment and no longer count toward the cap; others stay.
TEST_P(StoreConformance, ExpiredPendingEnrolmentsAreDeletedByTheNextOne) {
  auto old_one = store_->create_edge(enrolment(1, kT0), 10, kT0 - kSecond);
  auto young = store_->create_edge(enrolment(2, kT0 + 30 * kSecond), 10, kT0 - kSecond);
  ASSERT_TRUE(old_one.has_value() && young.has_value());
  // Later, when everything created at or before kT0 + 10 s has expired:
  auto fresh = store_->create_edge(enrolment(3, kT0 + 40 * kSecond), 10, kT0 + 10 * kSecond);
  ASSERT_TRUE(fresh.has_value()) << fresh.error().to_string();
  EXPECT_CODE(store_->get_edge(old_one->id), Code::not_found);
  EXPECT_TRUE(store_->get_edge(young->id).has_value());
  EXPECT_EQ(pending_count(*store_), 2u);
}

TEST_P(StoreConformance, DropsRoundTripEveryField) {
  DropSpec spec = drop_spec("summer-tape", 200);
  spec.closes_at_ms = kT0 + 3600 * kSecond;
  spec.currency = "SEK";
  spec.rights.access_s = 86400;
  spec.rights.territories_allowed = {"SE", "NO"};
  ASSERT_OK_AND_ASSIGN(Drop created, store_->create_drop(spec, kT0));
  EXPECT_GT(created.id, 0);
  EXPECT_EQ(created.state, DropState::draft);
  EXPECT_EQ(created.manifest_version, 0);
  EXPECT_EQ(created.created_at_ms, kT0);
  ASSERT_OK_AND_ASSIGN(Drop by_slug, store_->get_drop("summer-tape"));
  ASSERT_OK_AND_ASSIGN(Drop by_id, store_->get_drop_by_id(created.id));
  for (const Drop& drop : {by_slug, by_id}) {
    EXPECT_EQ(drop.id, created.id);
    EXPECT_EQ(drop.spec.title, spec.title);
    EXPECT_EQ(drop.spec.edition_size, 200u);
    EXPECT_EQ(drop.spec.opens_at_ms, spec.opens_at_ms);
    EXPECT_EQ(drop.spec.closes_at_ms, spec.closes_at_ms);
    EXPECT_EQ(drop.spec.per_buyer_limit, spec.per_buyer_limit);
    EXPECT_EQ(drop.spec.price_minor, 1200);
    EXPECT_EQ(drop.spec.currency, "SEK");
    EXPECT_EQ(drop.spec.rights, spec.rights);
  }
  ASSERT_OK(store_->create_drop(drop_spec("a-second", 5), kT0));
  ASSERT_OK_AND_ASSIGN(std::vector<Drop> drops, store_->list_drops("", 10));
  ASSERT_EQ(drops.size(), 2u);
  EXPECT_EQ(drops[0].spec.slug, "a-second");  // by slug
  EXPECT_FALSE(drops[0].spec.closes_at_ms.has_value());
  EXPECT_CODE(store_->create_drop(drop_spec("summer-tape", 9), kT0), Code::conflict);
  EXPECT_CODE(store_->create_drop(drop_spec("empty", 0), kT0), Code::invalid_argument);
  EXPECT_CODE(store_->get_drop("nope"), Code::not_found);
  EXPECT_CODE(store_->get_drop_by_id(created.id + 100), Code::not_found);
}

// Listing drops goes by pages in slug order: each page starts after the last
// slug of the one before, is never longer than asked nor than the page
// limit, and the pages together hold every drop once.
TEST_P(StoreConformance, DropsAreListedInPagesBySlug) {
  for (const char* slug : {"delta", "alpha", "echo", "charlie", "bravo"}) make_drop(slug, 1);
  ASSERT_OK_AND_ASSIGN(std::vector<Drop> first, store_->list_drops("", 2));
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].spec.slug, "alpha");
  EXPECT_EQ(first[1].spec.slug, "bravo");
  ASSERT_OK_AND_ASSIGN(std::vector<Drop> second, store_->list_drops("bravo", 2));
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].spec.slug, "charlie");
  EXPECT_EQ(second[1].spec.slug, "delta");
  ASSERT_OK_AND_ASSIGN(std::vector<Drop> last, store_->list_drops("delta", 2));
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].spec.slug, "echo");
  EXPECT_TRUE(store_->list_drops("echo", 2).value_or(std::vector<Drop>(1)).empty());
  // A cursor need not be a slug that exists.
  ASSERT_OK_AND_ASSIGN(std::vector<Drop> from_b, store_->list_drops("b", 10));
  ASSERT_EQ(from_b.size(), 4u);
  EXPECT_EQ(from_b[0].spec.slug, "bravo");
}

TEST_P(StoreConformance, APageOfDropsIsNeverLongerThanThePageLimit) {
  for (uint32_t i = 0; i <= limits::drops_page_count_max; ++i)
    make_drop("drop-" + std::to_string(1000 + i), 1);
  ASSERT_OK_AND_ASSIGN(std::vector<Drop> page,
                       store_->list_drops("", limits::drops_page_count_max + 50));
  EXPECT_EQ(page.size(), limits::drops_page_count_max);
  ASSERT_OK_AND_ASSIGN(std::vector<Drop> rest, store_->list_drops(page.back().spec.slug, 1000));
  EXPECT_EQ(rest.size(), 1u);
}

TEST_P(StoreConformance, UpdateDropOnlyInDraftOrScheduledAndNotBelowUsedSerials) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  DropSpec spec = drop_spec("tape", 12);
  spec.title = "Winter Tape";
  ASSERT_OK_AND_ASSIGN(Drop updated, store_->update_drop("tape", spec, kT0 + kSecond));
  EXPECT_EQ(updated.spec.title, "Winter Tape");
  EXPECT_EQ(updated.spec.edition_size, 12u);
  EXPECT_EQ(updated.updated_at_ms, kT0 + kSecond);
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 5, kT0));  // serials 1..5 exist now
  spec.edition_size = 4;
  EXPECT_CODE(store_->update_drop("tape", spec, kT0), Code::conflict);
  spec.edition_size = 5;
  EXPECT_OK(store_->update_drop("tape", spec, kT0));
  EXPECT_CODE(store_->update_drop("other-slug", spec, kT0), Code::invalid_argument);
  DropSpec unknown = drop_spec("unknown", 5);
  EXPECT_CODE(store_->update_drop("unknown", unknown, kT0), Code::not_found);
  ASSERT_OK(store_->set_drop_state("tape", {DropState::draft}, DropState::scheduled, kT0));
  EXPECT_OK(store_->update_drop("tape", spec, kT0));
  ASSERT_OK(store_->set_drop_state("tape", {DropState::scheduled}, DropState::live, kT0));
  EXPECT_CODE(store_->update_drop("tape", spec, kT0), Code::conflict);
}

TEST_P(StoreConformance, UpdateDropRefusesEditionBelowAClaimedSerial) {
  int64_t drop_id = make_drop("tape", 10);
  ASSERT_OK(store_->record_claims({claim(drop_id, 7, "alice")})[0]);
  DropSpec spec = drop_spec("tape", 6);
  EXPECT_CODE(store_->update_drop("tape", spec, kT0), Code::conflict);
  spec.edition_size = 7;
  EXPECT_OK(store_->update_drop("tape", spec, kT0));
}

TEST_P(StoreConformance, SetDropStateIsCompareAndSet) {
  make_drop("tape", 10);
  ASSERT_OK_AND_ASSIGN(Drop live,
                       store_->set_drop_state("tape", {DropState::draft, DropState::scheduled},
                                              DropState::live, kT0 + 5));
  EXPECT_EQ(live.state, DropState::live);
  EXPECT_EQ(live.updated_at_ms, kT0 + 5);
  EXPECT_CODE(store_->set_drop_state("tape", {DropState::draft}, DropState::live, kT0),
              Code::conflict);
  EXPECT_CODE(store_->set_drop_state("tape", {}, DropState::closed, kT0), Code::conflict);
  EXPECT_CODE(store_->set_drop_state("nope", {DropState::draft}, DropState::live, kT0),
              Code::not_found);
  EXPECT_EQ(store_->get_drop("tape")->state, DropState::live);
}

TEST_P(StoreConformance, AssetsAreReplacedByPathDeletedAndSortedBytewise) {
  int64_t drop_id = make_drop("tape", 10);
  for (std::string path : {"b.flac", "B.flac", "a/x.jpg"}) {
    ASSERT_OK(store_->put_asset(drop_id, {path, 10, "sha-" + path, "audio/flac"}));
  }
  ASSERT_OK(store_->put_asset(drop_id, {"b.flac", 99, "sha-new", "audio/x-flac"}));
  ASSERT_OK_AND_ASSIGN(std::vector<AssetRecord> assets, store_->list_assets(drop_id));
  ASSERT_EQ(assets.size(), 3u);
  EXPECT_EQ(assets[0].path, "B.flac");  // 'B' < 'a' < 'b' in bytes, whatever the locale
  EXPECT_EQ(assets[1].path, "a/x.jpg");
  EXPECT_EQ(assets[2].path, "b.flac");
  EXPECT_EQ(assets[2].size_bytes, 99u);
  EXPECT_EQ(assets[2].sha256, "sha-new");
  EXPECT_EQ(assets[2].media_type, "audio/x-flac");
  ASSERT_OK(store_->delete_asset(drop_id, "B.flac"));
  EXPECT_CODE(store_->delete_asset(drop_id, "B.flac"), Code::not_found);
  EXPECT_EQ(store_->list_assets(drop_id)->size(), 2u);
  EXPECT_CODE(store_->put_asset(drop_id + 100, {"x", 1, "s", "t"}), Code::not_found);
  EXPECT_TRUE(store_->list_assets(drop_id + 100)->empty());
}

TEST_P(StoreConformance, ManifestsAdvanceOneVersionAtATime) {
  int64_t drop_id = make_drop("tape", 10);
  EXPECT_CODE(store_->current_manifest(drop_id), Code::not_found);
  EXPECT_CODE(store_->publish_manifest(drop_id, {2, "{}", "sig", "h2", kT0}), Code::conflict);
  ASSERT_OK(store_->publish_manifest(drop_id, {1, R"({"v":1})", "sig1", "h1", kT0}));
  EXPECT_CODE(store_->publish_manifest(drop_id, {1, "{}", "sig", "h", kT0}), Code::conflict);
  ASSERT_OK(store_->publish_manifest(drop_id, {2, R"({"v":2})", "sig2", "h2", kT0 + 7}));
  ASSERT_OK_AND_ASSIGN(ManifestRecord current, store_->current_manifest(drop_id));
  EXPECT_EQ(current.version, 2);
  EXPECT_EQ(current.json, R"({"v":2})");
  EXPECT_EQ(current.minisig, "sig2");
  EXPECT_EQ(current.sha256, "h2");
  EXPECT_EQ(current.published_at_ms, kT0 + 7);
  EXPECT_EQ(store_->get_drop_by_id(drop_id)->manifest_version, 2);
  EXPECT_CODE(store_->publish_manifest(drop_id + 100, {1, "{}", "s", "h", kT0}), Code::not_found);
  EXPECT_CODE(store_->publish_manifest(drop_id, {0, "{}", "s", "h", kT0}), Code::invalid_argument);
}

TEST_P(StoreConformance, IdempotencyRecordsAreStoredOnce) {
  EXPECT_CODE(store_->get_idempotency("account:a", "k1"), Code::not_found);
  IdempotencyRecord record{"account:a", "k1", "req-sha", 201, R"({"ok":true})", kT0};
  ASSERT_OK(store_->put_idempotency(record));
  EXPECT_CODE(store_->put_idempotency(record), Code::conflict);
  ASSERT_OK_AND_ASSIGN(IdempotencyRecord stored, store_->get_idempotency("account:a", "k1"));
  EXPECT_EQ(stored.request_sha256, "req-sha");
  EXPECT_EQ(stored.response_status, 201u);
  EXPECT_EQ(stored.response_body, R"({"ok":true})");
  EXPECT_EQ(stored.created_at_ms, kT0);
  EXPECT_CODE(store_->get_idempotency("account:b", "k1"), Code::not_found);
}

// A reservation holds a key until its owner answers or releases it; only the
// owner can; a released key is free again; a reservation whose request died
// (older than limits::idempotency_in_flight_max) is taken over; and a claim
// carrying a reserved key is refused (conflict) rather than acting twice.
TEST_P(StoreConformance, IdempotencyReservationsAreAnsweredReleasedOrTakenOver) {
  using State = Store::IdempotencyState;
  IdempotencyRecord marker{"operator", "k1", "sha-a", 0, "", kT0};
  ASSERT_OK_AND_ASSIGN(Store::IdempotencyReservation first,
                       store_->reserve_idempotency(marker, "owner-1"));
  EXPECT_EQ(first.state, State::reserved);
  ASSERT_OK_AND_ASSIGN(IdempotencyRecord stored, store_->get_idempotency("operator", "k1"));
  EXPECT_EQ(stored.response_status, 0u);  // in flight
  IdempotencyRecord other = marker;
  other.request_sha256 = "sha-b";
  ASSERT_OK_AND_ASSIGN(Store::IdempotencyReservation second,
                       store_->reserve_idempotency(other, "owner-2"));
  EXPECT_EQ(second.state, State::in_flight);
  EXPECT_EQ(second.record.request_sha256, "sha-a");
  EXPECT_CODE(store_->answer_idempotency("operator", "k1", "owner-2", 201, "{}"), Code::conflict);
  EXPECT_CODE(store_->release_idempotency("operator", "k1", "owner-2"), Code::conflict);
  EXPECT_CODE(store_->answer_idempotency("operator", "k1", "owner-1", 0, "{}"),
              Code::invalid_argument);
  // A claim that stores its answer under the reserved key fails whole.
  int64_t drop_id = make_drop("tape", 10);
  ClaimInsert insert = claim(drop_id, 1, "alice");
  insert.idempotency = IdempotencyRecord{"operator", "k1", "sha-c", 201, "{}", kT0};
  EXPECT_CODE(store_->record_claims({insert})[0], Code::conflict);
  EXPECT_EQ(store_->claim_count(drop_id).value_or(99), 0u);
  // Released, the key is free again.
  ASSERT_OK(store_->release_idempotency("operator", "k1", "owner-1"));
  EXPECT_CODE(store_->get_idempotency("operator", "k1"), Code::not_found);
  ASSERT_OK_AND_ASSIGN(Store::IdempotencyReservation again,
                       store_->reserve_idempotency(marker, "owner-3"));
  EXPECT_EQ(again.state, State::reserved);
  ASSERT_OK(store_->answer_idempotency("operator", "k1", "owner-3", 201, R"({"v":1})"));
  ASSERT_OK_AND_ASSIGN(Store::IdempotencyReservation replay,
                       store_->reserve_idempotency(marker, "owner-4"));
  EXPECT_EQ(replay.state, State::answered);
  EXPECT_EQ(replay.record.response_status, 201u);
  EXPECT_EQ(replay.record.response_body, R"({"v":1})");
  EXPECT_CODE(store_->answer_idempotency("operator", "k1", "owner-3", 200, "{}"), Code::conflict);
  // A stale reservation is taken over; its first owner can no longer answer.
  IdempotencyRecord stale{"operator", "k2", "sha-a", 0, "", kT0};
  ASSERT_OK(store_->reserve_idempotency(stale, "owner-dead"));
  IdempotencyRecord just_before = stale;
  just_before.created_at_ms = kT0 + to_ms(limits::idempotency_in_flight_max) - 1;
  EXPECT_EQ(store_->reserve_idempotency(just_before, "owner-5")->state, State::in_flight);
  IdempotencyRecord later = stale;
  later.created_at_ms = kT0 + to_ms(limits::idempotency_in_flight_max);
  EXPECT_EQ(store_->reserve_idempotency(later, "owner-6")->state, State::reserved);
  EXPECT_CODE(store_->answer_idempotency("operator", "k2", "owner-dead", 201, "{}"),
              Code::conflict);
  EXPECT_OK(store_->answer_idempotency("operator", "k2", "owner-6", 201, "{}"));
}

TEST_P(StoreConformance, EventsWithADedupKeyAreStoredOnce) {
  Event with_serial = event("download.completed", 1, "edge-1:42");
  with_serial.serial = 17;
  ASSERT_OK_AND_ASSIGN(uint32_t added, store_->append_events({with_serial, event("claim", 1),
                                                              event("claim", 1), event("x", 2)}));
  EXPECT_EQ(added, 4u);
  ASSERT_OK_AND_ASSIGN(added, store_->append_events({with_serial, event("claim", 1)}));
  EXPECT_EQ(added, 1u);  // the repeat is skipped, the keyless event is new
  EXPECT_EQ(store_->count_events(1, "").value_or(0), 4u);
  EXPECT_EQ(store_->count_events(1, "claim").value_or(0), 3u);
  ASSERT_OK_AND_ASSIGN(std::vector<Event> events, store_->list_events(1, "", 10));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].kind, "download.completed");  // oldest first
  EXPECT_EQ(events[0].serial, std::optional<uint32_t>(17));
  EXPECT_EQ(events[0].dedup_key, "edge-1:42");
  EXPECT_EQ(events[0].detail_json, R"({"n":1})");
  EXPECT_EQ(events[0].at_ms, kT0);
  EXPECT_FALSE(events[1].serial.has_value());
  EXPECT_EQ(store_->list_events(1, "claim", 2)->size(), 2u);
  EXPECT_CODE(
      store_->append_events(std::vector<Event>(limits::events_batch_count_max + 1, event("x", 1))),
      Code::invalid_argument);
}

// --- Sellers and leases.

TEST_P(StoreConformance, IssueLeaseHandsOutFreshContiguousRunsThenSoldOut) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  EXPECT_EQ(store_->unleased_count(drop_id).value_or(0), 10u);
  ASSERT_OK_AND_ASSIGN(Lease first, store_->issue_lease(drop_id, "origin-1", 4, kT0));
  EXPECT_EQ(first.drop_id, drop_id);
  EXPECT_EQ(first.seller_id, "origin-1");
  EXPECT_EQ(std::pair(first.first_serial, first.last_serial), std::pair(1u, 4u));
  ASSERT_OK_AND_ASSIGN(Lease second, store_->issue_lease(drop_id, "origin-1", 4, kT0));
  EXPECT_EQ(std::pair(second.first_serial, second.last_serial), std::pair(5u, 8u));
  EXPECT_EQ(store_->unleased_count(drop_id).value_or(0), 2u);
  ASSERT_OK_AND_ASSIGN(Lease last, store_->issue_lease(drop_id, "origin-1", 4, kT0));
  EXPECT_EQ(std::pair(last.first_serial, last.last_serial), std::pair(9u, 10u));
  EXPECT_CODE(store_->issue_lease(drop_id, "origin-1", 1, kT0), Code::conflict);
  EXPECT_EQ(store_->unleased_count(drop_id).value_or(99), 0u);
  EXPECT_CODE(store_->issue_lease(drop_id + 100, "origin-1", 1, kT0), Code::not_found);
  EXPECT_CODE(store_->issue_lease(drop_id, "nobody", 1, kT0), Code::not_found);
  EXPECT_CODE(store_->issue_lease(drop_id, "origin-1", 0, kT0), Code::invalid_argument);
  EXPECT_CODE(store_->issue_lease(drop_id, "origin-1", limits::lease_serials_max + 1, kT0),
              Code::invalid_argument);
  EXPECT_CODE(store_->unleased_count(drop_id + 100), Code::not_found);
}

TEST_P(StoreConformance, ReclaimReturnsUnsoldSerialsWhichAreLeasedAgainLowestFirst) {
  int64_t drop_id = make_drop("tape", 20);
  add_seller("origin-a");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-a", 5, kT0));  // 1..5
  ASSERT_OK(store_->issue_lease(drop_id, "origin-a", 5, kT0));  // 6..10
  for (uint32_t sold : {2u, 5u}) {
    ClaimInsert insert = claim(drop_id, sold, "buyer-" + std::to_string(sold));
    insert.seller_id = "origin-a";
    ASSERT_OK(store_->record_claims({insert})[0]);
  }
  add_seller("origin-b", SellerKind::origin, "", kT0 + 60 * kSecond);
  // origin-a's heartbeat (kT0) is older than now - 30 s: it is dead.
  ASSERT_OK_AND_ASSIGN(uint32_t returned,
                       store_->reclaim_dead_sellers(kT0 + 60 * kSecond, 30 * kSecond));
  EXPECT_EQ(returned, 8u);  // 1, 3, 4, 6..10
  EXPECT_TRUE(store_->seller_leases("origin-a", kT0)->empty());
  EXPECT_EQ(store_->unleased_count(drop_id).value_or(0), 18u);
  EXPECT_EQ(store_->reclaim_dead_sellers(kT0 + 60 * kSecond, 30 * kSecond).value_or(99), 0u);
  std::vector<std::pair<uint32_t, uint32_t>> runs;
  for (;;) {
    Result<Lease> lease = store_->issue_lease(drop_id, "origin-b", 10, kT0 + 61 * kSecond);
    if (!lease) {
      EXPECT_EQ(lease.error().code(), Code::conflict) << lease.error().to_string();
      break;
    }
    runs.emplace_back(lease->first_serial, lease->last_serial);
  }
  std::vector<std::pair<uint32_t, uint32_t>> expected = {{1, 1}, {3, 4}, {6, 10}, {11, 20}};
  EXPECT_EQ(runs, expected);
}

TEST_P(StoreConformance, ReclaimNeverTakesEdgeLeasesOrLiveSellersLeases) {
  int64_t drop_id = make_drop("tape", 30);
  const int64_t hour_later = kT0 + 3600 * kSecond;
  add_seller("edge-1", SellerKind::edge);
  add_seller("origin-live", SellerKind::origin, "", hour_later);
  ASSERT_OK(store_->issue_lease(drop_id, "edge-1", 10, kT0));
  ASSERT_OK(store_->issue_lease(drop_id, "origin-live", 10, kT0));
  add_seller("edge-2", SellerKind::edge, "slot-edge-1");  // even a superseded edge keeps its lease
  // The edge has been silent for an hour: its serials come back only when it
  // reconciles or an operator declares it lost (DESIGN.md rule 4).
  EXPECT_EQ(store_->reclaim_dead_sellers(hour_later, 30 * kSecond).value_or(99), 0u);
  EXPECT_EQ(store_->seller_leases("edge-1", kT0)->size(), 1u);
  EXPECT_EQ(store_->seller_leases("origin-live", kT0)->size(), 1u);
  EXPECT_EQ(store_->unleased_count(drop_id).value_or(0), 10u);
}

TEST_P(StoreConformance, ReclaimSparesSellersWithARecentHeartbeat) {
  int64_t drop_id = make_drop("tape", 30);
  add_seller("origin-1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 10, kT0));
  ASSERT_OK(store_->heartbeat("origin-1", kT0 + 50 * kSecond));
  EXPECT_EQ(store_->reclaim_dead_sellers(kT0 + 60 * kSecond, 30 * kSecond).value_or(99), 0u);
  // A heartbeat never moves backwards, so a late, stale one cannot kill the seller.
  ASSERT_OK(store_->heartbeat("origin-1", kT0 + 1 * kSecond));
  EXPECT_EQ(store_->reclaim_dead_sellers(kT0 + 60 * kSecond, 30 * kSecond).value_or(99), 0u);
  EXPECT_EQ(store_->seller_leases("origin-1", kT0)->size(), 1u);
  EXPECT_CODE(store_->heartbeat("nobody", kT0), Code::not_found);
  EXPECT_CODE(store_->reclaim_dead_sellers(kT0, -1), Code::invalid_argument);
}

TEST_P(StoreConformance, AnOlderRegistrationOfTheSameInstanceIsDeadAtOnce) {
  int64_t drop_id = make_drop("tape", 30);
  add_seller("origin-old", SellerKind::origin, "host-a:1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-old", 5, kT0));
  add_seller("origin-new", SellerKind::origin, "host-a:1");  // the process restarted
  ASSERT_OK_AND_ASSIGN(uint32_t returned, store_->reclaim_dead_sellers(kT0, 3600 * kSecond));
  EXPECT_EQ(returned, 5u);
  EXPECT_CODE(store_->heartbeat("origin-old", kT0), Code::conflict);
  EXPECT_CODE(store_->issue_lease(drop_id, "origin-old", 5, kT0), Code::conflict);
  EXPECT_OK(store_->heartbeat("origin-new", kT0));
  ASSERT_OK_AND_ASSIGN(Lease again, store_->issue_lease(drop_id, "origin-new", 10, kT0));
  EXPECT_EQ(std::pair(again.first_serial, again.last_serial), std::pair(1u, 5u));
  // Re-registering the old id makes it current again, and the other one dead.
  add_seller("origin-old", SellerKind::origin, "host-a:1");
  EXPECT_OK(store_->heartbeat("origin-old", kT0));
  EXPECT_CODE(store_->heartbeat("origin-new", kT0), Code::conflict);
}

TEST_P(StoreConformance, RegisterSellerRefusesAChangeOfKind) {
  add_seller("seller-1", SellerKind::edge);
  EXPECT_CODE(store_->register_seller("seller-1", SellerKind::origin, "x", kT0), Code::conflict);
  EXPECT_OK(store_->register_seller("seller-1", SellerKind::edge, "y", kT0));
  EXPECT_CODE(store_->register_seller("", SellerKind::edge, "y", kT0), Code::invalid_argument);
}

TEST_P(StoreConformance, ReclaimLeavesALeaseWithAnUnexpiredHoldForALaterPass) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 5, kT0));
  ASSERT_OK_AND_ASSIGN(Hold hold, store_->create_hold(drop_id, 3, "alice", "origin-1",
                                                      kT0 + 100 * kSecond, kT0, kAnyLimit));
  EXPECT_EQ(store_->reclaim_dead_sellers(kT0 + 50 * kSecond, 10 * kSecond).value_or(99), 0u);
  EXPECT_EQ(store_->seller_leases("origin-1", kT0 + 50 * kSecond)->size(), 1u);
  // The buyer may still pay while the seller is dead: the hold is confirmable.
  ClaimInsert confirm = claim(drop_id, 3, "alice");
  confirm.from_hold_id = hold.id;
  confirm.at_ms = kT0 + 60 * kSecond;
  ASSERT_OK(store_->record_claims({confirm})[0]);
  ASSERT_OK_AND_ASSIGN(uint32_t returned,
                       store_->reclaim_dead_sellers(kT0 + 70 * kSecond, 10 * kSecond));
  EXPECT_EQ(returned, 4u);  // 1, 2, 4, 5: serial 3 was sold
}

TEST_P(StoreConformance, ReclaimAfterTheHoldExpiredReturnsTheHeldSerialToo) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 5, kT0));
  ASSERT_OK_AND_ASSIGN(Hold hold, store_->create_hold(drop_id, 3, "alice", "origin-1",
                                                      kT0 + 100 * kSecond, kT0, kAnyLimit));
  EXPECT_EQ(store_->reclaim_dead_sellers(kT0 + 200 * kSecond, 10 * kSecond).value_or(99), 5u);
  EXPECT_CODE(store_->get_hold(hold.id), Code::not_found);
}

TEST_P(StoreConformance, ReleaseLeasesGivesBackWhatALiveSellerDidNotSell) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 10, kT0));
  ASSERT_OK(store_->record_claims({claim(drop_id, 1, "alice")})[0]);
  ASSERT_OK_AND_ASSIGN(uint32_t returned, store_->release_leases("origin-1", kT0));
  EXPECT_EQ(returned, 9u);
  EXPECT_TRUE(store_->seller_leases("origin-1", kT0)->empty());
  EXPECT_EQ(store_->unleased_count(drop_id).value_or(0), 9u);
  EXPECT_CODE(store_->release_leases("nobody", kT0), Code::not_found);
}

TEST_P(StoreConformance, SellerLeasesListWhatIsStillSellable) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 5, kT0));  // 1..5
  ASSERT_OK(store_->record_claims({claim(drop_id, 2, "alice")})[0]);
  ASSERT_OK(
      store_->create_hold(drop_id, 4, "bob", "origin-1", kT0 + 100 * kSecond, kT0, kAnyLimit));
  ASSERT_OK(
      store_->create_hold(drop_id, 5, "carol", "origin-1", kT0 + 10 * kSecond, kT0, kAnyLimit));
  ASSERT_OK_AND_ASSIGN(std::vector<Store::LeaseState> states,
                       store_->seller_leases("origin-1", kT0 + 50 * kSecond));
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].lease.first_serial, 1u);
  EXPECT_EQ(states[0].available_serials, (std::vector<uint32_t>{1, 3, 5}));
  EXPECT_TRUE(store_->seller_leases("nobody", kT0)->empty());
}

// --- Holds.

TEST_P(StoreConformance, HoldsNeedTheSellersLeaseAndAFreeSerial) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  add_seller("origin-2");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 5, kT0));  // 1..5
  ASSERT_OK(store_->issue_lease(drop_id, "origin-2", 5, kT0));  // 6..10
  int64_t until = kT0 + 60 * kSecond;
  EXPECT_CODE(store_->create_hold(drop_id, 6, "a", "origin-1", until, kT0, kAnyLimit),
              Code::conflict);
  ASSERT_OK_AND_ASSIGN(Hold hold,
                       store_->create_hold(drop_id, 2, "a", "origin-1", until, kT0, kAnyLimit));
  EXPECT_EQ(hold.drop_id, drop_id);
  EXPECT_EQ(hold.serial, 2u);
  EXPECT_EQ(hold.account, "a");
  EXPECT_EQ(hold.seller_id, "origin-1");
  EXPECT_EQ(hold.expires_at_ms, until);
  ASSERT_OK_AND_ASSIGN(Hold fetched, store_->get_hold(hold.id));
  EXPECT_EQ(fetched.serial, 2u);
  EXPECT_CODE(store_->create_hold(drop_id, 2, "b", "origin-1", until, kT0, kAnyLimit),
              Code::conflict);
  ASSERT_OK(store_->record_claims({claim(drop_id, 3, "c")})[0]);
  EXPECT_CODE(store_->create_hold(drop_id, 3, "b", "origin-1", until, kT0, kAnyLimit),
              Code::conflict);
  EXPECT_CODE(store_->create_hold(drop_id, 4, "b", "origin-1", kT0, kT0, kAnyLimit),
              Code::invalid_argument);
  // Once expired, a hold is replaced by the next one.
  ASSERT_OK_AND_ASSIGN(Hold next, store_->create_hold(drop_id, 2, "b", "origin-1",
                                                      until + 60 * kSecond, until, kAnyLimit));
  EXPECT_NE(next.id, hold.id);
  EXPECT_CODE(store_->get_hold(hold.id), Code::not_found);
  EXPECT_CODE(store_->get_hold(next.id + 100), Code::not_found);
}

TEST_P(StoreConformance, ExpireHoldsDeletesAndReturnsExpiredHolds) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-a");
  add_seller("origin-b");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-a", 5, kT0));
  ASSERT_OK(store_->issue_lease(drop_id, "origin-b", 5, kT0));
  ASSERT_OK_AND_ASSIGN(Hold a1,
                       store_->create_hold(drop_id, 1, "x", "origin-a", kT0 + 10, kT0, kAnyLimit));
  ASSERT_OK_AND_ASSIGN(Hold a2,
                       store_->create_hold(drop_id, 2, "y", "origin-a", kT0 + 20, kT0, kAnyLimit));
  ASSERT_OK_AND_ASSIGN(Hold b1,
                       store_->create_hold(drop_id, 6, "z", "origin-b", kT0 + 10, kT0, kAnyLimit));
  ASSERT_OK_AND_ASSIGN(std::vector<Hold> expired, store_->expire_holds("origin-a", kT0 + 15));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].id, a1.id);
  EXPECT_EQ(expired[0].serial, 1u);
  EXPECT_CODE(store_->get_hold(a1.id), Code::not_found);
  ASSERT_OK_AND_ASSIGN(expired, store_->expire_holds("", kT0 + 20));  // at or before now
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].id, a2.id);
  EXPECT_EQ(expired[1].id, b1.id);
  EXPECT_TRUE(store_->expire_holds("", kT0 + 1000)->empty());
}

// --- Claims.

TEST_P(StoreConformance, OneFailingClaimDoesNotAffectTheOthersInItsBatch) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 10, kT0));
  ASSERT_OK_AND_ASSIGN(Hold expired_hold, store_->create_hold(drop_id, 3, "alice", "origin-1", kT0,
                                                              kT0 - 1, kAnyLimit));
  ASSERT_OK_AND_ASSIGN(Hold bobs_hold, store_->create_hold(drop_id, 4, "bob", "origin-1",
                                                           kT0 + kSecond, kT0, kAnyLimit));
  ASSERT_OK_AND_ASSIGN(Hold carols_hold, store_->create_hold(drop_id, 5, "carol", "origin-1",
                                                             kT0 + kSecond, kT0, kAnyLimit));
  std::vector<ClaimInsert> batch;
  batch.push_back(claim(drop_id, 1, "alice"));  // 0: ok, with its record and events
  batch[0].per_buyer_limit = 1;
  batch[0].idempotency = IdempotencyRecord{"account:alice", "idem-1", "rs", 201, "{}", kT0};
  batch[0].events = {event("claim", drop_id, "claim:1"), event("cert.issued", drop_id)};
  batch.push_back(claim(drop_id, 1, "bob"));    // 1: serial taken
  batch.push_back(claim(drop_id, 2, "alice"));  // 2: alice is at her limit of 1
  batch[2].per_buyer_limit = 1;
  batch[2].events = {event("claim", drop_id, "claim:2")};
  batch.push_back(claim(drop_id, 3, "alice"));  // 3: the hold expired (at kT0 == at_ms)
  batch[3].from_hold_id = expired_hold.id;
  batch.push_back(claim(drop_id, 4, "mallory"));  // 4: someone else's hold
  batch[4].from_hold_id = bobs_hold.id;
  batch.push_back(claim(drop_id, 5, "carol"));  // 5: confirms her hold
  batch[5].from_hold_id = carols_hold.id;
  batch.push_back(claim(drop_id, 11, "dave"));       // 6: outside the edition
  batch.push_back(claim(drop_id + 100, 1, "dave"));  // 7: no such drop
  batch.push_back(claim(drop_id, 6, "erin"));        // 8: reuses alice's idempotency key
  batch[8].idempotency = IdempotencyRecord{"account:alice", "idem-1", "rs", 201, "{}", kT0};
  batch[8].events = {event("claim", drop_id, "claim:6")};
  batch.push_back(claim(drop_id, 7, "frank"));  // 9: ok
  std::vector<Result<Claim>> results = store_->record_claims(batch);
  ASSERT_EQ(results.size(), batch.size());
  std::vector<Code> codes;
  for (const auto& result : results) codes.push_back(testing::code_of(result));
  std::vector<Code> expected = {
      Code::ok, Code::conflict,         Code::limit_exceeded, Code::conflict, Code::conflict,
      Code::ok, Code::invalid_argument, Code::not_found,      Code::conflict, Code::ok};
  EXPECT_EQ(codes, expected);

  ASSERT_TRUE(results[0].has_value());
  EXPECT_EQ(results[0]->account, "alice");
  EXPECT_EQ(results[0]->source, ClaimSource::payment);
  EXPECT_EQ(results[0]->cert_id, batch[0].cert_id);
  EXPECT_EQ(store_->get_claim(drop_id, 1)->account, "alice");
  EXPECT_CODE(store_->get_claim(drop_id, 2), Code::not_found);
  EXPECT_CODE(store_->get_claim(drop_id, 6), Code::not_found);
  EXPECT_EQ(store_->get_claim(drop_id, 5)->account, "carol");
  EXPECT_OK(store_->get_idempotency("account:alice", "idem-1"));
  // Only the events of claims that stuck were stored.
  EXPECT_EQ(store_->count_events(drop_id, "claim").value_or(0), 1u);
  EXPECT_EQ(store_->count_events(drop_id, "cert.issued").value_or(0), 1u);
  EXPECT_EQ(store_->account_claim_count(drop_id, "alice").value_or(99), 1u);
  EXPECT_EQ(store_->account_claim_count(drop_id, "erin").value_or(99), 0u);
  // Refused confirmations leave their holds in place; the confirmed one is used up.
  EXPECT_OK(store_->get_hold(expired_hold.id));
  EXPECT_OK(store_->get_hold(bobs_hold.id));
  EXPECT_CODE(store_->get_hold(carols_hold.id), Code::not_found);
  EXPECT_EQ(store_->claim_count(drop_id).value_or(0), 3u);
}

TEST_P(StoreConformance, AHoldCannotBeConfirmedOnceItExpired) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 5, kT0));
  ASSERT_OK_AND_ASSIGN(Hold hold, store_->create_hold(drop_id, 1, "alice", "origin-1",
                                                      kT0 + 10 * kSecond, kT0, kAnyLimit));
  ClaimInsert late = claim(drop_id, 1, "alice");
  late.from_hold_id = hold.id;
  late.at_ms = kT0 + 10 * kSecond;
  EXPECT_CODE(store_->record_claims({late})[0], Code::conflict);
  ClaimInsert in_time = late;
  in_time.at_ms = kT0 + 10 * kSecond - 1;
  ASSERT_OK(store_->record_claims({in_time})[0]);
  EXPECT_CODE(store_->record_claims({in_time})[0], Code::conflict);  // hold used up
}

TEST_P(StoreConformance, AHeldSerialCannotBeClaimedWithoutItsHold) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 5, kT0));
  ASSERT_OK(
      store_->create_hold(drop_id, 1, "alice", "origin-1", kT0 + 10 * kSecond, kT0, kAnyLimit));
  EXPECT_CODE(store_->record_claims({claim(drop_id, 1, "bob")})[0], Code::conflict);
  ClaimInsert after_expiry = claim(drop_id, 1, "bob");
  after_expiry.at_ms = kT0 + 10 * kSecond;
  EXPECT_OK(store_->record_claims({after_expiry})[0]);
}

TEST_P(StoreConformance, AClaimNamingASellerNeedsThatSellersLease) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  add_seller("origin-2");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 5, kT0));
  ClaimInsert insert = claim(drop_id, 7, "alice");
  insert.seller_id = "origin-1";
  EXPECT_CODE(store_->record_claims({insert})[0], Code::conflict);  // not leased at all
  insert.serial = 3;
  insert.seller_id = "origin-2";
  EXPECT_CODE(store_->record_claims({insert})[0], Code::conflict);  // someone else's lease
  insert.seller_id = "origin-1";
  EXPECT_OK(store_->record_claims({insert})[0]);
}

TEST_P(StoreConformance, ThePerBuyerLimitCountsUnrevokedClaims) {
  int64_t drop_id = make_drop("tape", 10);
  auto limited = [&](uint32_t serial) {
    ClaimInsert insert = claim(drop_id, serial, "alice");
    insert.per_buyer_limit = 2;
    return insert;
  };
  EXPECT_OK(store_->record_claims({limited(1)})[0]);
  EXPECT_OK(store_->record_claims({limited(2)})[0]);
  EXPECT_CODE(store_->record_claims({limited(3)})[0], Code::limit_exceeded);
  EXPECT_EQ(store_->account_claim_count(drop_id, "alice").value_or(0), 2u);
  ASSERT_OK(store_->revoke_claim(drop_id, 1, "refund", kT0));
  EXPECT_EQ(store_->account_claim_count(drop_id, "alice").value_or(0), 1u);
  EXPECT_OK(store_->record_claims({limited(3)})[0]);
  EXPECT_EQ(store_->claim_count(drop_id).value_or(0), 3u);  // the revoked one still counts here
  ClaimInsert none_allowed = claim(drop_id, 4, "bob");
  none_allowed.per_buyer_limit = 0;
  EXPECT_CODE(store_->record_claims({none_allowed})[0], Code::limit_exceeded);
}

// An account's live holds take up its per-buyer limit as claims do, so one
// account cannot hold the whole edition; a confirmed hold counts once, and an
// expired hold no longer counts.
TEST_P(StoreConformance, HoldsCountTowardThePerBuyerLimit) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 10, kT0));
  int64_t until = kT0 + 60 * kSecond;
  ASSERT_OK_AND_ASSIGN(Hold held,
                       store_->create_hold(drop_id, 1, "alice", "origin-1", until, kT0, 1));
  EXPECT_CODE(store_->create_hold(drop_id, 2, "alice", "origin-1", until, kT0, 1),
              Code::limit_exceeded);
  EXPECT_OK(store_->create_hold(drop_id, 2, "bob", "origin-1", until, kT0, 1));
  EXPECT_EQ(store_->live_hold_count(drop_id, kT0).value_or(0), 2u);
  // A claim beside the hold would make two.
  ClaimInsert beside = claim(drop_id, 3, "alice");
  beside.per_buyer_limit = 1;
  EXPECT_CODE(store_->record_claims({beside})[0], Code::limit_exceeded);
  // Confirming the hold is the one allowed: it counts once.
  ClaimInsert confirm = claim(drop_id, 1, "alice");
  confirm.per_buyer_limit = 1;
  confirm.from_hold_id = held.id;
  EXPECT_OK(store_->record_claims({confirm})[0]);
  EXPECT_EQ(store_->account_claim_count(drop_id, "alice").value_or(0), 1u);
  EXPECT_CODE(store_->create_hold(drop_id, 4, "alice", "origin-1", until, kT0, 1),
              Code::limit_exceeded);
  // With a limit of 2, a hold that expired does not count.
  EXPECT_OK(store_->create_hold(drop_id, 5, "carol", "origin-1", kT0 + kSecond, kT0, 2));
  EXPECT_OK(store_->create_hold(drop_id, 6, "carol", "origin-1", kT0 + kSecond, kT0, 2));
  EXPECT_CODE(store_->create_hold(drop_id, 7, "carol", "origin-1", until, kT0, 2),
              Code::limit_exceeded);
  EXPECT_OK(store_->create_hold(drop_id, 7, "carol", "origin-1", until, kT0 + kSecond, 2));
  EXPECT_EQ(store_->live_hold_count(drop_id, kT0 + kSecond).value_or(0), 2u);  // bob's, carol's
  EXPECT_EQ(store_->live_hold_count(drop_id + 100, kT0).value_or(99), 0u);
}

// A batch of claims written together must count a buyer's live holds too:
// alice's hold fills her limit, so her claim in the batch is refused while
// bob's claim beside it goes through.
TEST_P(StoreConformance, AClaimInABatchCountsItsBuyersLiveHolds) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 10, kT0));
  ASSERT_OK(store_->create_hold(drop_id, 1, "alice", "origin-1", kT0 + 60 * kSecond, kT0, 1));
  ClaimInsert alices = claim(drop_id, 2, "alice");
  ClaimInsert bobs = claim(drop_id, 3, "bob");
  alices.per_buyer_limit = bobs.per_buyer_limit = 1;
  std::vector<Result<Claim>> results = store_->record_claims({alices, bobs});
  EXPECT_CODE(results[0], Code::limit_exceeded);
  EXPECT_OK(results[1]);
  EXPECT_EQ(store_->claim_count(drop_id).value_or(0), 1u);
}

// A batch whose check fails after its rows were already sent (PostgreSQL
// sends the checks and the writes in one flight) must leave none of those
// rows: bob's serial is held by alice, so the batch is undone and written
// claim by claim — bob refused with no claim, counter, record or event left
// behind, carol's claim beside it kept whole.
TEST_P(StoreConformance, ABatchRefusedByItsChecksLeavesNoneOfItsRows) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 10, kT0));
  ASSERT_OK(store_->create_hold(drop_id, 1, "alice", "origin-1", kT0 + 60 * kSecond, kT0, 1));
  ClaimInsert bobs = claim(drop_id, 1, "bob");
  bobs.idempotency = IdempotencyRecord{"account:bob", "idem-b", "rs", 201, "{}", kT0};
  bobs.events = {event("claim", drop_id, "claim:1")};
  ClaimInsert carols = claim(drop_id, 2, "carol");
  carols.idempotency = IdempotencyRecord{"account:carol", "idem-c", "rs", 201, "{}", kT0};
  carols.events = {event("claim", drop_id, "claim:2")};
  std::vector<Result<Claim>> results = store_->record_claims({bobs, carols});
  EXPECT_CODE(results[0], Code::conflict);
  EXPECT_OK(results[1]);
  EXPECT_CODE(store_->get_claim(drop_id, 1), Code::not_found);
  EXPECT_EQ(store_->get_claim(drop_id, 2)->account, "carol");
  EXPECT_EQ(store_->account_claim_count(drop_id, "bob").value_or(99), 0u);
  EXPECT_EQ(store_->account_claim_count(drop_id, "carol").value_or(99), 1u);
  EXPECT_CODE(store_->get_idempotency("account:bob", "idem-b"), Code::not_found);
  EXPECT_OK(store_->get_idempotency("account:carol", "idem-c"));
  EXPECT_EQ(store_->count_events(drop_id, "claim").value_or(0), 1u);
}

// A batch whose write fails in the database (bob's serial is already
// claimed: a unique violation, after which PostgreSQL skips the rest of the
// flight) is undone and written claim by claim, and the connection it ran on
// serves the next batch.
TEST_P(StoreConformance, ABatchWithATakenSerialIsWrittenClaimByClaim) {
  int64_t drop_id = make_drop("tape", 10);
  ASSERT_OK(store_->record_claims({claim(drop_id, 1, "alice")})[0]);
  std::vector<Result<Claim>> results =
      store_->record_claims({claim(drop_id, 1, "bob"), claim(drop_id, 2, "carol")});
  EXPECT_CODE(results[0], Code::conflict);
  EXPECT_OK(results[1]);
  EXPECT_EQ(store_->account_claim_count(drop_id, "bob").value_or(99), 0u);
  results = store_->record_claims({claim(drop_id, 3, "dave"), claim(drop_id, 4, "erin")});
  EXPECT_OK(results[0]);
  EXPECT_OK(results[1]);
  EXPECT_EQ(store_->claim_count(drop_id).value_or(0), 4u);
}

TEST_P(StoreConformance, ClaimsAreListedBySerialWithEveryField) {
  int64_t drop_id = make_drop("tape", 10);
  ClaimInsert second = claim(drop_id, 9, "bob");
  second.source = ClaimSource::operator_grant;
  second.payment_ref = "";
  ASSERT_OK(store_->record_claims({second, claim(drop_id, 4, "alice")})[0]);
  ASSERT_OK_AND_ASSIGN(std::vector<Claim> claims, store_->list_claims(drop_id));
  ASSERT_EQ(claims.size(), 2u);
  EXPECT_EQ(claims[0].serial, 4u);
  EXPECT_EQ(claims[1].serial, 9u);
  EXPECT_EQ(claims[1].source, ClaimSource::operator_grant);
  EXPECT_EQ(claims[1].payment_ref, "");
  EXPECT_EQ(claims[1].cert_token, second.cert_token);
  EXPECT_EQ(claims[1].claimed_at_ms, kT0);
  EXPECT_FALSE(claims[1].revoked_at_ms.has_value());
  EXPECT_EQ(store_->claim_count(drop_id).value_or(0), 2u);
  EXPECT_TRUE(store_->list_claims(drop_id + 100)->empty());
  EXPECT_CODE(store_->record_claims(std::vector<ClaimInsert>(limits::claims_batch_count_max + 1,
                                                             claim(drop_id, 1, "x")))[0],
              Code::invalid_argument);
  EXPECT_TRUE(store_->record_claims({}).empty());
}

TEST_P(StoreConformance, RevokingTwiceReturnsTheFirstRevocation) {
  int64_t drop_id = make_drop("tape", 10);
  ASSERT_OK(store_->record_claims({claim(drop_id, 1, "alice")})[0]);
  ASSERT_OK_AND_ASSIGN(Revocation first, store_->revoke_claim(drop_id, 1, "refund", kT0 + 5));
  EXPECT_EQ(first.cert_id, "cert-" + std::to_string(drop_id) + "-1");
  EXPECT_EQ(first.drop_id, drop_id);
  EXPECT_EQ(first.serial, 1u);
  EXPECT_EQ(first.revoked_at_ms, kT0 + 5);
  EXPECT_EQ(first.reason, "refund");
  ASSERT_OK_AND_ASSIGN(Revocation again, store_->revoke_claim(drop_id, 1, "other", kT0 + 9));
  EXPECT_EQ(again.revoked_at_ms, kT0 + 5);
  EXPECT_EQ(again.reason, "refund");
  EXPECT_EQ(store_->list_revocations()->size(), 1u);
  EXPECT_EQ(store_->get_claim(drop_id, 1)->revoked_at_ms, std::optional<int64_t>(kT0 + 5));
  EXPECT_EQ(store_->account_claim_count(drop_id, "alice").value_or(99), 0u);
  EXPECT_CODE(store_->revoke_claim(drop_id, 2, "refund", kT0), Code::not_found);
  // The serial stays sold: revocation withdraws the certificate, not the sale.
  EXPECT_CODE(store_->record_claims({claim(drop_id, 1, "bob")})[0], Code::conflict);
}

TEST_P(StoreConformance, EventsOfClaimsAreDedupedAgainstLaterAppends) {
  int64_t drop_id = make_drop("tape", 10);
  ClaimInsert insert = claim(drop_id, 1, "alice");
  insert.events = {event("claim", drop_id, "sale:edge-1:1")};
  ASSERT_OK(store_->record_claims({insert})[0]);
  EXPECT_EQ(store_->append_events({event("claim", drop_id, "sale:edge-1:1")}).value_or(99), 0u);
  EXPECT_EQ(store_->count_events(drop_id, "claim").value_or(0), 1u);
}

// --- The sticky error.

TEST_P(StoreConformance, AfterAFailedCommitEveryWriteIsRefused) {
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  database_->arm_commit_failure();
  EXPECT_CODE(store_->add_api_key("k1", "laptop", kT0), Code::unavailable);
  EXPECT_FALSE(store_->api_key_exists("k1").value_or(true));  // it was not committed
  EXPECT_CODE(store_->create_drop(drop_spec("another", 5), kT0), Code::unavailable);
  EXPECT_CODE(store_->issue_lease(drop_id, "origin-1", 5, kT0), Code::unavailable);
  EXPECT_CODE(store_->record_claims({claim(drop_id, 1, "alice")})[0], Code::unavailable);
  EXPECT_CODE(store_->append_events({event("x", drop_id)}), Code::unavailable);
  EXPECT_CODE(store_->migrate(), Code::unavailable);
  // Reads still work, and a restarted store writes again.
  EXPECT_OK(store_->get_drop("tape"));
  std::unique_ptr<Store> restarted = open();
  ASSERT_NE(restarted, nullptr);
  EXPECT_OK(restarted->create_drop(drop_spec("another", 5), kT0));
}

// --- Concurrency: several threads and two stores ("processes") on one database.

TEST_P(StoreConformance, ConcurrentLeasesPartitionTheEditionExactlyOnce) {
  constexpr uint32_t kEdition = 500;
  constexpr int kThreads = 8;
  int64_t drop_id = make_drop("tape", kEdition);
  std::unique_ptr<Store> second_process = open();
  ASSERT_NE(second_process, nullptr);
  for (int t = 0; t < kThreads; ++t) add_seller("origin-" + std::to_string(t));
  std::vector<std::vector<Lease>> leases(kThreads);
  std::vector<Status> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? *store_ : *second_process;
      std::string seller = "origin-" + std::to_string(t);
      for (uint32_t i = 0;; ++i) {
        Result<Lease> lease = store.issue_lease(drop_id, seller, 1 + (i + t) % 7, kT0);
        if (!lease) {
          if (lease.error().code() != Code::conflict) failures[t] = lease.error();
          return;
        }
        leases[t].push_back(*lease);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::vector<int> owners(kEdition + 1, 0);
  size_t lease_count = 0;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_OK(failures[t]);
    lease_count += leases[t].size();
    for (const Lease& lease : leases[t]) {
      for (uint32_t serial : serials_of(lease)) owners[serial]++;
    }
  }
  for (uint32_t serial = 1; serial <= kEdition; ++serial) {
    EXPECT_EQ(owners[serial], 1) << "serial " << serial;
  }
  EXPECT_GT(lease_count, kEdition / 7);
  EXPECT_CODE(store_->issue_lease(drop_id, "origin-0", 1, kT0), Code::conflict);
  EXPECT_CODE(second_process->issue_lease(drop_id, "origin-1", 1, kT0), Code::conflict);
}

// Records `serials` as claims for `account` in batches, retrying transient
// failures; returns the serials it got.
std::vector<uint32_t> claim_all(Store& store, int64_t drop_id, const std::string& account,
                                std::vector<uint32_t> serials, uint32_t per_buyer_limit,
                                size_t batch_size, Status* failure) {
  std::vector<uint32_t> won;
  for (size_t begin = 0; begin < serials.size(); begin += batch_size) {
    std::vector<ClaimInsert> batch;
    for (size_t i = begin; i < std::min(serials.size(), begin + batch_size); ++i) {
      batch.push_back(claim(drop_id, serials[i], account));
      batch.back().cert_id = account + "-" + std::to_string(serials[i]);
      batch.back().per_buyer_limit = per_buyer_limit;
    }
    for (int attempt = 0; attempt < 20 && !batch.empty(); ++attempt) {
      std::vector<Result<Claim>> results = store.record_claims(batch);
      std::vector<ClaimInsert> retry;
      for (size_t i = 0; i < results.size(); ++i) {
        if (results[i]) {
          won.push_back(results[i]->serial);
        } else if (results[i].error().code() == Code::unavailable) {
          retry.push_back(batch[i]);  // transient: a deadlock victim or a busy pool
        } else if (results[i].error().code() != Code::conflict &&
                   results[i].error().code() != Code::limit_exceeded) {
          *failure = results[i].error();
        }
      }
      batch = std::move(retry);
    }
    if (!batch.empty()) *failure = Status(Code::unavailable, "retries exhausted");
  }
  return won;
}

TEST_P(StoreConformance, ConcurrentClaimsOnOverlappingSerialsSellEachSerialOnce) {
  constexpr uint32_t kEdition = 120;
  constexpr int kThreads = 8;
  int64_t drop_id = make_drop("tape", kEdition);
  std::unique_ptr<Store> second_process = open();
  ASSERT_NE(second_process, nullptr);
  std::vector<std::vector<uint32_t>> won(kThreads);
  std::vector<Status> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint32_t> serials(kEdition);
      std::iota(serials.begin(), serials.end(), 1);
      std::shuffle(serials.begin(), serials.end(), std::mt19937(t));
      Store& store = t % 2 == 0 ? *store_ : *second_process;
      won[t] = claim_all(store, drop_id, "buyer-" + std::to_string(t), serials, kEdition, 8,
                         &failures[t]);
    });
  }
  for (auto& thread : threads) thread.join();
  std::map<uint32_t, int> sold;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_OK(failures[t]);
    for (uint32_t serial : won[t]) sold[serial]++;
  }
  ASSERT_EQ(sold.size(), kEdition);
  for (const auto& [serial, count] : sold) EXPECT_EQ(count, 1) << "serial " << serial;
  EXPECT_EQ(store_->claim_count(drop_id).value_or(0), kEdition);
  // The stored owner of each serial is the buyer whose call was told it won.
  std::map<uint32_t, std::string> winners;
  for (int t = 0; t < kThreads; ++t) {
    for (uint32_t serial : won[t]) winners[serial] = "buyer-" + std::to_string(t);
  }
  ASSERT_OK_AND_ASSIGN(std::vector<Claim> claims, store_->list_claims(drop_id));
  ASSERT_EQ(claims.size(), kEdition);
  for (const Claim& stored : claims) EXPECT_EQ(stored.account, winners[stored.serial]);
}

TEST_P(StoreConformance, ConcurrentClaimsOfOneBuyerStopAtTheLimit) {
  constexpr int kThreads = 8;
  constexpr uint32_t kLimit = 3;
  int64_t drop_id = make_drop("tape", 100);
  std::atomic<int> granted{0};
  std::vector<Status> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint32_t> serials = {static_cast<uint32_t>(1 + 2 * t),
                                       static_cast<uint32_t>(2 + 2 * t)};
      granted += static_cast<int>(
          claim_all(*store_, drop_id, "alice", serials, kLimit, 1, &failures[t]).size());
    });
  }
  for (auto& thread : threads) thread.join();
  for (const Status& failure : failures) EXPECT_OK(failure);
  EXPECT_EQ(granted.load(), static_cast<int>(kLimit));
  EXPECT_EQ(store_->account_claim_count(drop_id, "alice").value_or(0), kLimit);
  EXPECT_EQ(store_->claim_count(drop_id).value_or(0), kLimit);
}

// Parallel holds and claims of one account, on different serials, stop at the
// per-buyer limit together: neither path may read the other's count stale.
TEST_P(StoreConformance, ConcurrentHoldsAndClaimsOfOneBuyerStopAtTheLimit) {
  constexpr int kThreads = 10;
  constexpr uint32_t kLimit = 3;
  int64_t drop_id = make_drop("tape", 20);
  add_seller("origin-1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 20, kT0));
  std::atomic<int> granted{0};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      uint32_t serial = static_cast<uint32_t>(1 + t);
      Status outcome;
      if (t % 2 == 0) {
        Result<Hold> hold = store_->create_hold(drop_id, serial, "alice", "origin-1",
                                                kT0 + 60 * kSecond, kT0, kLimit);
        if (!hold) outcome = hold.error();
      } else {
        ClaimInsert insert = claim(drop_id, serial, "alice");
        insert.per_buyer_limit = kLimit;
        Result<Claim> claimed = store_->record_claims({insert})[0];
        if (!claimed) outcome = claimed.error();
      }
      if (outcome.ok()) {
        granted++;
      } else if (outcome.code() != Code::limit_exceeded) {
        ADD_FAILURE() << outcome.to_string();
        unexpected++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(granted.load(), static_cast<int>(kLimit));
  EXPECT_EQ(store_->account_claim_count(drop_id, "alice").value_or(0) +
                store_->live_hold_count(drop_id, kT0).value_or(0),
            kLimit);
}

// Ten requests with one Idempotency-Key arrive at once: exactly one reserves
// the key and acts (here: takes a hold), the others see it in flight or, once
// answered, its answer.
TEST_P(StoreConformance, ConcurrentReservationsOfOneKeyLetExactlyOneAct) {
  constexpr int kThreads = 10;
  int64_t drop_id = make_drop("tape", 20);
  add_seller("origin-1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 20, kT0));
  std::atomic<int> reserved{0};
  std::atomic<int> in_flight{0};
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string owner = "request-" + std::to_string(t);
      IdempotencyRecord marker{"operator", "same-key", "req-sha", 0, "", kT0};
      Result<Store::IdempotencyReservation> reservation =
          store_->reserve_idempotency(marker, owner);
      if (!reservation) {
        ADD_FAILURE() << reservation.error().to_string();
        return;
      }
      switch (reservation->state) {
        case Store::IdempotencyState::reserved: {
          reserved++;
          Result<Hold> hold = store_->create_hold(drop_id, static_cast<uint32_t>(1 + t), "alice",
                                                  "origin-1", kT0 + 60 * kSecond, kT0, kAnyLimit);
          EXPECT_OK(hold);
          EXPECT_OK(
              store_->answer_idempotency("operator", "same-key", owner, 201, R"({"hold":1})"));
          break;
        }
        case Store::IdempotencyState::in_flight:
          EXPECT_EQ(reservation->record.response_status, 0u);
          EXPECT_EQ(reservation->record.request_sha256, "req-sha");
          in_flight++;
          break;
        case Store::IdempotencyState::answered:
          EXPECT_EQ(reservation->record.response_status, 201u);
          EXPECT_EQ(reservation->record.response_body, R"({"hold":1})");
          answered++;
          break;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(reserved.load(), 1);
  EXPECT_EQ(in_flight.load() + answered.load(), kThreads - 1);
  EXPECT_EQ(store_->live_hold_count(drop_id, kT0).value_or(0), 1u);
  ASSERT_OK_AND_ASSIGN(IdempotencyRecord stored, store_->get_idempotency("operator", "same-key"));
  EXPECT_EQ(stored.response_status, 201u);
}

TEST_P(StoreConformance, ConcurrentHoldsOnOneSerialGrantOne) {
  constexpr int kThreads = 8;
  int64_t drop_id = make_drop("tape", 10);
  add_seller("origin-1");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-1", 10, kT0));
  std::atomic<int> granted{0};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Result<Hold> hold = store_->create_hold(drop_id, 5, "buyer-" + std::to_string(t), "origin-1",
                                              kT0 + kSecond, kT0, kAnyLimit);
      if (hold) {
        granted++;
      } else if (hold.error().code() != Code::conflict) {
        unexpected++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(granted.load(), 1);
  EXPECT_EQ(unexpected.load(), 0);
}

TEST_P(StoreConformance, AfterASellerDiesItsUnsoldSerialsAreReclaimedAndLeasedAgain) {
  constexpr uint32_t kEdition = 200;
  constexpr int kThreads = 4;
  int64_t drop_id = make_drop("tape", kEdition);
  add_seller("origin-dying");
  // The dying seller takes 1..100 in leases of 10 and sells every third serial.
  std::set<uint32_t> unsold;
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK_AND_ASSIGN(Lease lease, store_->issue_lease(drop_id, "origin-dying", 10, kT0));
    for (uint32_t serial : serials_of(lease)) {
      if (serial % 3 != 0) {
        unsold.insert(serial);
        continue;
      }
      ClaimInsert insert = claim(drop_id, serial, "buyer-" + std::to_string(serial));
      insert.seller_id = "origin-dying";
      ASSERT_OK(store_->record_claims({insert})[0]);
    }
  }
  const int64_t later = kT0 + 60 * kSecond;
  for (int t = 0; t < kThreads; ++t) {
    add_seller("origin-" + std::to_string(t), SellerKind::origin, "", later);
  }
  ASSERT_OK_AND_ASSIGN(uint32_t returned, store_->reclaim_dead_sellers(later, 30 * kSecond));
  EXPECT_EQ(returned, unsold.size());
  // Live sellers now lease everything left, concurrently.
  std::vector<std::vector<Lease>> leases(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (;;) {
        Result<Lease> lease = store_->issue_lease(drop_id, "origin-" + std::to_string(t), 7, later);
        if (!lease) return;
        leases[t].push_back(*lease);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::multiset<uint32_t> leased;
  for (const auto& per_thread : leases) {
    for (const Lease& lease : per_thread) {
      for (uint32_t serial : serials_of(lease)) leased.insert(serial);
    }
  }
  std::multiset<uint32_t> expected(unsold.begin(), unsold.end());
  for (uint32_t serial = 101; serial <= kEdition; ++serial) expected.insert(serial);
  EXPECT_EQ(leased, expected);
}

TEST_P(StoreConformance, AReclaimRacingSellerCheckedClaimsNeverFreesASoldSerial) {
  constexpr uint32_t kEdition = 150;
  int64_t drop_id = make_drop("tape", kEdition);
  add_seller("origin-slow");
  ASSERT_OK(store_->issue_lease(drop_id, "origin-slow", kEdition, kT0));
  add_seller("origin-next", SellerKind::origin, "", kT0 + 60 * kSecond);
  std::set<uint32_t> sold;
  std::atomic<uint32_t> attempts{0};
  std::thread seller([&] {
    // Believes itself alive and sells one serial at a time from its lease;
    // once reclaimed, each claim must be refused, none may slip through.
    for (uint32_t serial = 1; serial <= kEdition; ++serial) {
      ClaimInsert insert = claim(drop_id, serial, "buyer-" + std::to_string(serial));
      insert.seller_id = "origin-slow";
      Result<Claim> result = store_->record_claims({insert})[0];
      if (result) {
        sold.insert(serial);
      } else {
        EXPECT_EQ(result.error().code(), Code::conflict) << result.error().to_string();
      }
      attempts++;
    }
  });
  while (attempts.load() < 20) std::this_thread::yield();  // reclaim mid-way through the sales
  Result<uint32_t> returned = store_->reclaim_dead_sellers(kT0 + 60 * kSecond, 30 * kSecond);
  seller.join();
  ASSERT_OK(returned);
  EXPECT_GE(sold.size(), 20u);
  EXPECT_EQ(sold.size() + *returned, kEdition);
  std::set<uint32_t> leased_again;
  for (;;) {
    Result<Lease> lease = store_->issue_lease(drop_id, "origin-next", 50, kT0 + 61 * kSecond);
    if (!lease) break;
    for (uint32_t serial : serials_of(*lease)) {
      EXPECT_FALSE(sold.contains(serial)) << "serial " << serial << " was sold and leased again";
      leased_again.insert(serial);
    }
  }
  EXPECT_EQ(leased_again.size(), *returned);
}

// PostgreSQL only (SQLite has no connection to lose): a connection the server
// dropped fails one call, and the pool replaces it on the next checkout.
TEST(PostgresStore, ABrokenConnectionIsReplacedOnTheNextCheckout) {
  std::unique_ptr<TestDatabase> database = testing::make_postgres_database();
  ASSERT_NE(database, nullptr);
  Result<std::unique_ptr<Store>> opened = database->open(1);
  ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
  Store& store = **opened;
  ASSERT_OK(store.migrate());
  ASSERT_OK(store.create_drop(drop_spec("tape", 10), kT0));
  database->exec_raw(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE application_name = 'dropgate' AND pid <> pg_backend_pid()");
  Result<Drop> during = store.get_drop("tape");
  ASSERT_FALSE(during.has_value());
  EXPECT_EQ(during.error().code(), Code::unavailable) << during.error().to_string();
  EXPECT_OK(store.get_drop("tape"));
  EXPECT_OK(store.create_drop(drop_spec("tape-2", 10), kT0));  // not sticky: no commit failed
}

// PostgreSQL only (SQLite keeps its foreign keys; schema.cc, version 4): a
// database left at version 3 by a release has a foreign key from claims and
// from buyer_claims to drops, checked by a trigger per inserted row; migrating
// it drops exactly those two (the other tables keep theirs), and the upgraded
// database still takes a batch of claims and still refuses a claim of a drop
// that does not exist.
TEST(PostgresStore, MigratingAVersion3DatabaseDropsOnlyTheForeignKeysOfClaimRows) {
  std::unique_ptr<TestDatabase> database = testing::make_postgres_database();
  ASSERT_NE(database, nullptr);
  database->exec_raw(
      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
      "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
  for (const Migration& migration : postgres_migrations()) {
    if (migration.version > 3) break;
    database->exec_raw(std::string(migration.sql));
    database->exec_raw("INSERT INTO schema_migrations (version, name) VALUES (" +
                       std::to_string(migration.version) + ", 'as released')");
  }
  auto foreign_keys_to_drops = [&](const std::string& table) {
    return database->query_raw(
        "SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE contype = 'f' "
        "AND confrelid = 'drops'::regclass AND conrelid = '" +
        table + "'::regclass");
  };
  ASSERT_EQ(foreign_keys_to_drops("claims"), "claims_drop_id_fkey");
  ASSERT_EQ(foreign_keys_to_drops("buyer_claims"), "buyer_claims_drop_id_fkey");

  Result<std::unique_ptr<Store>> opened = database->open(2);
  ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
  Store& store = **opened;
  ASSERT_OK(store.migrate());
  EXPECT_EQ(store.schema_version().value_or(-1), latest_schema_version());
  EXPECT_EQ(foreign_keys_to_drops("claims"), "");
  EXPECT_EQ(foreign_keys_to_drops("buyer_claims"), "");
  EXPECT_EQ(foreign_keys_to_drops("holds"), "holds_drop_id_fkey");
  EXPECT_EQ(foreign_keys_to_drops("leases"), "leases_drop_id_fkey");

  ASSERT_OK_AND_ASSIGN(Drop drop, store.create_drop(drop_spec("tape", 10), kT0));
  // Two claims of distinct buyers: the batch goes in together (multi-row inserts).
  std::vector<Result<Claim>> results =
      store.record_claims({claim(drop.id, 1, "alice"), claim(drop.id, 2, "bob")});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_OK(results[0]);
  EXPECT_OK(results[1]);
  // No foreign key: the store's own read of the drop refuses the unknown one.
  std::vector<Result<Claim>> unknown = store.record_claims({claim(drop.id + 100, 1, "carol")});
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_CODE(unknown[0], Code::not_found);
  EXPECT_EQ(store.claim_count(drop.id).value_or(0), 2u);
  EXPECT_EQ(store.account_claim_count(drop.id, "bob").value_or(0), 1u);
  EXPECT_EQ(database->query_raw("SELECT count(*) FROM buyer_claims"), "2");
}

std::vector<Backend> backends() {
  return {Backend{"sqlite", testing::make_sqlite_database},
          Backend{"postgres", testing::make_postgres_database}};
}

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::ValuesIn(backends()), backend_name);
INSTANTIATE_TEST_SUITE_P(Backends, StoreMigrationConformance, ::testing::ValuesIn(backends()),
                         backend_name);

}  // namespace
}  // namespace dg::store
