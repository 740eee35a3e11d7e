// http::parse_range, which reads a client's Range field against a file's
// size. Input: the file's size in decimal and a newline, then the field's
// value (without that first line, the whole input is the value and the size
// is 1000). Checks that a range it yields lies within the file and that a
// refusal is the 416 kind (invalid_argument).
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "base/assert.h"
#include "http/http.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  uint64_t size_bytes = 1000;
  if (size_t newline = input.find('\n'); newline != std::string_view::npos && newline <= 20) {
    uint64_t parsed = 0;
    auto [end, ec] = std::from_chars(input.data(), input.data() + newline, parsed);
    if (ec == std::errc() && end == input.data() + newline) {
      size_bytes = parsed;
      input.remove_prefix(newline + 1);
    }
  }
  dg::Result<std::optional<dg::http::ByteRange>> range = dg::http::parse_range(input, size_bytes);
  if (!range) {
    DG_ASSERT(range.error().code() == dg::Code::invalid_argument);
    return 0;
  }
  if (!*range) return 0;  // served whole
  DG_ASSERT(size_bytes > 0);
  DG_ASSERT((*range)->first <= (*range)->last);
  DG_ASSERT((*range)->last < size_bytes);
  return 0;
}
