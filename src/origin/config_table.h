// The table dropgate.toml is read with (origin/config.cc): every key, the field
// it sets and, for a number, its ceiling from base/limits.h. Apart from
// config.h so that the many files that include it do not see the reader.
#pragma once

#include <span>

#include "base/settings_file.h"
#include "origin/config.h"

namespace dg::origin {

std::span<const Setting<OriginConfig>> origin_settings();

}  // namespace dg::origin
