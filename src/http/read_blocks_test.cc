#include "http/read_blocks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <vector>

namespace dg::http {
namespace {

constexpr size_t kBlocksPerSlab = ReadBlockPool::slab_bytes / ReadBlockPool::block_bytes - 1;

TEST(ReadBlockPool, BlocksAreDistinctWholeAndSurviveNeighboursWrites) {
  ReadBlockPool pool;
  std::vector<char*> blocks;
  for (int i = 0; i < 1000; ++i) {
    char* block = pool.take();
    ASSERT_NE(block, nullptr);
    std::memset(block, static_cast<unsigned char>(i), ReadBlockPool::block_bytes);
    blocks.push_back(block);
  }
  EXPECT_EQ(std::set<char*>(blocks.begin(), blocks.end()).size(), blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    char expected = static_cast<char>(static_cast<unsigned char>(i));
    EXPECT_EQ(blocks[i][0], expected) << i;
    EXPECT_EQ(blocks[i][ReadBlockPool::block_bytes - 1], expected) << i;
  }
  EXPECT_EQ(pool.blocks_out(), 1000u);
  EXPECT_EQ(pool.slabs_mapped(), (1000 + kBlocksPerSlab - 1) / kBlocksPerSlab);
  for (char* block : blocks) pool.give_back(block);
  EXPECT_EQ(pool.blocks_out(), 0u);
}

// Memory follows the blocks out: every mapped slab but one spare holds a
// block that is out, and once all are back only the spare stays mapped.
TEST(ReadBlockPool, SlabsAreUnmappedAsTheirBlocksComeBackInAnyOrder) {
  ReadBlockPool pool;
  std::mt19937 random(5);
  std::vector<char*> out;
  size_t slabs_peak = 0;
  for (int step = 0; step < 20000; ++step) {
    bool take = out.empty() || random() % 100 < (step < 10000 ? 60 : 35);
    if (take) {
      char* block = pool.take();
      ASSERT_NE(block, nullptr);
      block[0] = 'x';
      out.push_back(block);
    } else {
      size_t i = random() % out.size();
      pool.give_back(out[i]);
      out[i] = out.back();
      out.pop_back();
    }
    ASSERT_EQ(pool.blocks_out(), out.size());
    ASSERT_LE(pool.slabs_mapped(), out.size() + 1);
    slabs_peak = std::max(slabs_peak, pool.slabs_mapped());
  }
  EXPECT_GT(slabs_peak, 10u);  // the walk did spread over many slabs
  for (char* block : out) pool.give_back(block);
  EXPECT_EQ(pool.blocks_out(), 0u);
  EXPECT_EQ(pool.slabs_mapped(), 1u);
  // The spare serves the next take without a new mapping.
  char* block = pool.take();
  EXPECT_EQ(pool.slabs_mapped(), 1u);
  pool.give_back(block);
}

}  // namespace
}  // namespace dg::http
