#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs,
# builds the release and the ASan+UBSan presets, and runs every test; then
# builds the fuzz targets and runs each for a bounded time (fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# Rules a compiler does not hold, checked first: they take seconds.
echo "== layout: formatting, module includes, file and function sizes"
scripts/check_format.sh
scripts/check_layout.sh

jobs=$(nproc)
scripts/build.sh release
echo "== release: all tests"
ctest --preset release -j "$jobs" --no-tests=error

if [ "${DROPGATE_SKIP_BENCH:-0}" != 1 ]; then
  # Seconds per benchmark, so the scripts cannot rot: a broken script fails
  # the run. No goal is judged and nothing is written outside build/.
  echo "== benchmarks, quick mode (BENCH_QUICK=1 bench/run.sh)"
  BENCH_QUICK=1 bench/run.sh
fi

if [ "${DROPGATE_SKIP_ASAN:-0}" != 1 ]; then
  scripts/build.sh asan
  echo "== ASan+UBSan: unit tests"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --preset asan -j "$jobs" --no-tests=error
fi
if [ "${DROPGATE_SKIP_FUZZ:-0}" != 1 ]; then
  fuzz/setup.sh
  scripts/build.sh fuzz
  echo "== fuzz targets, ${DROPGATE_FUZZ_SECONDS:-20} s each under ASan+UBSan (fuzz/run.sh)"
  fuzz/run.sh
fi
echo "== all suites passed"
