// Group commit for claims: requests hand their claim to the committer with a
// completion and move on (no thread waits per claim); one thread writes
// whatever has queued up as one transaction (one fsync for the batch), so
// throughput grows with load instead of queuing on the disk, then calls the
// batch's completions. A claim is acknowledged to its client only after its
// batch committed.
//
// A request announces its claim before it signs the claim's tokens (tens of
// microseconds), and a batch about to be written waits for announced claims
// — at most `linger_max` — so that claims arriving together share one
// commit rather than each starting its own. With nothing announced (a quiet
// origin) a claim is written at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "base/limits.h"
#include "base/metrics.h"
#include "store/store.h"

namespace dg::origin {

class ClaimCommitter {
 public:
  // Writes one batch and answers each claim of it, in order: the store's
  // record_claims (or, in tests, a stand-in that can hold a batch back).
  using WriteBatch = std::function<std::vector<Result<store::Claim>>(
      const std::vector<store::ClaimInsert>& inserts)>;

  // `batch_sizes`, when given, observes the number of claims in each batch.
  ClaimCommitter(store::Store& store, uint32_t batch_claims_max,
                 metrics::Histogram* batch_sizes = nullptr,
                 std::chrono::microseconds linger_max = limits::claim_batch_linger_max);
  ClaimCommitter(WriteBatch write_batch, uint32_t batch_claims_max,
                 metrics::Histogram* batch_sizes = nullptr,
                 std::chrono::microseconds linger_max = limits::claim_batch_linger_max);
  ~ClaimCommitter();  // stop()
  ClaimCommitter(const ClaimCommitter&) = delete;
  ClaimCommitter& operator=(const ClaimCommitter&) = delete;

  // A claim on its way to commit(); dropping it unused withdraws the claim.
  class Announcement {
   public:
    Announcement(Announcement&& other) noexcept
        : committer_(std::exchange(other.committer_, nullptr)) {}
    Announcement& operator=(Announcement&&) = delete;
    ~Announcement() {
      if (committer_) committer_->withdraw();
    }

   private:
    friend class ClaimCommitter;
    explicit Announcement(ClaimCommitter* committer) : committer_(committer) {}
    ClaimCommitter* committer_;
  };
  // Announces a claim that will reach commit() within microseconds, e.g.
  // before signing its tokens.
  Announcement announce();

  // Called exactly once with the claim's result. It runs on the committer's
  // thread, so it must be quick and must not block (no store access): hand
  // such work to another thread.
  using Completion = std::move_only_function<void(Result<store::Claim>)>;
  // Queues the claim and returns; uses up the claim's announcement. `done`
  // is called after the claim's batch committed (or failed), the batch's
  // completions in a row, in batch order; when stopping, at once on the
  // calling thread with unavailable.
  void commit(store::ClaimInsert insert, Announcement announcement, Completion done);

  // Refuses claims from now on (commit() answers unavailable), writes what
  // is queued, and returns once it is written and its completions ran.
  // Calling it again does nothing.
  void stop();

  // Batches written so far, and claims in them (metrics).
  uint64_t batches() const { return batches_.load(); }

  // What the committer is doing now (tests wait for these; metrics).
  struct State {
    size_t queued = 0;       // handed to commit(), not yet taken into a batch
    uint32_t announced = 0;  // announced, not yet handed to commit() or withdrawn
    bool lingering = false;  // a batch is waiting for announced claims
    bool stopping = false;   // stop() was called: commit() refuses
  };
  State state() const;

 private:
  struct Pending {
    store::ClaimInsert insert;
    Completion done;
  };
  void run();
  static void complete(Completion& done, Result<store::Claim> result);
  void withdraw();
  // Takes the next batch from the queue, waiting for announced claims first.
  std::vector<Pending> next_batch(std::unique_lock<std::mutex>& lock);

  const WriteBatch write_batch_;
  const uint32_t batch_claims_max_;
  metrics::Histogram* const batch_sizes_;
  const std::chrono::microseconds linger_max_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  uint32_t announced_ = 0;  // announced, not yet queued or withdrawn
  bool lingering_ = false;
  bool stopping_ = false;
  std::atomic<uint64_t> batches_{0};
  std::mutex join_mutex_;  // one stop() joins the thread
  std::thread thread_;
};

}  // namespace dg::origin
