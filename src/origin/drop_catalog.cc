#include "origin/drop_catalog.h"

#include <boost/json.hpp>

#include "base/limits.h"
#include "base/problem_types.h"
#include "base/time.h"
#include "core/drop.h"
#include "core/validate.h"

namespace dg::origin {

store::DropState effective_state(const store::Drop& drop, int64_t now_ms) {
  return core::effective_state(drop.state, drop.spec.opens_at_ms, now_ms);
}

boost::json::object drop_json(const store::Drop& drop, store::DropState state) {
  const auto& s = drop.spec;
  boost::json::object out{
      {"slug", s.slug},
      {"title", s.title},
      {"edition", s.edition_size},
      {"state", store::drop_state_name(state)},
      {"opens_at", format_rfc3339(s.opens_at_ms)},
      {"per_buyer_limit", s.per_buyer_limit},
      {"price", boost::json::object{{"amount", s.price_minor}, {"currency", s.currency}}},
      {"rights", core::rights_to_json(s.rights)},
      {"manifest_version", drop.manifest_version}};
  out["closes_at"] = s.closes_at_ms ? boost::json::value(format_rfc3339(*s.closes_at_ms))
                                    : boost::json::value(nullptr);
  return out;
}

void add_availability(boost::json::object& out, const store::Drop& drop, uint32_t claimed,
                      uint32_t held) {
  uint32_t edition = drop.spec.edition_size;
  uint32_t taken = std::min(edition, claimed);
  out["held"] = std::min(held, edition - taken);
  out["remaining"] = edition - taken - std::min(held, edition - taken);
  out["sold_out"] = taken == edition;
}

// ---------------------------------------------------------------- cache

std::optional<CachedDrop> DropCatalog::cached_drop(std::string_view slug) {
  std::lock_guard lock(cache_mutex_);
  auto it = cache_.find(slug);
  if (it == cache_.end()) return std::nullopt;
  if (parts_.clock.now_ms() - it->second.loaded_at_ms < to_ms(limits::drop_cache_ttl) ||
      refreshing_.contains(slug)) {
    return it->second;
  }
  return std::nullopt;
}

// A drop whose entry expired is reloaded by one caller while the others keep
// answering from the entry it replaces (a second or so old, as any entry may
// be): under load every handler that met the expiry used to reload it. A drop
// not cached yet, or forgotten after a write here, is loaded by each caller
// that asks for it (none has anything to answer from). A load that began
// before a write on this origin (forget_drop) does not put what it read back
// into the cache, so the next caller sees the write.
Result<CachedDrop> DropCatalog::load_drop(std::string_view slug, bool fresh) {
  int64_t now_ms = parts_.clock.now_ms();
  bool refreshing = false;
  uint64_t generation = 0;
  {
    std::lock_guard lock(cache_mutex_);
    generation = cache_generation_;
    auto it = cache_.find(slug);
    if (!fresh && it != cache_.end()) {
      if (now_ms - it->second.loaded_at_ms < to_ms(limits::drop_cache_ttl)) return it->second;
      if (refreshing_.contains(slug)) return it->second;
      refreshing_.emplace(slug);
      refreshing = true;
    }
  }
  Result<CachedDrop> loaded = read_drop(slug, now_ms);
  std::lock_guard lock(cache_mutex_);
  if (refreshing) refreshing_.erase(refreshing_.find(slug));
  if (loaded && cache_generation_ == generation) cache_[std::string(slug)] = *loaded;
  return loaded;
}

Result<CachedDrop> DropCatalog::read_drop(std::string_view slug, int64_t now_ms) {
  if (Status s = core::validate_slug(slug); !s.ok()) return error(s);
  auto drop = parts_.store.get_drop(slug);
  if (!drop) return error(drop.error());
  CachedDrop cached{*drop, nullptr, "", now_ms};
  if (drop->manifest_version > 0) {
    auto record = parts_.store.current_manifest(drop->id);
    if (!record) return error(record.error());
    auto manifest = core::parse_manifest(record->json);
    if (!manifest)
      return error(Status(Code::corruption, "stored manifest: " + manifest.error().message()));
    cached.manifest = std::make_shared<const core::Manifest>(std::move(*manifest));
    cached.manifest_sha256 = record->sha256;
  }
  return cached;
}

void DropCatalog::forget_drop(std::string_view slug) {
  std::lock_guard lock(cache_mutex_);
  ++cache_generation_;
  if (auto it = cache_.find(slug); it != cache_.end()) cache_.erase(it);
}

// ---------------------------------------------------------------- public

Result<std::string> DropCatalog::public_drop_json(std::string_view slug) {
  auto cached = load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  if (cached->drop.state == store::DropState::draft) {
    return error(problem::not_found, "no published drop \"" + std::string(slug) + "\"");
  }
  int64_t now_ms = parts_.clock.now_ms();
  auto claims = parts_.store.claim_count(cached->drop.id);
  if (!claims) return error(claims.error());
  auto held = parts_.store.live_hold_count(cached->drop.id, now_ms);
  if (!held) return error(held.error());
  const auto& drop = cached->drop;
  auto out = drop_json(drop, effective_state(drop, now_ms));
  add_availability(out, drop, *claims, *held);
  out["manifest_url"] = "/v1/drops/" + drop.spec.slug + "/manifest.json";
  return boost::json::serialize(out);
}

Result<store::ManifestRecord> DropCatalog::current_manifest(std::string_view slug) {
  auto cached = load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  if (cached->drop.manifest_version == 0) {
    return error(problem::not_published, "this drop has no manifest yet");
  }
  auto record = parts_.store.current_manifest(cached->drop.id);
  if (!record) return error(record.error());
  return *record;
}

}  // namespace dg::origin
