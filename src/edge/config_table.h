// The table edge.toml is read with (edge/config.cc): every key, the field
// it sets and, for a number, its ceiling from base/limits.h. Apart from
// config.h so that the many files that include it do not see the reader.
#pragma once

#include <span>

#include "base/settings_file.h"
#include "edge/config.h"

namespace dg::edge {

std::span<const Setting<EdgeConfig>> edge_settings();

}  // namespace dg::edge
