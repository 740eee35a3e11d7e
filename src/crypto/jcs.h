// RFC 8785 JSON Canonicalization Scheme (JCS): the one byte sequence of a JSON
// value that gets signed, so that signer and verifier agree on the bytes
// whatever whitespace, key order or number spelling the document arrived in.
//
// Contract, beyond RFC 8785 itself:
// - Object members are sorted by UTF-16 code units (RFC 8785 §3.2.3), not by
//   UTF-8 bytes: the two orders differ between U+E000..U+FFFF and U+10000 up.
// - Numbers are written as ECMAScript's Number.prototype.toString writes them
//   (RFC 8785 §3.2.2.3); NaN and Infinity are refused.
// - Integers held as int64/uint64 beyond ±2^53 are refused (invalid_argument):
//   a double cannot hold them exactly, so any verifier that reads the number
//   as I-JSON would see a different value than the one signed.
// - Strings must be valid UTF-8 (invalid_argument otherwise).
// - More than limits::json_depth_max nested arrays/objects: limit_exceeded.
// Thread safety: pure functions, safe to call concurrently.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dg::crypto {

// The canonical UTF-8 text of `value`.
Result<std::string> jcs_canonicalize(const boost::json::value& value);

// Parses `json_untrusted` strictly and returns its canonical text. Refuses
// (limit_exceeded) text longer than `bytes_max` or nested deeper than
// limits::json_depth_max, and (invalid_argument) anything that is not one
// I-JSON value (RFC 7493): syntax errors, trailing data, duplicate object keys,
// invalid UTF-8, lone surrogate escapes, numbers outside the range of a double
// (1e400, and 1e-400 too rather than reading 0), and integer literals beyond
// ±2^53 that a double would change (9007199254740993). Integer literals beyond
// ±2^53 that are already ECMAScript's spelling of a double
// (295147905179352830000) are accepted, so canonical output always parses back.
// Numbers are read with correct rounding (std::from_chars), not with Boost.JSON
// 1.81's faster reader, which is one unit in the last place off for some inputs.
Result<std::string> jcs_canonicalize_text(std::string_view json_untrusted, size_t bytes_max);

}  // namespace dg::crypto
