#!/usr/bin/env bash
# Checks the rules of docs/DESIGN.md ("Module layout") that a compiler does not:
#
#   1. A module includes only its own headers and those of modules below it in
#      the layering; modules on the same level never include each other.
#   2. A module's private headers (named internal.h or *_internal.h) are
#      included only by the module's own files.
#   3. No file in src/ is longer than 800 lines, and no function longer than
#      70 lines (functions as universal-ctags sees them: a lambda counts with
#      the function around it; gtest's TEST bodies are not counted).
#
# Prints every violation, one per line, and exits 1 if there is any.
# Usage: scripts/check_layout.sh
set -euo pipefail
cd "$(dirname "$0")/.."

readonly file_lines_max=800 function_lines_max=70

# The layering, bottom up (docs/DESIGN.md). `support` is tests/support,
# which any test may include.
declare -A level=([base]=0 [crypto]=1 [core]=2 [store]=3 [http]=4 [origin]=5 [edge]=5 [cli]=6)

violations=0
violation() {
  echo "check_layout: $*"
  violations=$((violations + 1))
}

mapfile -t files < <(git ls-files 'src/*.cc' 'src/*.h')

for file in "${files[@]}"; do
  module=${file#src/}
  module=${module%%/*}
  [[ -n "${level[$module]:-}" ]] || { violation "$file: module '$module' is not in the layering (add it to docs/DESIGN.md and this script)"; continue; }
  is_test=0
  [[ "$file" == *_test.cc ]] && is_test=1
  while IFS=: read -r line_no included; do
    target=${included%%/*}
    if [[ "$target" == support ]]; then
      ((is_test)) || violation "$file:$line_no: only tests include tests/support ($included)"
      continue
    fi
    [[ -n "${level[$target]:-}" ]] || continue  # a system or third-party header in quotes
    if [[ "$target" != "$module" ]]; then
      if ((level[$target] >= level[$module])); then
        violation "$file:$line_no: $module may not include $included ($target is not below $module)"
      fi
      case "${included##*/}" in
        internal.h | *_internal.h) violation "$file:$line_no: $included is private to $target" ;;
      esac
    fi
  done < <(grep -n -oE '^#include "[a-z_]+/[^"]+"' "$file" | sed -E 's/^([0-9]+):#include "(.*)"/\1:\2/')
done

for file in "${files[@]}"; do
  lines=$(wc -l < "$file")
  ((lines <= file_lines_max)) || violation "$file: $lines lines (at most $file_lines_max)"
  while read -r name length; do
    violation "$file: function $name is $length lines (at most $function_lines_max)"
  done < <(ctags -o - --fields=+ne --kinds-C++=f --language-force=C++ "$file" |
    awk -F'\t' -v max="$function_lines_max" '{
      first = ""; last = ""
      for (i = 4; i <= NF; i++) {
        if ($i ~ /^line:/) first = substr($i, 6)
        if ($i ~ /^end:/) last = substr($i, 5)
      }
      if (last != "" && last - first + 1 > max) print $1, last - first + 1
    }')
done

if ((violations > 0)); then
  echo "check_layout: $violations violation(s) of docs/DESIGN.md's module layout"
  exit 1
fi
echo "check_layout: ${#files[@]} files follow the module layout"
