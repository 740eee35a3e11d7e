// TokenCache: download tokens the edge has already judged, so a token seen
// before costs a lookup, not a signature check. Anonymous clients choose what
// goes in, so the cache is built to stay small whatever they send:
//   - entries are keyed by a keyed SipHash-2-4-128 of the token's text (16
//     bytes, whatever the token's size; the per-process key keeps an attacker
//     from choosing tokens that pile into one hash bucket, or that share a
//     key with a token already held — see key_of);
//   - it is bounded in bytes (every entry's estimated footprint is counted),
//     and when full the least recently used entry goes, never the whole cache;
//   - refusals (dead links) have their own quarter of the bytes, so a flood
//     of them cannot push out the tokens buyers are using.
// The caller decides what is worth caching (never a malformed token).
//
// Thread safety: none; EdgeService holds a mutex around it.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"
#include "core/token.h"

namespace dg::edge {

class TokenCache {
 public:
  using Verified = std::shared_ptr<const core::VerifiedDownload>;
  struct Entry {
    Verified token;                 // null for a token that failed
    std::optional<Status> refused;  // the verifier's Status for it; none for a token
    int64_t valid_until_ms;
  };
  using Key = std::array<uint8_t, 16>;

  // At most `bytes_max` bytes (estimated; refusals at most a quarter of them)
  // and `entries_max` entries.
  TokenCache(uint64_t bytes_max, uint32_t entries_max);

  // The key of a token, or none for a token longer than
  // limits::token_bytes_max (malformed: never cached).
  std::optional<Key> key_of(std::string_view token_untrusted) const;
  // The entry for `key` if held and still valid at `now_ms` (an outlived one
  // is dropped), marked as the most recently used. Valid until the next call.
  const Entry* find(const Key& key, int64_t now_ms);
  // Adds or replaces the entry for `key`, evicting the least recently used
  // entries of its kind until it fits. An entry larger than its kind's share
  // is not kept.
  void put(const Key& key, Entry entry);
  void clear();

  uint64_t bytes() const { return verified_.bytes + refused_.bytes; }
  size_t size() const { return index_.size(); }
  // What one entry costs: the nodes holding it and the bytes it owns.
  static uint64_t footprint(const Entry& entry);

 private:
  struct Slot {
    Key key;
    Entry entry;
    uint64_t bytes;
  };
  // Most recently used first.
  struct Lru {
    std::list<Slot> slots;
    uint64_t bytes = 0;
    uint64_t bytes_max = 0;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;  // the key is already a keyed hash
  };
  struct Place {
    Lru* lru;
    std::list<Slot>::iterator slot;
  };
  void erase(std::unordered_map<Key, Place, KeyHash>::iterator it);

  Lru verified_;
  Lru refused_;
  uint32_t entries_max_;
  std::unordered_map<Key, Place, KeyHash> index_;
  std::array<uint8_t, 16> hash_key_;  // the SipHash key, random per cache
};

}  // namespace dg::edge
