// DropAdmin: what an operator does to drops: create and change them, upload
// and remove their files, publish signed manifests, move them through their
// states (core/drop.h), and list them with their counts.
//
// Thread safety: every method is safe to call from many handler threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "core/token.h"
#include "origin/blob_store.h"
#include "origin/config.h"
#include "origin/drop_catalog.h"
#include "store/store.h"

namespace dg::origin {

struct PublishOutcome {
  store::ManifestRecord manifest;
  bool changed = true;  // false: nothing changed, `manifest` is the current version
};

class DropAdmin {
 public:
  struct Parts {
    store::Store& store;
    BlobStore& blobs;
    const core::TokenSigner& signer;  // signs manifests
    const Clock& clock;
    const OriginConfig& config;
    DropCatalog& catalog;  // what is read fresh; forgotten after every change
  };
  explicit DropAdmin(Parts parts) : parts_(parts) {}

  Result<store::Drop> create_drop(const store::DropSpec& spec);
  Result<store::Drop> update_drop(std::string_view slug, const store::DropSpec& spec);
  Result<store::DropSpec> current_spec(std::string_view slug);
  Result<store::AssetRecord> add_asset(std::string_view slug, std::string_view path,
                                       const std::filesystem::path& spooled_file,
                                       uint64_t size_bytes, std::string_view sha256,
                                       std::string_view media_type);
  Result<store::Drop> remove_asset(std::string_view slug, std::string_view path);
  // Signs and stores the next manifest version from the drop's assets; a
  // draft becomes scheduled (or live once its window opens). When the content
  // (drop, edition, window, rights, assets) equals the current version's and
  // that version has more than half its lifetime left, signs nothing and
  // returns the current version (changed: false).
  Result<PublishOutcome> publish(std::string_view slug);
  Result<store::Drop> pause(std::string_view slug);
  Result<store::Drop> resume(std::string_view slug);
  Result<store::Drop> close(std::string_view slug);
  Result<std::string> operator_status_json(std::string_view slug);
  // One page of drops by slug, after `after_slug` (from the first when empty),
  // each with its claimed count; "next_after" names the cursor of the next
  // page, null on the last one.
  Result<std::string> list_drops_json(std::string_view after_slug, uint32_t count_max);

 private:
  Result<store::Drop> transition(std::string_view slug, std::vector<store::DropState> from,
                                 store::DropState to);

  Parts parts_;
};

}  // namespace dg::origin
