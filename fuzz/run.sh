#!/usr/bin/env bash
# Runs each fuzz target (all of them, or those named: request_head jcs …) for
# a bounded time under ASan and UBSan, as many at once as there are cores,
# starting from its seed corpus in fuzz/corpus/NAME. Exits non-zero on any
# finding (a crash, a failed check, a leak, a timeout, memory over the
# limit), after printing the target's log and the input that found it.
# Build the targets first: scripts/build.sh fuzz.
#   DROPGATE_FUZZ_SECONDS  seconds per target (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${DROPGATE_FUZZ_SECONDS:-20}
bin=build-fuzz/fuzz
work=build-fuzz/fuzz-runs
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(ls fuzz/corpus)
fi
for name in "${targets[@]}"; do
  [ -x "$bin/fuzz_$name" ] || { echo "fuzz: no target $bin/fuzz_$name (scripts/build.sh fuzz)" >&2; exit 2; }
done
rm -rf "$work"
# clang 16's sanitizers look for a symbolizer of their own version, which only
# the large llvm-16 package has; any llvm-symbolizer names source lines.
symbolizer=""
for tool in /usr/lib/llvm-16/bin/llvm-symbolizer "$(command -v llvm-symbolizer || true)"; do
  if [ -x "$tool" ]; then
    symbolizer=":external_symbolizer_path=$tool"
    break
  fi
done

# New inputs go to a scratch corpus under build-fuzz/; the seeds stay as committed.
# -timeout: seconds one input may take; -rss_limit_mb: the process's memory ceiling.
run_one() {
  local name=$1 dir=$work/$1
  local dict=()
  [ -f "fuzz/dict/$name.dict" ] && dict=(-dict="fuzz/dict/$name.dict")
  mkdir -p "$dir/corpus"
  set +e
  ASAN_OPTIONS=detect_leaks=1$symbolizer UBSAN_OPTIONS=print_stacktrace=1$symbolizer \
    "$bin/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/" "${dict[@]}" "$dir/corpus" "fuzz/corpus/$name" \
    >"$dir/log" 2>&1
  echo $? >"$dir/rc"
}

jobs=$(nproc)
for name in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_one "$name" &
done
wait

failed=0
for name in "${targets[@]}"; do
  dir=$work/$name
  rc=$(cat "$dir/rc")
  done_line=$(grep -m1 -E '^#[0-9]+[[:space:]]+DONE' "$dir/log" || true)
  if [ "$rc" = 0 ]; then
    echo "fuzz_$name: ok ${done_line:+(${done_line})}"
    continue
  fi
  failed=1
  echo "fuzz_$name: FAILED (exit $rc); the end of its log:"
  tail -n 60 "$dir/log" | sed 's/^/  /'
  for artifact in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
    [ -f "$artifact" ] || continue
    echo "  input $artifact (base64; replay: $bin/fuzz_$name FILE):"
    base64 -w 76 "$artifact" | sed 's/^/    /'
  done
done
exit "$failed"
