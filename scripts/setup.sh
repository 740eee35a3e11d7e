#!/usr/bin/env bash
# Installs what dropgate needs to build, test and run on Debian 12, idempotently:
# nothing is downloaded when everything is already there. Run as root (or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

# Build toolchain and libraries. Boost 1.81 is named explicitly: Debian's default
# Boost is 1.74, which lacks parts of Beast, JSON and URL that dropgate uses.
APT_PACKAGES=(
  g++ cmake ninja-build pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsodium-dev libssl-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev libqrencode-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  minisign postgresql jq prometheus unzip sqlite3
  nginx wrk curl openssl
  clang-format universal-ctags
)
# clang-format and universal-ctags hold the layout rules (scripts/check_format.sh,
# scripts/check_layout.sh). nginx and wrk are for the benchmarks, which the test
# run checks in their quick
# mode (BENCH_QUICK=1 bench/run.sh); the benchmark starts its own nginx.

scripts/apt_install.sh setup "${APT_PACKAGES[@]}"

# Node.js runs the interop checks against independent implementations.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: installing nodejs and npm"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -d tests/interop/node_modules ] || [ tests/interop/package-lock.json -nt tests/interop/node_modules ]; then
  echo "setup: installing npm packages for the interop tests"
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error && touch node_modules)
fi
