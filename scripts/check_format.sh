#!/usr/bin/env bash
# Fails when a C++ file of the project is not laid out as .clang-format says.
# Fix with: git clang-format (the lines you changed) or clang-format -i FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h')
if ! clang-format --dry-run -Werror "${files[@]}"; then
  echo "check_format: the files above differ from .clang-format; run clang-format -i on them" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
