// Group commit for claims: requests hand their claim to the committer and wait;
// one thread writes whatever has queued up as one transaction (one fsync for
// the batch), so throughput grows with load instead of queuing on the disk.
// A claim is acknowledged to its client only after its batch committed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "store/store.h"

namespace dg::origin {

class ClaimCommitter {
 public:
  ClaimCommitter(store::Store& store, uint32_t batch_claims_max);
  ~ClaimCommitter();  // commits what is queued, then stops
  ClaimCommitter(const ClaimCommitter&) = delete;
  ClaimCommitter& operator=(const ClaimCommitter&) = delete;

  // Blocks until the claim's batch committed (or failed).
  Result<store::Claim> commit(store::ClaimInsert insert);

  // Batches written so far, and claims in them (metrics).
  uint64_t batches() const { return batches_.load(); }

 private:
  struct Pending {
    store::ClaimInsert insert;
    std::promise<Result<store::Claim>> done;
  };
  void run();

  store::Store& store_;
  const uint32_t batch_claims_max_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::atomic<uint64_t> batches_{0};
  std::thread thread_;
};

}  // namespace dg::origin
