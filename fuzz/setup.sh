#!/usr/bin/env bash
# Installs what the fuzz targets need to build, idempotently, as
# scripts/setup.sh does for the rest: clang 16 with its libFuzzer and
# sanitizer runtimes. (clang 14, Debian 12's default, cannot compile
# libstdc++'s std::expected: fuzz/README.md.) Run as root (or with sudo).
set -euo pipefail
"$(dirname "$0")/../scripts/apt_install.sh" "fuzz setup" clang-16 libclang-rt-16-dev
