// DG_ASSERT guards invariants that dropgate's own code guarantees. It stays on
// in release builds: a broken invariant stops the process rather than letting
// it sell a serial twice. Never assert on input that has not been checked.
#pragma once

namespace dg {
[[noreturn]] void assert_fail(const char* expr, const char* file, int line);
}

#define DG_ASSERT(expr) \
  ((expr) ? static_cast<void>(0) : ::dg::assert_fail(#expr, __FILE__, __LINE__))
