#!/usr/bin/env bash
# Installs what the fuzz targets need to build, idempotently, as
# scripts/setup.sh does for the rest: clang 16 with its libFuzzer and
# sanitizer runtimes. (clang 14, Debian 12's default, cannot compile
# libstdc++'s std::expected: fuzz/README.md.) Run as root (or with sudo).
set -euo pipefail
APT_PACKAGES=(clang-16 libclang-rt-16-dev)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "fuzz setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
