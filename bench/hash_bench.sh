#!/usr/bin/env bash
# hash_bench.sh: how fast `dropgate drop pack` hashes a drop, against
# coreutils `sha256sum` over the same files, in the same run.
#
# Goal (docs/BENCHMARKS.md): pack >= 2x sha256sum. A second figure,
# `pack --threads 1`, separates what one core gains from OpenSSL's SHA
# extensions from what the other cores add.
#
# Usage: bench/hash_bench.sh [RESULTS_TSV]
#   RESULTS_TSV, if given, receives one line per measured command for
#   bench/run.sh (see write_results); the human summary goes to stdout.
# Environment (defaults make ~1 GiB; BENCH_QUICK=1 makes ~70 MiB):
#   BENCH_BIG_FILES, BENCH_BIG_MIB      large files (default 8 x 128 MiB)
#   BENCH_SMALL_FILES, BENCH_SMALL_KIB  small files (default 200 x 64 KiB)
#   BENCH_RUNS                          repetitions per command (default 3, odd)
#   DROPGATE                            the binary (default build/dropgate)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
  big_files=${BENCH_BIG_FILES:-4} big_mib=${BENCH_BIG_MIB:-16}
  small_files=${BENCH_SMALL_FILES:-50} small_kib=${BENCH_SMALL_KIB:-64}
else
  big_files=${BENCH_BIG_FILES:-8} big_mib=${BENCH_BIG_MIB:-128}
  small_files=${BENCH_SMALL_FILES:-200} small_kib=${BENCH_SMALL_KIB:-64}
fi
runs=${BENCH_RUNS:-3}
dropgate=${DROPGATE:-$repo_root/build/dropgate}
results_tsv=${1:-}

die() { echo "hash_bench: $*" >&2; exit 1; }

[[ -x "$dropgate" ]] || die "no dropgate binary at $dropgate (build it, or set DROPGATE)"
(( runs % 2 == 1 )) || die "BENCH_RUNS must be odd, so the median is one measured run"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dropgate-hash-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
drop_dir=$tmp/drop

# Random bytes, so nothing along the way (filesystem, page cache) can shortcut
# the content; SHA-256 itself runs at the same speed on any bytes.
make_drop() {
  mkdir -p "$drop_dir/audio" "$drop_dir/art"
  local i
  for ((i = 1; i <= big_files; i++)); do
    head -c $((big_mib << 20)) /dev/urandom > "$(printf '%s/audio/track-%02d.flac' "$drop_dir" "$i")"
  done
  for ((i = 1; i <= small_files; i++)); do
    head -c $((small_kib << 10)) /dev/urandom > "$(printf '%s/art/thumb-%03d.jpg' "$drop_dir" "$i")"
  done
}

# The drop has to fit in memory with room to spare, or the runs would time the
# disk, and differently for each command.
check_fits_in_page_cache() {
  local drop_kib available_kib
  drop_kib=$(du -sk "$drop_dir" | cut -f1)
  available_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
  (( drop_kib * 2 < available_kib )) ||
    die "drop of ${drop_kib} KiB does not fit twice in ${available_kib} KiB available memory; lower the sizes"
}

# Written pages go to disk first (so writeback does not run during a timed
# run), then every file is read once so all runs start from a warm cache.
warm_page_cache() {
  sync
  find "$drop_dir" -type f -exec cat {} + > /dev/null
}

# Prints the wall time of "$@" in seconds. EPOCHREALTIME is read by the shell
# itself, so no process start is timed besides the command's own.
wall_seconds() {
  local start=$EPOCHREALTIME
  "$@"
  local end=$EPOCHREALTIME
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f\n", e - s }'
}

run_sha256sum() { find "$drop_dir" -type f -print0 | xargs -0 sha256sum > "$tmp/sha256sum.out"; }
run_pack() {
  "$dropgate" drop pack "$drop_dir" --slug bench-drop --edition 100 --keys "$tmp/keys" \
    --out "$tmp/out" "$@" > "$tmp/pack.out" 2> "$tmp/pack.err" ||
    { cat "$tmp/pack.err" >&2; die "dropgate drop pack failed"; }
}
run_pack_default() { run_pack; }
run_pack_one_thread() { run_pack --threads 1; }

# A benchmark that hashes wrongly is not a benchmark: every digest sha256sum
# printed must appear in the manifest dropgate wrote.
check_same_digests() {
  local digest
  while read -r digest _; do
    grep -q "$digest" "$tmp/out/manifest.json" || die "manifest lacks digest $digest found by sha256sum"
  done < "$tmp/sha256sum.out"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mb_per_s() { awk -v b="$total_bytes" -v s="$1" 'BEGIN { printf "%.0f\n", b / s / 1e6 }'; }

# The commands take turns (A B C A B C ...) rather than running back to back,
# so a slow patch on this shared machine hurts all of them alike.
measure_all() {
  local i label
  for ((i = 1; i <= runs; i++)); do
    for label in sha256sum pack_default pack_one_thread; do
      times[$label]+="$(wall_seconds "run_$label") "
    done
    (( i > 1 )) || check_same_digests
  done
}

# One line per command: label, median s, MB/s, all runs in s, bytes, files.
write_results() {
  local label m runs_s
  for label in sha256sum pack_default pack_one_thread; do
    read -ra runs_s <<< "${times[$label]}"
    m=$(median "${runs_s[@]}")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$m" "$(mb_per_s "$m")" \
      "$(IFS=,; echo "${runs_s[*]}")" "$total_bytes" "$file_count"
  done
}

print_summary() {
  awk -F'\t' '
    { s[$1] = $2; r[$1] = $3; printf "%-16s median %7.3f s  %6d MB/s  runs: %s\n", $1, $2, $3, $4 }
    END {
      ratio = s["sha256sum"] / s["pack_default"]
      verdict = (ratio >= 2) ? "pass" : "FAIL"
      printf "pack (default threads) / sha256sum: %.2fx  (goal >= 2x: %s)\n", ratio, verdict
      printf "pack --threads 1 / sha256sum:      %.2fx\n", s["sha256sum"] / s["pack_one_thread"]
      printf "pack default / pack --threads 1:   %.2fx\n", s["pack_one_thread"] / s["pack_default"]
    }' "$1"
}

main() {
  echo "hash_bench: writing ${big_files} x ${big_mib} MiB + ${small_files} x ${small_kib} KiB to $tmp" >&2
  make_drop
  check_fits_in_page_cache
  "$dropgate" keys new --dir "$tmp/keys" > /dev/null 2>&1 || die "dropgate keys new failed"
  file_count=$(find "$drop_dir" -type f | wc -l)
  total_bytes=$(find "$drop_dir" -type f -printf '%s\n' | awk '{ t += $1 } END { print t }')
  warm_page_cache
  echo "hash_bench: ${file_count} files, ${total_bytes} bytes; ${runs} runs of each command" >&2
  declare -gA times=()
  measure_all
  write_results > "$tmp/results.tsv"
  print_summary "$tmp/results.tsv"
  if [[ -n "$results_tsv" ]]; then cp "$tmp/results.tsv" "$results_tsv"; fi
}

main
