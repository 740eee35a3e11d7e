// OriginService: construction, the drop cache and drop administration. Its
// other concerns have files of their own: service_claims.cc (holds, claims,
// idempotency), service_delivery.cc (downloads), service_certificates.cc
// (certificates and revocation).
#include "origin/service.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/problem_types.h"
#include "base/time.h"
#include "core/drop.h"
#include "core/validate.h"
#include "crypto/sha256.h"

namespace dg::origin {
namespace {

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

// remaining: serials a buyer could get now (neither claimed nor held); held:
// serials in unexpired holds, which come back if their holds expire;
// sold_out: every serial is claimed, for good.
void add_availability(boost::json::object& out, const store::Drop& drop, uint32_t claimed,
                      uint32_t held) {
  uint32_t edition = drop.spec.edition_size;
  uint32_t taken = std::min(edition, claimed);
  out["held"] = std::min(held, edition - taken);
  out["remaining"] = edition - taken - std::min(held, edition - taken);
  out["sold_out"] = taken == edition;
}

// Whether `next` says what `current` says: the same drop, edition, window,
// rights and files. Version and times are not content. Compared as the
// manifest JSON, so what the wire cannot tell apart (e.g. milliseconds of the
// window, which the manifest gives in whole seconds) is the same.
bool same_content(const core::Manifest& current, core::Manifest next) {
  next.version = current.version;
  next.issued_at_ms = current.issued_at_ms;
  next.expires_at_ms = current.expires_at_ms;
  auto current_json = core::manifest_to_json(current);
  auto next_json = core::manifest_to_json(next);
  return current_json && next_json && *current_json == *next_json;
}

}  // namespace

OriginService::OriginService(Parts parts)
    : parts_(parts),
      holds_per_account_(parts.config.holds_per_account_per_min, limits::rate_limit_keys_max),
      holds_per_address_(parts.config.holds_per_address_per_min, limits::rate_limit_keys_max),
      metrics_{
          parts.metrics.counter("dropgate_claims_total", "Claims recorded."),
          parts.metrics.counter("dropgate_holds_total", "Holds created."),
          parts.metrics.counter("dropgate_holds_expired_total", "Holds that expired unconfirmed."),
          parts.metrics.counter("dropgate_sold_out_refusals_total",
                                "Claims and holds refused: sold out."),
          parts.metrics.counter("dropgate_downloads_total", "Downloads by result.",
                                {{"result", "completed"}}),
          parts.metrics.counter("dropgate_downloads_total", "Downloads by result.",
                                {{"result", "failed"}}),
          parts.metrics.counter("dropgate_download_bytes_total", "Body bytes sent for downloads."),
          parts.metrics.counter("dropgate_tokens_issued_total", "Tokens signed."),
      } {}

void OriginService::note_events(const std::vector<store::Event>& events) {
  auto written = parts_.store.append_events(events);
  if (written) return;
  std::string kinds;
  for (const store::Event& e : events) kinds += (kinds.empty() ? "" : ",") + e.kind;
  log::warn("events not recorded", {{"kinds", kinds}, {"error", written.error().to_string()}});
}

store::DropState OriginService::effective_state(const store::Drop& drop, int64_t now_ms) {
  return core::effective_state(drop.state, drop.spec.opens_at_ms, now_ms);
}

// ---------------------------------------------------------------- cache

// A drop whose entry expired is reloaded by one caller while the others keep
// answering from the entry it replaces (a second or so old, as any entry may
// be): under load every handler that met the expiry used to reload it. A drop
// not cached yet, or forgotten after a write here, is loaded by each caller
// that asks for it (none has anything to answer from). A load that began
// before a write on this origin (forget_drop) does not put what it read back
// into the cache, so the next caller sees the write.
Result<OriginService::CachedDrop> OriginService::load_drop(std::string_view slug, bool fresh) {
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

Result<OriginService::CachedDrop> OriginService::read_drop(std::string_view slug, int64_t now_ms) {
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

void OriginService::forget_drop(std::string_view slug) {
  std::lock_guard lock(cache_mutex_);
  ++cache_generation_;
  if (auto it = cache_.find(slug); it != cache_.end()) cache_.erase(it);
}

// ---------------------------------------------------------------- operator

Result<store::Drop> OriginService::create_drop(const store::DropSpec& spec) {
  auto drop = parts_.store.create_drop(spec, parts_.clock.now_ms());
  if (!drop) return error(drop.error());
  log::info("drop created", {{"drop", spec.slug}, {"edition", spec.edition_size}});
  return *drop;
}

Result<store::Drop> OriginService::update_drop(std::string_view slug, const store::DropSpec& spec) {
  auto drop = parts_.store.update_drop(slug, spec, parts_.clock.now_ms());
  forget_drop(slug);
  if (!drop) return error(drop.error());
  return *drop;
}

Result<store::DropSpec> OriginService::current_spec(std::string_view slug) {
  auto cached = load_drop(slug, true);
  if (!cached) return std::unexpected(cached.error());
  return cached->drop.spec;
}

Result<store::AssetRecord> OriginService::add_asset(std::string_view slug, std::string_view path,
                                                    const std::filesystem::path& spooled_file,
                                                    uint64_t size_bytes, std::string_view sha256,
                                                    std::string_view media_type) {
  if (Status s = core::validate_asset_path(path); !s.ok()) return error(s);
  if (Status s = core::validate_media_type(media_type); !s.ok()) return error(s);
  auto cached = load_drop(slug, true);
  if (!cached) return std::unexpected(cached.error());
  if (Status s = core::check_assets_changeable(cached->drop.state, core::AssetChange::add);
      !s.ok()) {
    return error(s);
  }
  if (Status s = parts_.blobs.adopt(spooled_file, sha256); !s.ok()) return error(s);
  store::AssetRecord asset{std::string(path), size_bytes, std::string(sha256),
                           std::string(media_type)};
  if (Status s = parts_.store.put_asset(cached->drop.id, asset); !s.ok()) return error(s);
  log::info("asset stored", {{"drop", std::string(slug)},
                             {"path", std::string(path)},
                             {"bytes", size_bytes},
                             {"sha256", std::string(sha256)}});
  return asset;
}

Result<store::Drop> OriginService::remove_asset(std::string_view slug, std::string_view path) {
  auto cached = load_drop(slug, true);
  if (!cached) return std::unexpected(cached.error());
  if (Status s = core::check_assets_changeable(cached->drop.state, core::AssetChange::remove);
      !s.ok()) {
    return error(s);
  }
  if (Status s = parts_.store.delete_asset(cached->drop.id, path); !s.ok()) return error(s);
  return cached->drop;
}

Result<PublishOutcome> OriginService::publish(std::string_view slug) {
  auto cached = load_drop(slug, true);
  if (!cached) return std::unexpected(cached.error());
  const store::Drop& drop = cached->drop;
  if (drop.state == store::DropState::closed) {
    return error(problem::drop_closed, "a closed drop cannot be published again");
  }
  auto assets = parts_.store.list_assets(drop.id);
  if (!assets) return error(assets.error());
  if (assets->empty()) {
    return error(problem::no_assets, "upload at least one file before publishing");
  }
  int64_t now_ms = parts_.clock.now_ms();
  core::Manifest m;
  m.drop = drop.spec.slug;
  m.version = drop.manifest_version + 1;
  m.issued_at_ms = now_ms;
  m.expires_at_ms = now_ms + to_ms(parts_.config.manifest_ttl);
  m.edition_size = drop.spec.edition_size;
  m.window = {drop.spec.opens_at_ms, drop.spec.closes_at_ms};
  m.rights = drop.spec.rights;
  for (const auto& a : *assets) m.assets.push_back({a.path, a.size_bytes, a.sha256, a.media_type});
  // Nothing changed: a new version would only make edges fetch and verify
  // the same content again. It is re-signed once half its lifetime is gone,
  // so that republishing keeps a manifest from expiring.
  const core::Manifest* current = cached->manifest.get();
  if (current != nullptr && same_content(*current, m) &&
      current->expires_at_ms - now_ms > (m.expires_at_ms - now_ms) / 2) {
    auto record = parts_.store.current_manifest(drop.id);
    if (!record) return error(record.error());
    log::info("publish: nothing changed",
              {{"drop", std::string(slug)}, {"version", record->version}});
    return PublishOutcome{std::move(*record), false};
  }
  auto signed_manifest = core::sign_manifest(m, parts_.signer.key());
  if (!signed_manifest) return error(signed_manifest.error());
  store::ManifestRecord record{m.version, signed_manifest->json, signed_manifest->minisig,
                               hex_encode(crypto::sha256(as_bytes(signed_manifest->json))), now_ms};
  if (Status s = parts_.store.publish_manifest(drop.id, record); !s.ok()) return error(s);
  if (drop.state == store::DropState::draft) {
    auto moved = parts_.store.set_drop_state(slug, {store::DropState::draft},
                                             store::DropState::scheduled, now_ms);
    if (!moved) return error(moved.error());
  }
  forget_drop(slug);
  log::info("manifest published", {{"drop", std::string(slug)}, {"version", m.version}});
  return PublishOutcome{std::move(record), true};
}

Result<store::Drop> OriginService::transition(std::string_view slug,
                                              std::vector<store::DropState> from,
                                              store::DropState to) {
  auto drop = parts_.store.set_drop_state(slug, std::move(from), to, parts_.clock.now_ms());
  forget_drop(slug);
  if (!drop) {
    if (drop.error().code() == Code::conflict) {
      return error(problem::invalid_transition, drop.error().message());
    }
    return error(drop.error());
  }
  log::info("drop state changed",
            {{"drop", std::string(slug)}, {"state", store::drop_state_name(to)}});
  return *drop;
}

Result<store::Drop> OriginService::pause(std::string_view slug) {
  core::DropTransition t = core::transition_for(core::DropAction::pause);
  return transition(slug, t.from, t.to);
}

Result<store::Drop> OriginService::resume(std::string_view slug) {
  core::DropTransition t = core::transition_for(core::DropAction::resume);
  return transition(slug, t.from, t.to);
}

Result<store::Drop> OriginService::close(std::string_view slug) {
  core::DropTransition t = core::transition_for(core::DropAction::close);
  return transition(slug, t.from, t.to);
}

Result<std::string> OriginService::list_drops_json(std::string_view after_slug,
                                                   uint32_t count_max) {
  auto drops = parts_.store.list_drops(after_slug, count_max);
  if (!drops) return error(drops.error());
  boost::json::array out;
  int64_t now_ms = parts_.clock.now_ms();
  for (const auto& d : *drops) {
    auto claims = parts_.store.claim_count(d.id);
    if (!claims) return error(claims.error());
    auto entry = drop_json(d, effective_state(d, now_ms));
    entry["claimed"] = *claims;
    out.push_back(std::move(entry));
  }
  // A full page may have a successor; a short one is the last.
  boost::json::value next_after = nullptr;
  if (!drops->empty() && drops->size() == std::min(count_max, limits::drops_page_count_max)) {
    next_after = drops->back().spec.slug;
  }
  return boost::json::serialize(
      boost::json::object{{"drops", std::move(out)}, {"next_after", next_after}});
}

Result<std::string> OriginService::operator_status_json(std::string_view slug) {
  auto cached = load_drop(slug, true);
  if (!cached) return std::unexpected(cached.error());
  const auto& drop = cached->drop;
  int64_t now_ms = parts_.clock.now_ms();
  auto claims = parts_.store.claim_count(drop.id);
  auto held = parts_.store.live_hold_count(drop.id, now_ms);
  auto unleased = parts_.store.unleased_count(drop.id);
  auto assets = parts_.store.list_assets(drop.id);
  auto downloads = parts_.store.count_events(drop.id, "download.completed");
  if (!claims || !held || !unleased || !assets || !downloads) {
    return error(Status(Code::unavailable, "store unavailable"));
  }
  auto out = drop_json(drop, effective_state(drop, now_ms));
  out["claimed"] = *claims;
  add_availability(out, drop, *claims, *held);
  out["unleased"] = *unleased;
  out["downloads_completed"] = *downloads;
  boost::json::array files;
  for (const auto& a : *assets) {
    files.push_back(boost::json::object{
        {"path", a.path}, {"size", a.size_bytes}, {"sha256", a.sha256}, {"type", a.media_type}});
  }
  out["draft_assets"] = std::move(files);
  return boost::json::serialize(out);
}

// ---------------------------------------------------------------- public

Result<std::string> OriginService::public_drop_json(std::string_view slug) {
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

Result<store::ManifestRecord> OriginService::current_manifest(std::string_view slug) {
  auto cached = load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  if (cached->drop.manifest_version == 0) {
    return error(problem::not_published, "this drop has no manifest yet");
  }
  auto record = parts_.store.current_manifest(cached->drop.id);
  if (!record) return error(record.error());
  return *record;
}

std::string OriginService::keyring_json() const {
  return parts_.keyring.to_json();
}

}  // namespace dg::origin
