// The group committer against a real SQLite store: which claims go into one
// batch, how long a batch waits for announced claims, and what shutdown does.
//
// The store's record_claims sits behind a gate the test can shut, so a batch
// can be held "in the disk" while others queue, as during a slow fsync. The
// tests wait for state the committer shows (queued, lingering, stopping) or
// for answers; nothing here sleeps to let something happen. Waits are
// bounded only so that a bug fails a test instead of hanging it.
#include "origin/committer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "store/store.h"
#include "support/temp_dir.h"

namespace dg::origin {
namespace {

using namespace std::chrono_literals;
using Batch = std::set<uint32_t>;  // the serials of one batch; its order is the queue's

constexpr auto wait_max = 20s;  // generous: only a bug takes this long
// Longer than any test: a batch that waits this long waits for good. The
// tests end it sooner (stop(), or dropping the announcement) when they fail.
constexpr std::chrono::microseconds kLingerForever = 1h;
constexpr int64_t kT0 = 1'800'000'000'000;

// Polls `ready` until it holds or wait_max passes (polling, not pacing).
bool eventually(const std::function<bool()>& ready) {
  auto deadline = std::chrono::steady_clock::now() + wait_max;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// The real store's record_claims behind a gate. A batch that arrives while
// the gate is shut is recorded, then waits at the gate.
class GatedStore {
 public:
  explicit GatedStore(store::Store& store) : store_(store) {}

  ClaimCommitter::WriteBatch writer() {
    return [this](const std::vector<store::ClaimInsert>& inserts) { return write(inserts); };
  }
  void shut() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }
  // Waits until `count` batches have arrived (written, or waiting at the gate).
  bool arrived(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, wait_max, [&] { return batches_.size() >= count; });
  }
  std::vector<Batch> batches() {
    std::lock_guard lock(mutex_);
    return batches_;
  }

 private:
  std::vector<Result<store::Claim>> write(const std::vector<store::ClaimInsert>& inserts) {
    {
      std::unique_lock lock(mutex_);
      Batch serials;
      for (const auto& insert : inserts) serials.insert(insert.serial);
      batches_.push_back(std::move(serials));
      changed_.notify_all();
      changed_.wait(lock, [&] { return open_; });
    }
    return store_.record_claims(inserts);
  }

  store::Store& store_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = true;
  std::vector<Batch> batches_;
};

using dg::testing::TempDir;

class CommitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << "mkdtemp failed";
    auto opened = store::open_sqlite((dir_.path() / "store.db").string());
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->migrate().ok());
    store::DropSpec spec;
    spec.slug = "summer-tape";
    spec.title = "Summer Tape";
    spec.edition_size = 100;
    spec.opens_at_ms = kT0;
    spec.per_buyer_limit = 100;
    spec.rights.license = "CC-BY-NC-4.0";
    auto drop = store_->create_drop(spec, kT0);
    ASSERT_TRUE(drop.has_value()) << drop.error().to_string();
    drop_id_ = drop->id;
    gate_ = std::make_unique<GatedStore>(*store_);
  }

  // Whatever a test left waiting is released: the gate opens and the
  // committer writes what is queued, so every pending commit answers.
  void TearDown() override {
    if (gate_) gate_->open();
    if (committer_) committer_->stop();
  }

  void start(uint32_t batch_claims_max, std::chrono::microseconds linger_max) {
    committer_ =
        std::make_unique<ClaimCommitter>(gate_->writer(), batch_claims_max, nullptr, linger_max);
  }

  // A claim of one serial, by its own buyer, without a lease check.
  store::ClaimInsert claim(uint32_t serial) {
    store::ClaimInsert insert;
    insert.drop_id = drop_id_;
    insert.serial = serial;
    insert.account = "buyer-" + std::to_string(serial);
    insert.source = store::ClaimSource::free;
    insert.cert_id = "cert-" + std::to_string(serial) + "-" + std::to_string(next_cert_++);
    insert.cert_token = "v4.public.cert";
    insert.per_buyer_limit = 100;
    insert.at_ms = kT0;
    return insert;
  }

  // Commits as a request would (commit() returns at once); the completion's
  // answer arrives in the returned future.
  std::shared_future<Result<store::Claim>> commit_async(
      uint32_t serial, std::optional<ClaimCommitter::Announcement> announcement = std::nullopt) {
    if (!announcement) announcement.emplace(committer_->announce());
    auto answered = std::make_shared<std::promise<Result<store::Claim>>>();
    auto future = answered->get_future().share();
    committer_->commit(
        claim(serial), std::move(*announcement),
        [answered](Result<store::Claim> result) { answered->set_value(std::move(result)); });
    pending_.push_back(future);
    return future;
  }

  static bool answered(const std::shared_future<Result<store::Claim>>& future) {
    return future.wait_for(wait_max) == std::future_status::ready;
  }

  TempDir dir_;  // first: removed after everything that uses it
  std::unique_ptr<store::Store> store_;
  int64_t drop_id_ = 0;
  int next_cert_ = 0;
  std::unique_ptr<GatedStore> gate_;
  std::unique_ptr<ClaimCommitter> committer_;
  std::vector<std::shared_future<Result<store::Claim>>> pending_;
};

