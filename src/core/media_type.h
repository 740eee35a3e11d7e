#pragma once

#include <string>
#include <string_view>

namespace dg::core {

// The media type for a file name, from its extension; "application/octet-stream"
// when unknown. The one source of an asset's media type: the origin ignores an
// upload's Content-Type, which careless clients set to anything.
std::string guess_media_type(std::string_view path);

}  // namespace dg::core
