#pragma once

#include <string>
#include <string_view>

namespace dg::core {

// The media type for a file name, from its extension; "application/octet-stream"
// when unknown. Used when packing; operators can correct it in the manifest.
std::string guess_media_type(std::string_view path);

}  // namespace dg::core
