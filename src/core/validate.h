// Checks for the small strings that cross dropgate's boundaries. Each returns
// invalid_argument with a message that says what a good value looks like.
#pragma once

#include <string_view>

#include "base/status.h"

namespace dg::core {

// Drop slugs: 1..64 of [a-z0-9-], starting with a letter or digit.
Status validate_slug(std::string_view slug_untrusted);

// Account ids, transaction ids, reader ids: 1..128 printable ASCII, no spaces.
Status validate_identifier(std::string_view id_untrusted, std::string_view what);

// An officially assigned ISO 3166-1 alpha-2 code, upper case ("FR", "JP").
Status validate_territory(std::string_view code_untrusted);

// An ISO 4217-shaped currency code: three upper-case letters.
Status validate_currency(std::string_view code_untrusted);

// "type/subtype" with RFC 6838 characters, at most 127 bytes.
Status validate_media_type(std::string_view type_untrusted);

// A path inside a drop: relative, normalised ("a/b.flac", never "./a", "a//b",
// "a/../b" or "/a"), no backslashes, no control characters, valid UTF-8,
// bounded in length, depth and segment size.
Status validate_asset_path(std::string_view path_untrusted);

}  // namespace dg::core
