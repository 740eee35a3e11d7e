#include "base/assert.h"

#include <cstdio>
#include <cstdlib>

namespace dg {

void assert_fail(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "dropgate: assertion failed: %s (%s:%d)\n", expr, file, line);
  std::abort();
}

}  // namespace dg
