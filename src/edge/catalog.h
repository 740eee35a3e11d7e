// Catalog: what this edge holds and trusts right now — the origin's keyring,
// the revocation list, the grant, and the drops it carries (verified
// manifests whose every blob is present and verified). Readers take cheap
// immutable snapshots; the syncer swaps in new ones atomically, so a request
// never sees a half-updated drop.
//
// Thread safety: all methods are safe to call concurrently.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "core/manifest.h"
#include "core/token.h"
#include "crypto/keyring.h"
#include "edge/config.h"

namespace dg::edge {

struct CarriedDrop {
  core::Manifest manifest;
  std::string manifest_json;
  std::string manifest_minisig;
  std::string manifest_sha256;
  std::map<std::string, uint32_t> crc32_by_sha256;  // for the ZIP archive
  int64_t switched_at_ms = 0;
};

struct Revocations {
  std::set<std::string> certificate_ids;
  int64_t issued_at_ms = 0;
};

// What the syncer last managed, for /healthz and metrics.
struct SyncHealth {
  int64_t last_attempt_ms = 0;
  int64_t last_success_ms = 0;
  std::string last_error;
  bool origin_reachable = false;   // as the last finished round found it
  int64_t in_flight_since_ms = 0;  // a round under way since then; 0: none
  int64_t heard_at_ms = 0;         // when the origin last sent bytes

  // Whether the origin counts as reachable at `now_ms`: as the last round
  // found it, unless the round under way has heard nothing from the origin
  // for longer than `silence_ms_max` (a frozen origin, before the call's own
  // deadline ends the round).
  bool reachable_at(int64_t now_ms, int64_t silence_ms_max) const {
    if (in_flight_since_ms > 0 &&
        now_ms - std::max(in_flight_since_ms, heard_at_ms) > silence_ms_max)
      return false;
    return origin_reachable;
  }
};

class Catalog {
 public:
  // `clock` judges the expiry of stored manifests and of the stored grant.
  explicit Catalog(const EdgeConfig& config, const Clock& clock = system_clock())
      : config_(config), clock_(clock) {}

  // Loads the persisted state (pinned keyring, revocations, versions, grant,
  // carried drops). Missing pieces are simply absent; a stored drop that fails
  // verification (signature, key, rollback, expiry) is not carried.
  Status load();

  // What a download needs, read under one lock (the handler runs for every
  // download, on the I/O threads).
  struct Serving {
    std::shared_ptr<const core::VerifiedEdgeGrant> grant;  // null: none
    std::shared_ptr<const crypto::Keyring> keyring;        // null: not enrolled
    std::shared_ptr<const Revocations> revocations;
    std::shared_ptr<const CarriedDrop> drop;  // null: not carried
  };
  Serving serving(std::string_view slug) const;

  std::shared_ptr<const crypto::Keyring> keyring() const;
  std::shared_ptr<const Revocations> revocations() const;
  std::shared_ptr<const CarriedDrop> drop(std::string_view slug) const;
  std::map<std::string, std::shared_ptr<const CarriedDrop>> drops() const;
  // Shared, not copied: it is read on every download.
  std::shared_ptr<const core::VerifiedEdgeGrant> grant() const;
  std::string grant_token() const;
  int64_t version_seen(std::string_view slug) const;
  SyncHealth health() const;

  // Each persists first, then swaps the snapshot.
  Status set_keyring(const std::string& keyring_json);
  Status set_revocations(const std::string& json, const std::string& minisig, Revocations parsed);
  Status set_grant(const std::string& token, core::VerifiedEdgeGrant grant);
  // Forgets the grant (the origin refused it); nothing is served until a new one arrives.
  void clear_grant();
  Status set_drop(const std::string& slug, std::shared_ptr<const CarriedDrop> drop);
  Status remove_drop(const std::string& slug);
  void set_health(SyncHealth health);
  // The origin sent bytes at `at_ms` (a response, a piece of a blob).
  void note_origin_heard(int64_t at_ms);

 private:
  Status load_drop(const std::filesystem::path& file);
  Status save_versions_locked();

  const EdgeConfig& config_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::shared_ptr<const crypto::Keyring> keyring_;
  std::shared_ptr<const Revocations> revocations_ = std::make_shared<Revocations>();
  std::map<std::string, std::shared_ptr<const CarriedDrop>, std::less<>> drops_;
  std::map<std::string, int64_t, std::less<>> versions_;
  std::shared_ptr<const core::VerifiedEdgeGrant> grant_;
  std::string grant_token_;
  SyncHealth health_;
};

// Parses and checks a signed revocation list against `keyring`.
Result<Revocations> verify_revocations(const crypto::Keyring& keyring,
                                       std::string_view json_untrusted,
                                       std::string_view minisig_untrusted);

}  // namespace dg::edge
