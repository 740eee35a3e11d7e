#!/usr/bin/env bash
# Configures (once) and builds a preset: release (default) or asan.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
dir=build
[ "$preset" = release ] || dir="build-$preset"
[ -f "$dir/build.ninja" ] || cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
