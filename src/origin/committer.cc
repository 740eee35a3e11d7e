#include "origin/committer.h"

namespace dg::origin {

ClaimCommitter::ClaimCommitter(store::Store& store, uint32_t batch_claims_max)
    : store_(store), batch_claims_max_(std::max<uint32_t>(1, batch_claims_max)),
      thread_([this] { run(); }) {}

ClaimCommitter::~ClaimCommitter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Result<store::Claim> ClaimCommitter::commit(store::ClaimInsert insert) {
  std::future<Result<store::Claim>> result;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return error(Code::unavailable, "shutting down");
    queue_.push_back(Pending{std::move(insert), {}});
    result = queue_.back().done.get_future();
  }
  wake_.notify_one();
  return result.get();
}

void ClaimCommitter::run() {
  while (true) {
    std::vector<Pending> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to write
      while (!queue_.empty() && batch.size() < batch_claims_max_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<store::ClaimInsert> inserts;
    inserts.reserve(batch.size());
    for (auto& p : batch) inserts.push_back(std::move(p.insert));
    auto results = store_.record_claims(inserts);
    batches_.fetch_add(1);
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done.set_value(std::move(results[i]));
  }
}

}  // namespace dg::origin
