#include "http/read_blocks.h"

#include <sys/mman.h>

#include <cstdint>
#include <new>

#include "base/assert.h"

namespace dg::http {
namespace {

// A slab is slab_bytes, aligned to slab_bytes, so a block finds its slab by
// rounding its address down. Its first block's room holds the header.
constexpr size_t blocks_per_slab = ReadBlockPool::slab_bytes / ReadBlockPool::block_bytes - 1;

}  // namespace

struct ReadBlockPool::Slab {
  char* free_head = nullptr;  // free blocks, linked through their first bytes
  uint32_t free_count = 0;
  uint32_t partial_index = 0;  // in partial_, while free_count > 0
};

static_assert(sizeof(void*) <= ReadBlockPool::block_bytes);

ReadBlockPool::~ReadBlockPool() {
  for (Slab* slab : partial_) {
    if (slab->free_count == blocks_per_slab) ::munmap(slab, slab_bytes);
  }
}

ReadBlockPool::Slab* ReadBlockPool::map_slab() {
  // Twice the size, then the unaligned ends are given back.
  void* mapped =
      ::mmap(nullptr, 2 * slab_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) return nullptr;
  auto start = reinterpret_cast<uintptr_t>(mapped);
  uintptr_t aligned = (start + slab_bytes - 1) & ~(uintptr_t{slab_bytes} - 1);
  if (aligned > start) ::munmap(mapped, aligned - start);
  uintptr_t tail = aligned + slab_bytes;
  uintptr_t end = start + 2 * slab_bytes;
  if (end > tail) ::munmap(reinterpret_cast<void*>(tail), end - tail);

  auto* slab = new (reinterpret_cast<void*>(aligned)) Slab;
  char* base = reinterpret_cast<char*>(aligned);
  for (size_t i = blocks_per_slab; i >= 1; --i) {
    char* block = base + i * block_bytes;
    *reinterpret_cast<char**>(block) = slab->free_head;
    slab->free_head = block;
  }
  slab->free_count = blocks_per_slab;
  ++slabs_mapped_;
  return slab;
}

void ReadBlockPool::unmap_slab(Slab* slab) {
  slab->~Slab();
  ::munmap(slab, slab_bytes);
  --slabs_mapped_;
}

void ReadBlockPool::drop_from_partial(Slab* slab) {
  Slab* last = partial_.back();
  partial_[slab->partial_index] = last;
  last->partial_index = slab->partial_index;
  partial_.pop_back();
}

char* ReadBlockPool::take() {
  if (partial_.empty()) {
    Slab* slab = map_slab();
    if (slab == nullptr) return nullptr;
    slab->partial_index = static_cast<uint32_t>(partial_.size());
    partial_.push_back(slab);
    ++empty_slabs_;
  }
  Slab* slab = partial_.back();
  if (slab->free_count == blocks_per_slab) --empty_slabs_;
  char* block = slab->free_head;
  slab->free_head = *reinterpret_cast<char**>(block);
  if (--slab->free_count == 0) drop_from_partial(slab);
  blocks_out_.fetch_add(1, std::memory_order_relaxed);
  return block;
}

void ReadBlockPool::give_back(char* block) {
  DG_ASSERT(block != nullptr && blocks_out_.load(std::memory_order_relaxed) > 0);
  auto* slab =
      reinterpret_cast<Slab*>(reinterpret_cast<uintptr_t>(block) & ~(uintptr_t{slab_bytes} - 1));
  *reinterpret_cast<char**>(block) = slab->free_head;
  slab->free_head = block;
  if (slab->free_count++ == 0) {
    slab->partial_index = static_cast<uint32_t>(partial_.size());
    partial_.push_back(slab);
  }
  blocks_out_.fetch_sub(1, std::memory_order_relaxed);
  if (slab->free_count < blocks_per_slab) return;
  if (empty_slabs_ == 0) {
    ++empty_slabs_;  // kept as the spare
    return;
  }
  drop_from_partial(slab);
  unmap_slab(slab);
}

}  // namespace dg::http
