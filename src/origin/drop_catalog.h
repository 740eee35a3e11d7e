// DropCatalog: drops as the origin's other parts read them, each with its
// parsed manifest, from a short-lived cache in front of the store; and the
// public answers made from them (the drop page, the current manifest).
//
// Thread safety: every method is safe to call from many handler threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"
#include "core/manifest.h"
#include "store/store.h"

namespace boost::json {
class object;
}

namespace dg::origin {

// A drop with its current manifest, as read at `loaded_at_ms`.
struct CachedDrop {
  store::Drop drop;
  std::shared_ptr<const core::Manifest> manifest;  // null before the first publish
  std::string manifest_sha256;
  int64_t loaded_at_ms = 0;
};

// Effective state: a scheduled drop whose window opened is live.
store::DropState effective_state(const store::Drop& drop, int64_t now_ms);

// The fields of a drop every answer about it shows, its state as `state`.
boost::json::object drop_json(const store::Drop& drop, store::DropState state);
// remaining: serials a buyer could get now (neither claimed nor held); held:
// serials in unexpired holds, which come back if their holds expire;
// sold_out: every serial is claimed, for good.
void add_availability(boost::json::object& out, const store::Drop& drop, uint32_t claimed,
                      uint32_t held);

class DropCatalog {
 public:
  struct Parts {
    store::Store& store;
    const Clock& clock;
  };
  explicit DropCatalog(Parts parts) : parts_(parts) {}

  // The drop from the cache, or from the store when it is not cached, was
  // forgotten, or `fresh` is asked (operator actions read what they change).
  // An expired entry is reloaded by one caller while the others keep
  // answering from it (limits::drop_cache_ttl).
  Result<CachedDrop> load_drop(std::string_view slug, bool fresh = false);
  // The drop from the cache without ever reading the store, for a caller
  // that must not wait: nullopt when it is not cached, or it expired and no
  // other caller is reloading it (then load_drop, on a thread that may block).
  std::optional<CachedDrop> cached_drop(std::string_view slug);
  // Drops the cached entry after a write on this origin, so that the next
  // caller (and no load begun before) sees the write.
  void forget_drop(std::string_view slug);

  // --- Public.
  Result<std::string> public_drop_json(std::string_view slug);
  Result<store::ManifestRecord> current_manifest(std::string_view slug);

 private:
  Result<CachedDrop> read_drop(std::string_view slug, int64_t now_ms);  // from the store

  Parts parts_;
  std::mutex cache_mutex_;
  std::map<std::string, CachedDrop, std::less<>> cache_;
  std::set<std::string, std::less<>> refreshing_;  // expired entries one caller is reloading
  uint64_t cache_generation_ = 0;                  // forget_drop calls so far
};

}  // namespace dg::origin
