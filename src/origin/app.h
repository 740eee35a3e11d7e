// Starting an origin: `dropgate init` prepares a data folder, `dropgate serve`
// runs the server until SIGTERM/SIGINT.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"
#include "origin/config.h"

namespace dg::origin {

struct InitOutcome {
  std::string api_key;  // shown once; only its hash is stored
  std::string key_id;   // the origin's signing key
  bool created_key = false;
};

// Creates the data folder, the origin signing key (unless present), the
// database schema, and a new operator API key.
Result<InitOutcome> init_data_dir(const OriginConfig& config);

// Runs the origin until a signal or until `stop` is set; `on_listening` is
// called with the bound port once requests are accepted.
Status serve(const OriginConfig& config, const std::function<void(uint16_t port)>& on_listening);

}  // namespace dg::origin
