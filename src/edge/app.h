// Running an edge: `dropgate edge enroll`, `preload` and `serve`.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"
#include "edge/config.h"

namespace dg::edge {

struct EnrollOutcome {
  int64_t edge_id = 0;
  std::string key_id;
  std::string origin_key_ids;  // the origin keys now pinned, comma separated
};

// Creates the edge's key, asks the origin to register it, and pins the
// origin's keyring. Refuses to enroll again unless `force`.
Result<EnrollOutcome> enroll(const EdgeConfig& config, const std::string& origin_url,
                             const std::string& name, bool force);

// Syncs once and prints a readiness report per drop on stdout. Returns ok
// only when every granted drop is present and verified.
Status preload(const EdgeConfig& config);

// Serves until SIGTERM/SIGINT, syncing in the background.
Status serve(const EdgeConfig& config, const std::function<void(uint16_t port)>& on_listening);

}  // namespace dg::edge
