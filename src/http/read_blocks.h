// Read blocks for connections waiting for their next request, one pool per
// I/O thread (not thread-safe).
//
// Why: a connection that waits with a read posted into a block costs no
// system call until its next request arrives, while a bufferless wait
// (Asio's async_wait) costs an epoll_ctl(2) per request. The server takes a
// block when a connection starts waiting and gives it back when the request
// arrived (its bytes copied out) or when the connection has been idle long
// enough to wait without one.
//
// Memory follows the connections waiting with a block, not their peak:
// blocks come from slabs mapped on their own, and a slab whose blocks are all
// back is unmapped (one spare is kept). Blocks freed to malloc would stay
// resident, scattered among the sessions allocated between them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dg::http {

class ReadBlockPool {
 public:
  static constexpr size_t block_bytes = 2048;
  static constexpr size_t slab_bytes = 64 * 1024;

  ReadBlockPool() = default;
  ReadBlockPool(const ReadBlockPool&) = delete;
  ReadBlockPool& operator=(const ReadBlockPool&) = delete;
  // Every block must be back by then.
  ~ReadBlockPool();

  // A block of block_bytes; nullptr when no memory could be mapped.
  char* take();
  // A block from take(), once its bytes are no longer needed.
  void give_back(char* block);

  // Readable from any thread (for diagnostics).
  size_t blocks_out() const { return blocks_out_.load(std::memory_order_relaxed); }
  size_t slabs_mapped() const { return slabs_mapped_; }

 private:
  struct Slab;
  Slab* map_slab();
  void unmap_slab(Slab* slab);
  void drop_from_partial(Slab* slab);

  // Slabs with at least one free block; the last one serves take().
  std::vector<Slab*> partial_;
  std::atomic<size_t> blocks_out_{0};
  size_t slabs_mapped_ = 0;
  size_t empty_slabs_ = 0;  // mapped, every block free (at most one is kept)
};

}  // namespace dg::http