// Checks that on a quiet origin (nothing announced) a claim is written at
// once, in a batch of its own, and is in the store when commit() returns: a
// batch that waited for nothing would take kLingerForever.
TEST_F(CommitterTest, AClaimWithNothingAnnouncedIsWrittenAtOnceAlone) {
  start(64, kLingerForever);
  auto claimed = commit_async(7);
  ASSERT_TRUE(answered(claimed));
  ASSERT_TRUE(claimed.get().has_value()) << claimed.get().error().to_string();
  EXPECT_EQ(claimed.get()->serial, 7u);
  EXPECT_TRUE(store_->get_claim(drop_id_, 7).has_value());
  EXPECT_EQ(gate_->batches(), std::vector<Batch>{{7}});
  EXPECT_EQ(committer_->batches(), 1u);
}

// Checks group commit itself: claims that queue while a batch is being
// written all go into the next batch, one transaction, not one each.
TEST_F(CommitterTest, ClaimsThatQueueWhileABatchIsWrittenGoTogetherInTheNext) {
  start(64, kLingerForever);
  gate_->shut();
  auto first = commit_async(1);
  ASSERT_TRUE(gate_->arrived(1));
  std::vector<std::shared_future<Result<store::Claim>>> queued;
  for (uint32_t serial : {2, 3, 4}) queued.push_back(commit_async(serial));
  ASSERT_TRUE(eventually([&] { return committer_->state().queued == 3; }));
  gate_->open();
  ASSERT_TRUE(answered(first));
  for (const auto& f : queued) {
    ASSERT_TRUE(answered(f));
    EXPECT_TRUE(f.get().has_value()) << f.get().error().to_string();
  }
  EXPECT_EQ(gate_->batches(), (std::vector<Batch>{{1}, {2, 3, 4}}));
}

// Checks the cap: five queued claims with batch_claims_max 2 are written as
// 2 + 2 + 1, never more than the cap in one transaction.
TEST_F(CommitterTest, ABatchHoldsAtMostBatchClaimsMax) {
  start(2, kLingerForever);
  gate_->shut();
  auto first = commit_async(1);
  ASSERT_TRUE(gate_->arrived(1));
  for (uint32_t serial : {2, 3, 4, 5, 6}) commit_async(serial);
  ASSERT_TRUE(eventually([&] { return committer_->state().queued == 5; }));
  gate_->open();
  for (const auto& f : pending_) ASSERT_TRUE(answered(f));
  std::vector<size_t> sizes;
  Batch all;
  for (const auto& batch : gate_->batches()) {
    sizes.push_back(batch.size());
    all.insert(batch.begin(), batch.end());
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 2, 2, 1}));
  EXPECT_EQ(all, (Batch{1, 2, 3, 4, 5, 6}));
}

// Checks that every claim of a batch gets its own answer: a claim of a serial
// already sold is refused while the others of its batch commit.
TEST_F(CommitterTest, EachClaimOfABatchGetsItsOwnAnswer) {
  start(64, kLingerForever);
  auto earlier = commit_async(5);
  ASSERT_TRUE(answered(earlier));
  ASSERT_TRUE(earlier.get().has_value());
  gate_->shut();
  auto first = commit_async(1);
  ASSERT_TRUE(gate_->arrived(2));
  auto before = commit_async(4);
  auto taken = commit_async(5);
  auto after = commit_async(6);
  ASSERT_TRUE(eventually([&] { return committer_->state().queued == 3; }));
  gate_->open();
  for (const auto& f : pending_) ASSERT_TRUE(answered(f));
  EXPECT_TRUE(before.get().has_value()) << before.get().error().to_string();
  ASSERT_FALSE(taken.get().has_value());
  EXPECT_EQ(taken.get().error().code(), Code::conflict);
  EXPECT_TRUE(after.get().has_value()) << after.get().error().to_string();
  EXPECT_EQ(gate_->batches().back(), (Batch{4, 5, 6}));
}

