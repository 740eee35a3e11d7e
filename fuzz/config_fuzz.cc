// The TOML config readers: the origin's (dropgate.toml) and the edge's
// (edge.toml), each through base/settings_file.h and toml++, then the checks
// that follow a file at start-up. The input is the file's text; it is
// written to a file of its own, since the readers take a path.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "base/assert.h"
#include "edge/config.h"
#include "origin/config.h"

namespace {

namespace fs = std::filesystem;

// One folder per process, removed when it exits. The path is never
// destroyed: static destructors run before the atexit handler that uses it.
const fs::path& config_path() {
  static const fs::path* const path = [] {
    fs::path folder =
        fs::temp_directory_path() / ("dropgate-fuzz-config-" + std::to_string(::getpid()));
    fs::create_directories(folder);
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(config_path().parent_path(), ignored);
    });
    return new fs::path(folder / "config.toml");
  }();
  return *path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    std::ofstream file(config_path(), std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    DG_ASSERT(file.good());
  }
  dg::origin::OriginConfig origin;
  dg::Status loaded = dg::origin::load_config_file(config_path(), origin);
  if (loaded.ok()) {
    (void)dg::origin::finish_config(origin);
  } else {
    DG_ASSERT(!loaded.message().empty());
  }
  dg::edge::EdgeConfig edge;
  loaded = dg::edge::load_edge_config_file(config_path(), edge);
  if (loaded.ok()) {
    (void)dg::edge::check_edge_config(edge);
  } else {
    DG_ASSERT(!loaded.message().empty());
  }
  return 0;
}
