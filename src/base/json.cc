#include "base/json.h"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <string>
#include <utility>
#include <vector>

#include "base/limits.h"

namespace dg::json {
namespace {

Status invalid(std::string_view what, std::string_view key, std::string_view problem) {
  return Status(Code::invalid_argument,
                std::string(what) + ": field \"" + std::string(key) + "\" " + std::string(problem));
}

// The keys of the objects open during a scan: their text one after another
// in `text`, each key as its place there in `keys`, and for each open object
// the index in `keys` of its first. A thread's buffers serve all its scans,
// so a scan allocates nothing once they have grown.
constexpr size_t kKeyStackBytesKept = 64 * 1024;

struct KeyStack {
  std::string text;
  std::vector<std::pair<size_t, size_t>> keys;  // offset in text, length
  std::vector<size_t> starts;
};

// Boost.JSON's value parser keeps the last of duplicate keys; RFC 8785 and
// our signatures need exactly one meaning per document, so a SAX pass over
// the text refuses duplicates before the value is built. An object's keys
// are compared when it ends, sorted: O(n log n) for n keys however many.
class DuplicateKeyScan {
 public:
  static constexpr size_t max_object_size = size_t(-1);
  static constexpr size_t max_array_size = size_t(-1);
  static constexpr size_t max_key_size = size_t(-1);
  static constexpr size_t max_string_size = size_t(-1);

