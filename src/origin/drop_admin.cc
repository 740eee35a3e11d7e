#include "origin/drop_admin.h"

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

Result<store::Drop> DropAdmin::create_drop(const store::DropSpec& spec) {
  auto drop = parts_.store.create_drop(spec, parts_.clock.now_ms());
  if (!drop) return error(drop.error());
  log::info("drop created", {{"drop", spec.slug}, {"edition", spec.edition_size}});
  return *drop;
}

Result<store::Drop> DropAdmin::update_drop(std::string_view slug, const store::DropSpec& spec) {
  auto drop = parts_.store.update_drop(slug, spec, parts_.clock.now_ms());
  parts_.catalog.forget_drop(slug);
  if (!drop) return error(drop.error());
  return *drop;
}

Result<store::DropSpec> DropAdmin::current_spec(std::string_view slug) {
  auto cached = parts_.catalog.load_drop(slug, true);
  if (!cached) return std::unexpected(cached.error());
  return cached->drop.spec;
}

Result<store::AssetRecord> DropAdmin::add_asset(std::string_view slug, std::string_view path,
                                                const std::filesystem::path& spooled_file,
                                                uint64_t size_bytes, std::string_view sha256,
                                                std::string_view media_type) {
  if (Status s = core::validate_asset_path(path); !s.ok()) return error(s);
  if (Status s = core::validate_media_type(media_type); !s.ok()) return error(s);
  auto cached = parts_.catalog.load_drop(slug, true);
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

Result<store::Drop> DropAdmin::remove_asset(std::string_view slug, std::string_view path) {
  auto cached = parts_.catalog.load_drop(slug, true);
  if (!cached) return std::unexpected(cached.error());
  if (Status s = core::check_assets_changeable(cached->drop.state, core::AssetChange::remove);
      !s.ok()) {
    return error(s);
  }
  if (Status s = parts_.store.delete_asset(cached->drop.id, path); !s.ok()) return error(s);
  return cached->drop;
}

Result<PublishOutcome> DropAdmin::publish(std::string_view slug) {
  auto cached = parts_.catalog.load_drop(slug, true);
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
  parts_.catalog.forget_drop(slug);
  log::info("manifest published", {{"drop", std::string(slug)}, {"version", m.version}});
  return PublishOutcome{std::move(record), true};
}

Result<store::Drop> DropAdmin::transition(std::string_view slug, std::vector<store::DropState> from,
                                          store::DropState to) {
  auto drop = parts_.store.set_drop_state(slug, std::move(from), to, parts_.clock.now_ms());
  parts_.catalog.forget_drop(slug);
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

Result<store::Drop> DropAdmin::pause(std::string_view slug) {
  core::DropTransition t = core::transition_for(core::DropAction::pause);
  return transition(slug, t.from, t.to);
}

Result<store::Drop> DropAdmin::resume(std::string_view slug) {
  core::DropTransition t = core::transition_for(core::DropAction::resume);
  return transition(slug, t.from, t.to);
}

Result<store::Drop> DropAdmin::close(std::string_view slug) {
  core::DropTransition t = core::transition_for(core::DropAction::close);
  return transition(slug, t.from, t.to);
}

Result<std::string> DropAdmin::list_drops_json(std::string_view after_slug, uint32_t count_max) {
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

Result<std::string> DropAdmin::operator_status_json(std::string_view slug) {
  auto cached = parts_.catalog.load_drop(slug, true);
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

}  // namespace dg::origin
