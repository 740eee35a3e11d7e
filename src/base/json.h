// Untrusted JSON, parsed once at the boundary with bounded size and depth,
// and small typed accessors that say which field was wrong.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dg::json {

// Parses a JSON text of at most `bytes_max` bytes and limits::json_depth_max
// nesting; refuses comments, trailing commas and duplicate object keys. The
// value's memory comes from `storage` (e.g. a monotonic_resource on the
// stack for a value that dies with the caller's frame; default: the heap).
Result<boost::json::value> parse(std::string_view text_untrusted, size_t bytes_max,
                                 boost::json::storage_ptr storage = {});

// Parses and requires an object at the top.
Result<boost::json::object> parse_object(std::string_view text_untrusted, size_t bytes_max,
                                         boost::json::storage_ptr storage = {});

// Field accessors; `what` names the object in error messages ("manifest").
Result<std::string> get_string(const boost::json::object& object, std::string_view key,
                               std::string_view what, size_t bytes_max);
Result<std::optional<std::string>> get_optional_string(const boost::json::object& object,
                                                       std::string_view key, std::string_view what,
                                                       size_t bytes_max);
// As get_optional_string, without a copy: the text stays `object`'s.
Result<std::optional<std::string_view>> get_optional_string_view(const boost::json::object& object,
                                                                 std::string_view key,
                                                                 std::string_view what,
                                                                 size_t bytes_max);
// An integer in [min, max] (JSON numbers that are whole and fit).
Result<int64_t> get_int(const boost::json::object& object, std::string_view key,
                        std::string_view what, int64_t min, int64_t max);
Result<const boost::json::object*> get_object(const boost::json::object& object,
                                              std::string_view key, std::string_view what);
Result<const boost::json::array*> get_array(const boost::json::object& object, std::string_view key,
                                            std::string_view what, size_t count_max);

// Refuses members other than `allowed`, so a typo is an error, not a silent default.
Status only_keys(const boost::json::object& object, std::initializer_list<std::string_view> allowed,
                 std::string_view what);

}  // namespace dg::json