  explicit DuplicateKeyScan(KeyStack& stack) : stack_(stack) {
    stack_.text.clear();
    stack_.keys.clear();
    stack_.starts.clear();
  }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(size_t, boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    stack_.starts.push_back(stack_.keys.size());
    return true;
  }
  bool on_object_end(size_t, boost::system::error_code& ec) {
    const size_t first = stack_.starts.back();
    stack_.starts.pop_back();
    if (first == stack_.keys.size()) return true;
    const size_t text_start = stack_.keys[first].first;  // nested objects' keys are gone
    const std::string_view text = stack_.text;
    auto key = [&](const std::pair<size_t, size_t>& at) {
      return text.substr(at.first, at.second);
    };
    auto begin = stack_.keys.begin() + static_cast<ptrdiff_t>(first);
    std::sort(begin, stack_.keys.end(),
              [&](const auto& a, const auto& b) { return key(a) < key(b); });
    duplicate_ = std::adjacent_find(begin, stack_.keys.end(), [&](const auto& a, const auto& b) {
                   return key(a) == key(b);
                 }) != stack_.keys.end();
    stack_.keys.resize(first);
    stack_.text.resize(text_start);
    if (duplicate_) ec = boost::json::error::syntax;  // reported as "duplicate key" below
    return !duplicate_;
  }
  bool on_string_part(boost::json::string_view, size_t, boost::system::error_code&) { return true; }
  bool on_string(boost::json::string_view, size_t, boost::system::error_code&) { return true; }
  bool on_key_part(boost::json::string_view s, size_t, boost::system::error_code&) {
    if (!key_open_) key_start_ = stack_.text.size();
    key_open_ = true;
    stack_.text.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, size_t, boost::system::error_code& ec) {
    on_key_part(s, 0, ec);
    key_open_ = false;
    stack_.keys.emplace_back(key_start_, stack_.text.size() - key_start_);
    return true;
  }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(int64_t, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_uint64(uint64_t, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_double(double, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_bool(bool, boost::system::error_code&) { return true; }
  bool on_null(boost::system::error_code&) { return true; }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }

  bool duplicate() const { return duplicate_; }

 private:
  KeyStack& stack_;
  size_t key_start_ = 0;
  bool key_open_ = false;
  bool duplicate_ = false;
};

bool has_duplicate_keys(std::string_view text) {
  boost::json::parse_options options;
  options.max_depth = limits::json_depth_max;
  thread_local KeyStack stack;
  boost::json::basic_parser<DuplicateKeyScan> parser(options, stack);
  boost::system::error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  const bool duplicate = parser.handler().duplicate();
  if (stack.text.capacity() > kKeyStackBytesKept) stack = KeyStack();  // after a rare big one
  return duplicate;
}

}  // namespace

Result<boost::json::value> parse(std::string_view text_untrusted, size_t bytes_max,
                                 boost::json::storage_ptr storage) {
  if (text_untrusted.size() > bytes_max) {
    return error(Code::too_large,
                 "JSON document is larger than " + std::to_string(bytes_max) + " bytes");
  }
  boost::json::parse_options options;
  options.max_depth = limits::json_depth_max;
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text_untrusted, ec, std::move(storage), options);
  if (ec) return error(Code::invalid_argument, "malformed JSON: " + ec.message());
  if (has_duplicate_keys(text_untrusted)) {
    return error(Code::invalid_argument, "JSON object has a duplicate key");
  }
  return value;
}

Result<boost::json::object> parse_object(std::string_view text_untrusted, size_t bytes_max,
                                         boost::json::storage_ptr storage) {
  auto value = parse(text_untrusted, bytes_max, std::move(storage));
  if (!value) return error(value.error());
  if (!value->is_object()) return error(Code::invalid_argument, "JSON document is not an object");
  return std::move(value->as_object());
}

Result<std::string> get_string(const boost::json::object& object, std::string_view key,
                               std::string_view what, size_t bytes_max) {
  auto value = get_optional_string(object, key, what, bytes_max);
  if (!value) return error(value.error());
  if (!*value) return error(invalid(what, key, "is missing"));
  return std::move(**value);
}

Result<std::optional<std::string>> get_optional_string(const boost::json::object& object,
                                                       std::string_view key, std::string_view what,
                                                       size_t bytes_max) {
  auto text = get_optional_string_view(object, key, what, bytes_max);
  if (!text) return error(text.error());
  if (!*text) return std::optional<std::string>();
  return std::optional<std::string>(std::string(**text));
}

Result<std::optional<std::string_view>> get_optional_string_view(const boost::json::object& object,
                                                                 std::string_view key,
                                                                 std::string_view what,
                                                                 size_t bytes_max) {
  const auto* value = object.if_contains(key);
  if (!value) return std::optional<std::string_view>();
  const auto* text = value->if_string();
  if (!text) return error(invalid(what, key, "must be a string"));
  if (text->size() > bytes_max) {
    return error(invalid(what, key, "is longer than " + std::to_string(bytes_max) + " bytes"));
  }
  return std::optional<std::string_view>(std::string_view(*text));
}

Result<int64_t> get_int(const boost::json::object& object, std::string_view key,
                        std::string_view what, int64_t min, int64_t max) {
  const auto* value = object.if_contains(key);
  if (!value) return error(invalid(what, key, "is missing"));
  int64_t result;
  if (const auto* i = value->if_int64()) {
    result = *i;
  } else if (const auto* u = value->if_uint64()) {
    if (*u > static_cast<uint64_t>(INT64_MAX)) return error(invalid(what, key, "is out of range"));
    result = static_cast<int64_t>(*u);
  } else {
    return error(invalid(what, key, "must be a whole number"));
  }
  if (result < min || result > max) {
    return error(invalid(what, key,
                         "must be between " + std::to_string(min) + " and " + std::to_string(max)));
  }
  return result;
}

Result<const boost::json::object*> get_object(const boost::json::object& object,
                                              std::string_view key, std::string_view what) {
  const auto* value = object.if_contains(key);
  if (!value) return error(invalid(what, key, "is missing"));
  if (!value->is_object()) return error(invalid(what, key, "must be an object"));
  return &value->as_object();
}

Result<const boost::json::array*> get_array(const boost::json::object& object, std::string_view key,
                                            std::string_view what, size_t count_max) {
  const auto* value = object.if_contains(key);
  if (!value) return error(invalid(what, key, "is missing"));
  if (!value->is_array()) return error(invalid(what, key, "must be an array"));
  if (value->as_array().size() > count_max) {
    return error(Code::too_large, std::string(what) + ": field \"" + std::string(key) +
                                      "\" has more than " + std::to_string(count_max) + " items");
  }
  return &value->as_array();
}

Status only_keys(const boost::json::object& object, std::initializer_list<std::string_view> allowed,
                 std::string_view what) {
  for (const auto& member : object) {
    if (std::find(allowed.begin(), allowed.end(), member.key()) == allowed.end()) {
      return invalid(what, member.key(), "is not allowed here");
    }
  }
  return Status();
}

}  // namespace dg::json
