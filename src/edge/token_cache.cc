#include "edge/token_cache.h"

#include <cstring>

#include "base/assert.h"
#include "base/encoding.h"
#include "base/limits.h"
#include "crypto/keys.h"
#include "crypto/siphash.h"

namespace dg::edge {
namespace {

// What malloc adds to each block it hands out (glibc: a 16-byte header and
// rounding), counted for every allocation an entry makes.
constexpr uint64_t kMallocOverheadBytes = 16;

// Bytes a string owns beyond its own object: none while it fits the
// small-string buffer, its capacity otherwise.
uint64_t heap_bytes(const std::string& text) {
  return text.capacity() > std::string().capacity() ? text.capacity() + 1 + kMallocOverheadBytes
                                                    : 0;
}

}  // namespace

TokenCache::TokenCache(uint64_t bytes_max, uint32_t entries_max) : entries_max_(entries_max) {
  refused_.bytes_max = bytes_max / 4;
  verified_.bytes_max = bytes_max - refused_.bytes_max;
  crypto::random_bytes(hash_key_);
}

std::optional<TokenCache::Key> TokenCache::key_of(std::string_view token_untrusted) const {
  if (token_untrusted.size() > limits::token_bytes_max) return std::nullopt;
  // The key stands for the token: a hit returns what was judged for another
  // text with the same key, so two tokens must never share one. SipHash-2-4
  // keyed with a secret random 128-bit key is a PRF: to anyone without the key
  // its 128-bit outputs are unpredictable, and the key never leaves the
  // process (nor does any output). So an attacker can only guess blindly: each
  // token sent matches one of the n entries held with probability n / 2^128,
  // and a chance collision among 2^20 entries has probability below 2^-88.
  // It is 5x cheaper than keyed BLAKE2b here (bench/token_bench.cc).
  Key key;
  crypto::siphash128(key, hash_key_, as_bytes(token_untrusted));
  return key;
}

size_t TokenCache::KeyHash::operator()(const Key& key) const {
  size_t hash;
  std::memcpy(&hash, key.data(), sizeof hash);
  return hash;
}

uint64_t TokenCache::footprint(const Entry& entry) {
  // The list node (two links and the slot), the index node (a link, the key
  // and place, the cached hash) and its bucket pointer.
  uint64_t bytes =
      (2 * sizeof(void*) + sizeof(Slot) + kMallocOverheadBytes) +
      (sizeof(void*) + sizeof(Key) + sizeof(Place) + sizeof(size_t) + kMallocOverheadBytes) +
      sizeof(void*);
  if (entry.token) {
    const core::VerifiedDownload& t = *entry.token;
    // make_shared: the control block and the token in one allocation.
    bytes += sizeof(core::VerifiedDownload) + 2 * sizeof(void*) + kMallocOverheadBytes;
    for (const std::string* text : {&t.common.issuer, &t.common.key_id, &t.common.token_id,
                                    &t.fields.account, &t.fields.drop, &t.fields.cert_id}) {
      bytes += heap_bytes(*text);
    }
    bytes += t.fields.assets.capacity() * sizeof(std::string) + kMallocOverheadBytes;
    for (const auto& asset : t.fields.assets) bytes += heap_bytes(asset);
  }
  if (entry.refused) bytes += heap_bytes(entry.refused->message());
  return bytes;
}

const TokenCache::Entry* TokenCache::find(const Key& key, int64_t now_ms) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  Place& place = it->second;
  if (now_ms > place.slot->entry.valid_until_ms) {
    erase(it);
    return nullptr;
  }
  place.lru->slots.splice(place.lru->slots.begin(), place.lru->slots, place.slot);
  return &place.slot->entry;
}

void TokenCache::put(const Key& key, Entry entry) {
  if (auto it = index_.find(key); it != index_.end()) erase(it);
  Lru& lru = entry.token ? verified_ : refused_;
  const uint64_t bytes = footprint(entry);
  if (bytes > lru.bytes_max || entries_max_ == 0) return;
  // Oldest first: each pass removes one entry, so this stops within size() passes.
  while (!lru.slots.empty() &&
         (lru.bytes + bytes > lru.bytes_max || index_.size() >= entries_max_)) {
    erase(index_.find(lru.slots.back().key));
  }
  // The other kind's oldest when only the entry count is short.
  Lru& other = &lru == &verified_ ? refused_ : verified_;
  while (!other.slots.empty() && index_.size() >= entries_max_)
    erase(index_.find(other.slots.back().key));
  lru.slots.push_front(Slot{key, std::move(entry), bytes});
  lru.bytes += bytes;
  index_.emplace(key, Place{&lru, lru.slots.begin()});
  DG_ASSERT(lru.bytes <= lru.bytes_max);
}

void TokenCache::erase(std::unordered_map<Key, Place, KeyHash>::iterator it) {
  DG_ASSERT(it != index_.end());
  Lru& lru = *it->second.lru;
  lru.bytes -= it->second.slot->bytes;
  lru.slots.erase(it->second.slot);
  index_.erase(it);
}

void TokenCache::clear() {
  index_.clear();
  for (Lru* lru : {&verified_, &refused_}) {
    lru->slots.clear();
    lru->bytes = 0;
  }
}

}  // namespace dg::edge