// Checks the linger: with a claim queued and another announced (its tokens
// being signed), the batch waits — visibly — instead of being written, and
// takes the announced claim along when it arrives: one batch, not two.
TEST_F(CommitterTest, ABatchWaitsForAnAnnouncedClaimAndTakesItAlong) {
  start(64, kLingerForever);
  auto announced = committer_->announce();
  auto queued = commit_async(2);
  ASSERT_TRUE(eventually([&] { return committer_->state().lingering; }));
  EXPECT_TRUE(gate_->batches().empty());
  auto arrived = commit_async(1, std::move(announced));
  ASSERT_TRUE(answered(queued));
  ASSERT_TRUE(answered(arrived));
  EXPECT_TRUE(queued.get().has_value());
  EXPECT_TRUE(arrived.get().has_value());
  EXPECT_EQ(gate_->batches(), (std::vector<Batch>{{1, 2}}));
}

// Checks the bound on that wait: an announced claim that never arrives holds
// the batch for linger_max (it did wait that long) and then the batch is
// written without it — not held until the announcement goes away.
TEST_F(CommitterTest, AnAnnouncedClaimHoldsABatchForLingerMaxAtMost) {
  constexpr auto linger_max = 50ms;
  start(64, linger_max);
  auto never_arrives = committer_->announce();
  auto started = std::chrono::steady_clock::now();
  auto queued = commit_async(2);
  ASSERT_TRUE(answered(queued));
  EXPECT_GE(std::chrono::steady_clock::now() - started, linger_max);
  EXPECT_TRUE(queued.get().has_value());
  EXPECT_EQ(gate_->batches(), std::vector<Batch>{{2}});
  EXPECT_EQ(committer_->state().announced, 1u);  // still announced: it did not end the wait
}

// Checks that withdrawing an announcement (its request failed before commit)
// ends the wait at once: the batch does not wait for a claim that will not come.
TEST_F(CommitterTest, AWithdrawnAnnouncementDoesNotHoldABatch) {
  start(64, kLingerForever);
  std::optional<ClaimCommitter::Announcement> announced = committer_->announce();
  auto queued = commit_async(2);
  ASSERT_TRUE(eventually([&] { return committer_->state().lingering; }));
  announced.reset();  // withdraws
  ASSERT_TRUE(answered(queued));
  EXPECT_TRUE(queued.get().has_value());
  EXPECT_EQ(gate_->batches(), std::vector<Batch>{{2}});
  EXPECT_EQ(committer_->state().announced, 0u);
}

// Checks shutdown: stop() writes every claim already queued — without
// waiting for a claim still announced — refuses claims that come after it
// (unavailable), and returns once the queue is written.
TEST_F(CommitterTest, StopWritesWhatIsQueuedThenRefuses) {
  start(64, kLingerForever);
  gate_->shut();
  auto first = commit_async(1);
  ASSERT_TRUE(gate_->arrived(1));
  auto second = commit_async(2);
  auto third = commit_async(3);
  ASSERT_TRUE(eventually([&] { return committer_->state().queued == 2; }));
  std::optional<ClaimCommitter::Announcement> still_signing = committer_->announce();
  std::thread stopper([&] { committer_->stop(); });
  ASSERT_TRUE(eventually([&] { return committer_->state().stopping; }));

  // Turned down at once, while the batch before it is still held at the store.
  auto late = commit_async(4);
  ASSERT_TRUE(answered(late));
  ASSERT_FALSE(late.get().has_value());
  EXPECT_EQ(late.get().error().code(), Code::unavailable);
  EXPECT_EQ(late.get().error().message(), "shutting down");

  gate_->open();
  bool written = answered(second) && answered(third);
  still_signing.reset();  // lets a wrongly lingering stop() finish, so join() cannot hang
  stopper.join();
  ASSERT_TRUE(written);
  ASSERT_TRUE(answered(first));
  for (const auto& f : {first, second, third}) {
    EXPECT_TRUE(f.get().has_value()) << f.get().error().to_string();
  }
  EXPECT_EQ(gate_->batches(), (std::vector<Batch>{{1}, {2, 3}}));
  for (uint32_t serial : {1, 2, 3}) EXPECT_TRUE(store_->get_claim(drop_id_, serial).has_value());
  EXPECT_EQ(store_->get_claim(drop_id_, 4).error().code(), Code::not_found);
}

}  // namespace
}  // namespace dg::origin
