// A string buffer each thread keeps between uses, for text built on a hot
// path (an access log line, a response header, an outbox event): taking it
// instead of starting a fresh string saves an allocation per use.
#pragma once

#include <cstddef>
#include <string>

namespace dg {

namespace spare_string_internal {
inline thread_local std::string spare;
inline constexpr size_t kept_bytes_max = 16 * 1024;
}  // namespace spare_string_internal

// Moves the thread's spare buffer into `text`, cleared (no buffer when another
// holder on this thread has it).
inline void take_spare_string(std::string& text) {
  text.swap(spare_string_internal::spare);
  text.clear();
}

// Keeps `text`'s buffer for the thread's next take when it is larger than the
// one kept (and not huge); leaves `text` empty.
inline void give_back_spare_string(std::string& text) {
  std::string& spare = spare_string_internal::spare;
  if (text.capacity() <= spare_string_internal::kept_bytes_max &&
      spare.capacity() < text.capacity()) {
    text.clear();
    spare.swap(text);
  }
  std::string().swap(text);
}

}  // namespace dg
