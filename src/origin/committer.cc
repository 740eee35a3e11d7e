#include "origin/committer.h"

#include "base/assert.h"
#include "base/log.h"

namespace dg::origin {

ClaimCommitter::ClaimCommitter(store::Store& store, uint32_t batch_claims_max,
                               metrics::Histogram* batch_sizes,
                               std::chrono::microseconds linger_max)
    : ClaimCommitter(
          [&store](const std::vector<store::ClaimInsert>& inserts) {
            return store.record_claims(inserts);
          },
          batch_claims_max, batch_sizes, linger_max) {}

ClaimCommitter::ClaimCommitter(WriteBatch write_batch, uint32_t batch_claims_max,
                               metrics::Histogram* batch_sizes,
                               std::chrono::microseconds linger_max)
    : write_batch_(std::move(write_batch)),
      batch_claims_max_(std::max<uint32_t>(1, batch_claims_max)),
      batch_sizes_(batch_sizes),
      linger_max_(linger_max),
      thread_([this] { run(); }) {}

ClaimCommitter::~ClaimCommitter() {
  stop();
}

void ClaimCommitter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  std::lock_guard join_lock(join_mutex_);
  if (thread_.joinable()) thread_.join();
}

ClaimCommitter::State ClaimCommitter::state() const {
  std::lock_guard lock(mutex_);
  return State{queue_.size(), announced_, lingering_, stopping_};
}

ClaimCommitter::Announcement ClaimCommitter::announce() {
  std::lock_guard lock(mutex_);
  announced_++;
  return Announcement(this);
}

void ClaimCommitter::withdraw() {
  {
    std::lock_guard lock(mutex_);
    DG_ASSERT(announced_ > 0);
    announced_--;
  }
  wake_.notify_one();
}

void ClaimCommitter::commit(store::ClaimInsert insert, Announcement announcement, Completion done) {
  DG_ASSERT(done != nullptr);
  {
    std::lock_guard lock(mutex_);
    DG_ASSERT(announcement.committer_ == this && announced_ > 0);
    announced_--;
    announcement.committer_ = nullptr;
    if (!stopping_) {
      queue_.push_back(Pending{std::move(insert), std::move(done)});
      done = nullptr;
    }
  }
  if (done) return done(error(Code::unavailable, "shutting down"));
  wake_.notify_one();
}

std::vector<ClaimCommitter::Pending> ClaimCommitter::next_batch(
    std::unique_lock<std::mutex>& lock) {
  wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
  // Announced claims are being signed: wait for them, within linger_max_.
  auto deadline = std::chrono::steady_clock::now() + linger_max_;
  auto ready = [&] { return stopping_ || announced_ == 0 || queue_.size() >= batch_claims_max_; };
  if (!ready()) {
    lingering_ = true;
    wake_.wait_until(lock, deadline, ready);
    lingering_ = false;
  }
  std::vector<Pending> batch;
  while (!queue_.empty() && batch.size() < batch_claims_max_) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

// A completion that throws must not end the thread that answers every claim.
void ClaimCommitter::complete(Completion& done, Result<store::Claim> result) {
  try {
    done(std::move(result));
  } catch (const std::exception& e) {
    log::error("claim completion threw", {{"what", e.what()}});
  } catch (...) {
    log::error("claim completion threw",
               {{"what", "an exception not derived from std::exception"}});
  }
}

void ClaimCommitter::run() {
  while (true) {
    std::vector<Pending> batch;
    {
      std::unique_lock lock(mutex_);
      batch = next_batch(lock);
    }
    if (batch.empty()) return;  // stopping, and nothing left to write
    std::vector<store::ClaimInsert> inserts;
    inserts.reserve(batch.size());
    for (auto& p : batch) inserts.push_back(std::move(p.insert));
    auto results = write_batch_(inserts);
    batches_.fetch_add(1);
    if (batch_sizes_) batch_sizes_->observe(static_cast<double>(batch.size()));
    DG_ASSERT(results.size() == batch.size());
    for (size_t i = 0; i < batch.size(); ++i) complete(batch[i].done, std::move(results[i]));
  }
}

}  // namespace dg::origin
