#include "origin/committer.h"

#include "base/assert.h"

namespace dg::origin {

ClaimCommitter::ClaimCommitter(store::Store& store, uint32_t batch_claims_max,
                               metrics::Histogram* batch_sizes,
                               std::chrono::microseconds linger_max)
    : store_(store),
      batch_claims_max_(std::max<uint32_t>(1, batch_claims_max)),
      batch_sizes_(batch_sizes),
      linger_max_(linger_max),
      thread_([this] { run(); }) {}

ClaimCommitter::~ClaimCommitter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
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

Result<store::Claim> ClaimCommitter::commit(store::ClaimInsert insert, Announcement announcement) {
  std::future<Result<store::Claim>> result;
  {
    std::lock_guard lock(mutex_);
    DG_ASSERT(announcement.committer_ == this && announced_ > 0);
    announced_--;
    announcement.committer_ = nullptr;
    if (stopping_) return error(Code::unavailable, "shutting down");
    queue_.push_back(Pending{std::move(insert), {}});
    result = queue_.back().done.get_future();
  }
  wake_.notify_one();
  return result.get();
}

std::vector<ClaimCommitter::Pending> ClaimCommitter::next_batch(
    std::unique_lock<std::mutex>& lock) {
  wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
  // Announced claims are being signed: wait for them, within linger_max_.
  auto deadline = std::chrono::steady_clock::now() + linger_max_;
  wake_.wait_until(lock, deadline, [&] {
    return stopping_ || announced_ == 0 || queue_.size() >= batch_claims_max_;
  });
  std::vector<Pending> batch;
  while (!queue_.empty() && batch.size() < batch_claims_max_) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
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
    auto results = store_.record_claims(inserts);
    batches_.fetch_add(1);
    if (batch_sizes_) batch_sizes_->observe(static_cast<double>(batch.size()));
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done.set_value(std::move(results[i]));
  }
}

}  // namespace dg::origin
