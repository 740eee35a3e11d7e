#!/usr/bin/env bash
# run.sh: builds the release preset, runs the named benchmarks and rewrites
# docs/BENCHMARKS.md. Each benchmark writes one section, bench/results/NAME.md,
# stamped with its own command, date and machine; the doc is those sections
# joined under a fixed introduction. Sections of benchmarks not run this time
# are kept as they are, so a slow benchmark need not be rerun to add a fast one.
#
# Usage: bench/run.sh [NAME...]      NAME: token, hash, claims, edge (default: all)
#   BENCH_QUICK=1  seconds per benchmark, to check the scripts (CI runs it from
#                  scripts/test.sh): no goal is judged, no load check, and it
#                  writes build/bench-quick/ instead of bench/results/ and docs/.
#   BENCH_FORCE=1  run although the machine is busy (1-minute load average
#                  above 1.5) or the tree has uncommitted changes; every
#                  section written is marked as forced, saying which.
#
# Figures are only worth writing from a clean commit on a quiet machine: the
# script refuses to start when the load average is above 1.5, waits (up to
# 3 minutes) for the load of one benchmark to die down before the next, and
# refuses a tree with uncommitted changes. Each section records the load
# average when its benchmark started and whether the commit was clean.
#
# Adding a benchmark: write bench_NAME() below (it runs the program and
# prints the section's markdown) and add NAME to all_benchmarks.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# The order of the sections in the doc.
all_benchmarks=(token hash claims edge)
quick=${BENCH_QUICK:-0}
force=${BENCH_FORCE:-0}
readonly load_max=1.5 load_wait_s_max=180
invocation="bench/run.sh${*:+ $*}"
if [[ "$quick" == 1 ]]; then invocation="BENCH_QUICK=1 $invocation"; fi
build_dir=build  # the release preset's binaryDir

die() { echo "run.sh: $*" >&2; exit 1; }

# ----------------------------------------------------------------- build

build_release() {
  if [[ ! -f "$build_dir/build.ninja" ]]; then cmake --preset release >&2; fi
  grep -q '^DROPGATE_BENCH:BOOL=ON' "$build_dir/CMakeCache.txt" ||
    die "$build_dir/ was configured with DROPGATE_BENCH=OFF; reconfigure it with -DDROPGATE_BENCH=ON"
  # Only the programs measured: a half-finished test elsewhere must not
  # stop the benchmarks from building.
  ninja -C "$build_dir" dropgate dropgate_token_bench claimload idleconns mint_tokens verify_rate >&2 ||
    die "the build failed; the benchmarks measure the working tree, so src/ must build first"
}

# ----------------------------------------------------------------- stamps

cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$build_dir/CMakeCache.txt"; }

machine_line() {
  local cpu cores mem_gib sha_ext
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  cores=$(nproc)
  mem_gib=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
  sha_ext=$(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)
  echo "${cpu} (SHA extensions: ${sha_ext}), ${cores} cores, ${mem_gib} GiB memory," \
    "Linux $(uname -r) $(uname -m)"
}

build_line() {
  local compiler build_type flags
  compiler=$("$(cache_value CMAKE_CXX_COMPILER)" --version | head -1)
  build_type=$(cache_value CMAKE_BUILD_TYPE)
  flags=$(cache_value "CMAKE_CXX_FLAGS_${build_type^^}")
  echo "${compiler}, ${build_type} (${flags}), libsodium $(pkg-config --modversion libsodium)," \
    "OpenSSL $(pkg-config --modversion libcrypto)"
}

# The figures belong to the code that was built: say when it was not a commit.
# Read once, before any benchmark writes its results into the tree.
tree_is_clean() { [[ -z "$(git status --porcelain 2>/dev/null)" ]] && git rev-parse -q HEAD > /dev/null 2>&1; }
source_line() {
  local commit; commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [[ "$tree_clean" == yes ]]; then
    echo "commit ${commit}, clean (no uncommitted changes)"
  elif [[ "$quick" == 1 ]]; then
    echo "commit ${commit} plus uncommitted changes (BENCH_QUICK=1)"
  else
    echo "commit ${commit} plus uncommitted changes (**forced**: BENCH_FORCE=1)"
  fi
}

load_1min() { cut -d' ' -f1 /proc/loadavg; }
load_is_high() { awk -v l="$(load_1min)" -v m="$load_max" 'BEGIN { exit !(l > m) }'; }

# Before each benchmark: the first refuses a busy machine; later ones wait
# for the load the previous benchmark left behind to die down. Forced, a
# high load is recorded in the section instead.
check_load() {
  local first=$1 waited_s=0
  [[ "$quick" == 1 ]] && return 0
  while load_is_high; do
    if [[ "$force" == 1 ]]; then
      echo "run.sh: load average $(load_1min) is above $load_max; running anyway (BENCH_FORCE=1), the section is marked forced" >&2
      forced_load=yes
      return 0
    fi
    [[ "$first" == yes ]] &&
      die "the 1-minute load average is $(load_1min), above $load_max: figures taken now would measure the other load. Wait for a quiet machine, or set BENCH_FORCE=1 to run anyway (the results are then marked forced)"
    (( waited_s < load_wait_s_max )) ||
      die "the load average stayed above $load_max for ${load_wait_s_max} s after the previous benchmark ($(load_1min)); set BENCH_FORCE=1 to run anyway"
    (( waited_s > 0 )) || echo "run.sh: waiting for the load average ($(load_1min)) to fall to $load_max" >&2
    sleep 5
    waited_s=$((waited_s + 5))
  done
  forced_load=no
}

# The stamp every section ends with. $1: what run.sh ran underneath.
stamp() {
  # Read before the benchmark ran (main): a benchmark that loads the machine
  # itself must not record its own load as the machine's.
  local load=${load_at_start:-$(cut -d' ' -f1-3 /proc/loadavg)}
  local load_note="at most ${load_max}, as required"
  [[ "${forced_load:-no}" == yes ]] && load_note="above ${load_max} (**forced**: BENCH_FORCE=1)"
  [[ "$quick" == 1 ]] && load_note="not checked: BENCH_QUICK=1"
  cat <<EOF
- Command: \`${invocation}\`, which ran \`$1\`
- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Source: $(source_line)
- Machine: $(machine_line); load average ${load} when it started (1-minute figure ${load_note})
- Build: $(build_line)
EOF
}

# tsv_field ROWS NAME COLUMN: column COLUMN of the row whose first column is NAME.
tsv_field() { awk -F'\t' -v n="$2" -v c="$3" '$1 == n { print $c }' <<< "$1"; }

# ratio A B: A / B unrounded, so that the verdict is not taken on a rounded figure.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a / b }'; }
# fmt_ratio RATIO: "0.93×" for the tables.
fmt_ratio() { awk -v r="$1" 'BEGIN { printf "%.2f×", r }'; }

# verdict RATIO GOAL: "pass" or "**FAIL**"; GOAL empty: "—" (a figure with no goal).
verdict() {
  [[ -n "$2" ]] || { echo "—"; return; }
  # Seconds of measurement on a busy CI machine say nothing about a goal.
  [[ "$quick" != 1 ]] || { echo "not judged (quick)"; return; }
  awk -v r="$1" -v g="$2" 'BEGIN { print (r >= g) ? "pass" : "**FAIL**" }'
}

# ----------------------------------------------------------------- token

# Median over repetitions taken in random order, so that neither side of a
# ratio always runs first, after the other has warmed or heated the core.
bench_token() {
  local reps=5 min_time=1
  if [[ "$quick" == 1 ]]; then reps=3 min_time=0.1; fi
  local json; json=$(mktemp)
  local cmd=("$build_dir/bench/dropgate_token_bench" "--benchmark_repetitions=$reps"
    "--benchmark_min_time=$min_time" "--benchmark_enable_random_interleaving=true"
    "--benchmark_report_aggregates_only=true" "--benchmark_out_format=json")
  "${cmd[@]}" "--benchmark_out=$json" >&2
  # name, median items/s, coefficient of variation, PAE bytes, token bytes
  local rows; rows=$(jq -r '
    [.benchmarks[] | select(.aggregate_name == "median" or .aggregate_name == "cv")]
    | group_by(.run_name)[]
    | (map(select(.aggregate_name == "median"))[0]) as $m
    | (map(select(.aggregate_name == "cv"))[0]) as $cv
    | [($m.run_name | sub("/real_time$"; "")), $m.items_per_second, $cv.items_per_second,
       $m.pae_bytes, $m.token_bytes] | @tsv' "$json")
  rm -f "$json"
  token_section "$rows" "${cmd[*]}"
}

# $1: rows from bench_token; $2: the command that made them.
token_section() {
  local rows=$1
  field() { tsv_field "$rows" "$1" "$2"; }
  local verify sodium_verify sign sodium_sign
  verify=$(field BM_DropgateVerifyDownload 2) sodium_verify=$(field BM_SodiumVerify 2)
  sign=$(field BM_DropgateIssueDownload 2) sodium_sign=$(field BM_SodiumSign 2)
  local verify_ratio sign_ratio
  verify_ratio=$(ratio "$verify" "$sodium_verify")
  sign_ratio=$(ratio "$sign" "$sodium_sign")
  per_s() { awk -v v="$1" 'BEGIN { printf "%.1f k/s (%.1f µs)", v / 1000, 1e6 / v }'; }
  cv() { awk -v v="$(field "$1" 3)" 'BEGIN { printf "%.1f%%", v * 100 }'; }
  cat <<EOF
## Download tokens: dropgate vs raw libsodium Ed25519

One core, one thread. \`core::verify_download\` does the whole job an edge does
per request (base64url decode, footer JSON, keyring lookup among 1 key,
Ed25519, payload JSON, purpose, field and time checks); \`core::issue_download\`
builds the payload, signs it and encodes the token. The baseline is the bare
libsodium call over a message of the same length as that token's PAE input
($(field BM_SodiumVerify 4) bytes; the token is $(field BM_SodiumVerify 5) bytes):
the ratio is what everything around the signature costs.
Payload: account id, slug, manifest version, 2 asset paths.

| Figure | dropgate | Baseline (libsodium) | Ratio | Goal | Result |
|---|---|---|---|---|---|
| verify a download token | $(per_s "$verify") | $(per_s "$sodium_verify") \`crypto_sign_verify_detached\` | $(fmt_ratio "$verify_ratio") | ≥ 0.9× | $(verdict "$verify_ratio" 0.9) |
| issue a download token | $(per_s "$sign") | $(per_s "$sodium_sign") \`crypto_sign_detached\` | $(fmt_ratio "$sign_ratio") | none set | — |

Tokens per second, median of the repetitions; coefficient of variation:
verify $(cv BM_DropgateVerifyDownload) vs $(cv BM_SodiumVerify),
issue $(cv BM_DropgateIssueDownload) vs $(cv BM_SodiumSign).

$(stamp "$2")
EOF
}

# ----------------------------------------------------------------- hash

# run_script SECTION SCRIPT SETTING...: runs bench/SCRIPT, which writes its
# results to the file named by its first argument, and prints SECTION's
# markdown of them. The settings named that are set (they change what is
# measured) go into the recorded command.
run_script() {
  local section=$1 script=$2; shift 2
  local tsv; tsv=$(mktemp)
  DROPGATE="$build_dir/dropgate" CLAIMLOAD="$build_dir/bench/claimload" \
    IDLECONNS="$build_dir/bench/idleconns" MINT_TOKENS="$build_dir/bench/mint_tokens" \
    VERIFY_RATE="$build_dir/bench/verify_rate" "bench/$script" "$tsv" >&2
  local settings="" name
  for name in BENCH_QUICK "$@"; do
    if [[ -n "${!name:-}" ]]; then settings+=" ${name}=${!name}"; fi
  done
  "$section" "$(cat "$tsv")" "${settings:+${settings# } }bench/$script"
  rm -f "$tsv"
}

bench_hash() {
  run_script hash_section hash_bench.sh BENCH_BIG_FILES BENCH_BIG_MIB BENCH_SMALL_FILES BENCH_SMALL_KIB BENCH_RUNS
}

# $1: bench/hash_bench.sh's results (label, median s, MB/s, runs, bytes, files); $2: its command.
hash_section() {
  local rows=$1
  field() { tsv_field "$rows" "$1" "$2"; }
  speedup() { ratio "$(field "$2" 2)" "$(field "$1" 2)"; }  # time of $2 over time of $1
  figure() { echo "$(field "$1" 3) MB/s ($(field "$1" 2) s)"; }
  local parallel_ratio one_thread_ratio threads_gain
  parallel_ratio=$(speedup pack_default sha256sum)
  one_thread_ratio=$(speedup pack_one_thread sha256sum)
  threads_gain=$(speedup pack_default pack_one_thread)
  local bytes files
  bytes=$(field sha256sum 5) files=$(field sha256sum 6)
  cat <<EOF
## Drop hashing: \`dropgate drop pack\` vs \`sha256sum\`

The same folder of ${files} files, ${bytes} bytes ($(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 2^30 }') GiB: large
files of random bytes plus small ones), read from a warm page cache, hashed by
the whole \`dropgate drop pack\` command (list, hash, sign and write the
manifest) and by coreutils \`sha256sum\` over the same files. Wall time, median
of $(field sha256sum 4 | tr ',' '\n' | wc -l) runs taken in turns; MB = 10^6 bytes. The second row separates
the two sources of speed: one thread of OpenSSL's SHA-256 against sha256sum
shows what the CPU's SHA extensions give (this sha256sum is coreutils' portable
C, not linked to OpenSSL); the default against one thread shows what the other
cores add ($(fmt_ratio "$threads_gain") here).

| Figure | dropgate | Baseline (sha256sum) | Ratio | Goal | Result |
|---|---|---|---|---|---|
| \`drop pack\` (default: a thread per core) | $(figure pack_default) | $(figure sha256sum) | $(fmt_ratio "$parallel_ratio") | ≥ 2× | $(verdict "$parallel_ratio" 2) |
| \`drop pack --threads 1\` | $(figure pack_one_thread) | $(figure sha256sum) | $(fmt_ratio "$one_thread_ratio") | none set | — |

All runs (s): sha256sum $(field sha256sum 4); pack $(field pack_default 4);
pack --threads 1 $(field pack_one_thread 4).

$(stamp "$2")
EOF
}

# ----------------------------------------------------------------- claims

bench_claims() {
  run_script claims_section claim_bench.sh BENCH_DURATION_S BENCH_WARMUP_S BENCH_RUNS BENCH_CLIENTS BENCH_POOL
}

# $1: bench/claim_bench.sh's results (per side, its median run: label,
# claims/s, p50 ms, p99 ms, claims, s, answers other than 201, WAL bytes per
# claim, command, every run's claims/s; a best_naive row naming the better
# baseline; then a settings row); $2: its command.
claims_section() {
  local rows=$1
  field() { tsv_field "$rows" "$1" "$2"; }
  figure() {
    awk -v r="$(field "$1" 2)" -v p50="$(field "$1" 3)" -v p99="$(field "$1" 4)" \
      'BEGIN { printf "%.0f claims/s (p50 %.1f ms, p99 %.1f ms)", r, p50, p99 }'
  }
  local best; best=$(field best_naive 2)
  local pg_ratio sqlite_ratio pool_ratio clients_ratio
  pg_ratio=$(ratio "$(field dropgate_pg 2)" "$(field "$best" 2)")
  sqlite_ratio=$(ratio "$(field dropgate_sqlite 2)" "$(field "$best" 2)")
  pool_ratio=$(ratio "$(field dropgate_pg 2)" "$(field naive_pg_pool 2)")
  clients_ratio=$(ratio "$(field dropgate_pg 2)" "$(field naive_pg_clients 2)")
  local clients duration warmup runs pool
  clients=$(field settings 2) duration=$(field settings 3) warmup=$(field settings 4)
  runs=$(field settings 6) pool=$(field settings 7)
  local best_name="at ${pool} connections"
  [[ "$best" == naive_pg_clients ]] && best_name="at ${clients} connections"
  cat <<EOF
## Claim surge: dropgate vs the naive hot-row design on PostgreSQL

${clients} concurrent clients claim serials of one hot drop, each side for
${duration} s after a ${warmup} s warm-up (the same time, not the same number
of claims), ${runs} runs of each side taken in turns, on one throwaway
PostgreSQL 15 cluster ($(field settings 5)): a claim is acknowledged only once
it is on disk, on both sides. The baseline is the textbook design as a
competent engineer writes it, driven by \`pgbench\` with a prepared statement:
one statement per claim (autocommit, one round trip),
\`WITH s AS (UPDATE drops SET sold = sold + 1 WHERE id = 1 AND sold < cap RETURNING sold)
INSERT INTO claims (drop_id, serial, account, claimed_at) SELECT 1, sold, …, now() FROM s\`,
with as many connections as dropgate's PostgreSQL pool (\`db_connections = ${pool}\`)
and with ${clients}; the goal is judged against the better of the two.
dropgate is measured over HTTP with \`claimload\` (keep-alive connections, a
distinct account and Idempotency-Key per claim), on PostgreSQL (the same
cluster) and on SQLite; each answer carries a signed certificate and a
download token. Claims per second over a whole run, each side's median run;
latency of each claim as its client saw it (pgbench: its per-transaction log).
WAL is what PostgreSQL wrote during the run (\`pg_current_wal_lsn()\` before
and after), per claim acknowledged.

| Figure | dropgate | Baseline (naive hot row, PostgreSQL) | Ratio | Goal | Result |
|---|---|---|---|---|---|
| claim surge, dropgate on PostgreSQL | $(figure dropgate_pg) | $(figure "$best") (${best_name}, the better) | $(fmt_ratio "$pg_ratio") | ≥ 5× | $(verdict "$pg_ratio" 5) |
| claim surge, dropgate on SQLite | $(figure dropgate_sqlite) | $(figure "$best") (${best_name}) | $(fmt_ratio "$sqlite_ratio") | none set | — |
| against the baseline at ${pool} connections | $(figure dropgate_pg) | $(figure naive_pg_pool) | $(fmt_ratio "$pool_ratio") | — | — |
| against the baseline at ${clients} connections | $(figure dropgate_pg) | $(figure naive_pg_clients) | $(fmt_ratio "$clients_ratio") | — | — |
| WAL per claim | $(field dropgate_pg 8) bytes | $(field naive_pg_pool 8) bytes (at ${pool}); $(field naive_pg_clients 8) bytes (at ${clients}) | — | — | — |

Why the baseline is slow: every claim's \`UPDATE\` locks the drop's row and
holds the lock until its commit returns, and a commit returns only after
the WAL is flushed to disk. The next claim's \`UPDATE\` waits for that lock, so
the claims of one drop commit strictly one after another, each paying its own
flush and a lock hand-off; PostgreSQL's group commit cannot help, as only the
lock holder is ever ready to commit. More clients only queue longer behind
the one row.

What dropgate does instead: the drop's row is touched once per *lease* (up
to 1,000 serials, at most 1/16 of the unleased stock), not once per sale; the
origin hands out the serials of its lease from memory, and each claim is its
own row, unique on (drop, serial), so claims do not wait for each other.
Claims that arrive together are written by the group committer as one
transaction — a handful of multi-row statements and one WAL flush per batch —
and each is answered only after its batch committed: the same durability,
paid once per batch. A claim then costs its own work: two Ed25519 signatures,
the HTTP exchange, and its rows (the claim, the buyer's counter, the
idempotency record from which a retry's answer is rebuilt, one event), none of which
the baseline does.

All runs (claims/s): baseline at ${pool} connections $(field naive_pg_pool 10), at ${clients}
$(field naive_pg_clients 10); dropgate on PostgreSQL $(field dropgate_pg 10); on SQLite $(field dropgate_sqlite 10).

Checked after every run: every 201 is a distinct serial — the origin counts as
many claims as it answered 201 (warm-up included) and, on PostgreSQL, as many
distinct serials; on the baseline the counter, the rows and the distinct
serials all equal the transactions pgbench acknowledged. Claims in the median
runs: baseline $(field naive_pg_pool 5) at ${pool} and $(field naive_pg_clients 5) at ${clients}
(pgbench failures: $(field naive_pg_pool 7), $(field naive_pg_clients 7)), dropgate on PostgreSQL
$(field dropgate_pg 5) (answers other than 201: $(field dropgate_pg 7)), on SQLite $(field dropgate_sqlite 5)
(other than 201: $(field dropgate_sqlite 7)). The machine's 2 cores run the load generator,
the server and PostgreSQL at once, so every figure is CPU-bound and lower
than on separate machines; other load on the machine (see the load average)
slows the baseline's one-at-a-time commits more than dropgate's batches.

- Baseline: \`$(field naive_pg_pool 9)\` and \`$(field naive_pg_clients 9)\`, with synchronous_commit pinned on for their sessions; dropgate: \`$(field dropgate_pg 9)\`
$(stamp "$2")
EOF
}

# ----------------------------------------------------------------- edge

bench_edge() {
  run_script edge_section edge_bench.sh BENCH_DURATION_S BENCH_WARMUP_S BENCH_RUNS BENCH_IDLE_CONNS
}

# $1: bench/edge_bench.sh's results (see its write_results); $2: its command.
edge_section() {
  local rows=$1
  field() { tsv_field "$rows" "$1" "$2"; }
  local duration warmup runs threads idle nginx_version wrk_version per_token message_bytes token_bytes
  duration=$(field settings 2) warmup=$(field settings 3) runs=$(field settings 4)
  threads=$(field settings 5) idle=$(field settings 6) nginx_version=$(field settings 7)
  wrk_version=$(field settings 8) per_token=$(field settings 9) message_bytes=$(field settings 10)
  token_bytes=$(field settings 11)
  rate() { awk -v v="$(field "$1" 2)" 'BEGIN { printf "%.0f req/s", v }'; }
  mbps() { awk -v v="$(field "$1" 3)" 'BEGIN { printf "%.0f MB/s", v }'; }
  latency() { awk -v a="$(field "$1" 4)" -v b="$(field "$1" 5)" 'BEGIN { printf "p50 %.2f ms, p99 %.2f ms", a, b }'; }
  cpu() { awk -v v="$(field "$1" 10)" 'BEGIN { printf "%.1f µs", v }'; }
  # The goals are judged on the paired ratios (the median of the runs'
  # edge/nginx ratios, each run's two sides measured back to back); the ratio
  # of the two sides' medians is shown beside them.
  paired() { field "pair-$1" 2; }
  of_medians() { ratio "$(field "edge-$1" "${2:-2}")" "$(field "nginx-$1" "${2:-2}")"; }
  row() {  # row CASE TITLE [GOAL]: a requests/s row; GOAL, a ratio, when there is one
    local goal=${3:-} goal_text="none set"
    [[ -z "$goal" ]] || goal_text="≥ ${goal}×"
    echo "| $2 | $(rate "edge-$1") ($(latency "edge-$1")) | $(rate "nginx-$1") ($(latency "nginx-$1")) | $(fmt_ratio "$(paired "$1")"); $(fmt_ratio "$(of_medians "$1")") | ${goal_text} | $(verdict "$(paired "$1")" "$goal") |"
  }
  cpu_row() {  # cpu_row CASE TITLE; lower is better, so the ratio is nginx / edge
    echo "| $2 | $(cpu "edge-$1") | $(cpu "nginx-$1") | $(fmt_ratio "$(ratio "$(field "nginx-$1" 10)" "$(field "edge-$1" 10)")") | — | — |"
  }
  local cold_raw; cold_raw=$(ratio "$(field edge-small-cold 2)" "$(field sodium-verify 2)")
  # Lower is better: the goal is met when nginx / edge >= 1.
  local memory memory_grown
  memory=$(ratio "$(field memory-nginx 2)" "$(field memory-edge 2)")
  memory_grown=$(ratio "$(field memory-nginx 5)" "$(field memory-edge 2)")
  inverse() { awk -v r="$1" 'BEGIN { printf "%.2f×", 1 / r }'; }
  runs_of() { echo "nginx $(field "nginx-$1" 9), edge $(field "edge-$1" 9)"; }
  cat <<EOF
## Edge delivery: \`dropgate edge serve\` vs nginx with \`secure_link\`

The same three files (4 KiB, 64 KiB, 16 MiB of random bytes) served on
loopback by the dropgate edge and by Debian's ${nginx_version}, which checks
its own signed links (\`secure_link\` + \`secure_link_md5\`), both with
${threads} worker threads/processes (one per core). The load is
${wrk_version} with 2 threads and 64 keep-alive connections, ${duration} s
per run after a ${warmup} s warm-up, ${runs} runs per case, each run a pair:
both sides back to back, the order alternating. The machine's speed drifts
from one pair to the next far more than within a pair, so a goal is judged
on the median of the pairs' edge/nginx ratios ("paired"); the ratio of each
side's median run is shown beside it.

Every request carries a signed link. nginx gets an MD5 link (one of 64, one
per buyer; it keeps nothing per link, so which one makes no difference). The
edge gets a PASETO v4.public download token (Ed25519, ${token_bytes} bytes), which it
verifies itself against its synced keyring and revocation list; a token it has
verified before is a cache lookup. How often a token is new is the *mix*:

- **mix** (the goals): a new token every ${per_token} requests, each used ${per_token} times
  and never again — a buyer downloading a ${per_token}-file drop;
- **cached**: 64 buyers' tokens reused all run long, so all but the first
  request of each is a cache hit (the 4 KiB file);
- **cold**: every request a token the edge has never seen (the 4 KiB file),
  also set against the bare libsodium \`crypto_sign_verify_detached\` over a
  message of the token's signed length (${message_bytes} bytes) on ${threads} threads at once,
  measured in each run on the same cores (\`bench/verify_rate\`): the most any
  verifier could do there.

The tokens of the mix and cold runs are minted before each run with
dropgate's own token code and the origin's key (\`bench/mint_tokens\`): copies
of a real claim's token, each with its own account, enough for the run (a
request that had to reuse one fails the run). Both sides warm up with their 64
buyers' links. The edge also records every download in its durable outbox
(group-committed SQLite), which nginx does not; both write an access log line
per request, buffered and flushed every 100 ms. The edge sends files of 16 KiB
or less (here the 4 KiB one) from a hashed copy it holds in memory, header
and body in one write; nginx, and the edge for larger files, use
\`sendfile\` from the page cache. The origin is stopped during the runs: the
edge serves offline, as at a venue with no uplink. MB = 10^6 bytes of file
body. CPU is the server's user + system time per request over the measured
seconds (all its threads or processes; wrk's own is not counted), the median run.

| Figure | dropgate edge | Baseline (nginx) | Ratio (paired; of medians) | Goal | Result |
|---|---|---|---|---|---|
$(row small-mix "4 KiB file, requests/s, mix" 1.0)
$(row medium-mix "64 KiB file, requests/s, mix" 1.0)
| 16 MiB file, MB/s, mix | $(mbps edge-large-mix) ($(rate edge-large-mix)) | $(mbps nginx-large-mix) ($(rate nginx-large-mix)) | $(fmt_ratio "$(paired large-mix)"); $(fmt_ratio "$(of_medians large-mix 3)") | ≥ 0.95× | $(verdict "$(paired large-mix)" 0.95) |
$(row small-cached "4 KiB file, requests/s, cached tokens")
$(row small-cold "4 KiB file, requests/s, cold (every token new)")
| 4 KiB file, cold, against raw Ed25519 verification | $(rate edge-small-cold) | $(awk -v v="$(field sodium-verify 2)" 'BEGIN { printf "%.0f verifies/s", v }') (libsodium, ${threads} threads) | $(fmt_ratio "$cold_raw") | none set | — |
$(cpu_row small-mix "CPU per 4 KiB request, mix")
$(cpu_row small-cached "CPU per 4 KiB request, cached")
$(cpu_row small-cold "CPU per 4 KiB request, cold")
$(cpu_row medium-mix "CPU per 64 KiB request, mix")
$(cpu_row large-mix "CPU per 16 MiB request, mix")
| memory per idle keep-alive connection, with nginx's preallocated slot | $(field memory-edge 2) bytes | $(field memory-nginx 2) bytes ($(field memory-nginx 5) grown + $(field memory-nginx 6) slot) | $(inverse "$memory") | ≤ 1.0× | $(verdict "$memory" 1.0) |
| memory per idle keep-alive connection, growth only | $(field memory-edge 2) bytes | $(field memory-nginx 5) bytes | $(inverse "$memory_grown") | none set | — |

Memory: each server freshly started and warmed by one download, then
${idle} connections each fetch the 4 KiB file once and stay open and idle;
the figure is the growth of PSS (summed over nginx's master and workers) over
${idle}. nginx allocates its connection structures for every
\`worker_connections\` slot when a worker starts, so they are in its PSS
before the first client: the first memory row adds the bytes of one slot,
measured in the same run by starting nginx with 1,024 and with $((idle + 2000)) slots per
worker; the second counts growth only. Kernel socket buffers are outside PSS
and the same kernel's for both. PSS is read 2 s after the last connection got
its answer: by then each edge connection has given back the 2 KiB read block
it waits with for about a second after a request (blocks come from slabs that
are unmapped once empty); a connection that made a request within the last
second holds one more.

Checked in every run: wrk saw no error and no status other than 200, every
response carried the whole file, no minted token was used by more than its
one buyer, both sides served the files' exact bytes (sha256) and refused a
forged link (nginx 403, an expired one 410) or token (edge 401); after the
runs the edge had counted at least as many completed downloads as wrk
received, dropped no download event, and its outbox held one event per
download. All runs (req/s): 4 KiB mix $(runs_of small-mix); cached $(runs_of small-cached);
cold $(runs_of small-cold), libsodium $(field sodium-verify 9) verifies/s; 64 KiB mix $(runs_of medium-mix);
16 MiB mix $(runs_of large-mix). The pairs' edge/nginx ratios, run by run: 4 KiB mix
$(field pair-small-mix 3), cached $(field pair-small-cached 3), cold $(field pair-small-cold 3); 64 KiB
$(field pair-medium-mix 3); 16 MiB $(field pair-large-mix 3). CPU µs per request, run by run:
4 KiB mix nginx $(field nginx-small-mix 11), edge $(field edge-small-mix 11); cold edge
$(field edge-small-cold 11). CPU ratios are nginx / edge (above 1: the edge uses less).
The 2 cores run wrk and the server at once, so every figure is CPU-bound.

- Load: \`wrk -t2 -c64 -d${duration}s -s bench/edge_wrk.lua\`; nginx: \`bench/edge_bench.sh\` writes its configuration
$(stamp "$2")
EOF
}

# ----------------------------------------------------------------- doc

doc_intro() {
  cat <<'EOF'
# Benchmarks

<!-- Written by bench/run.sh from bench/results/*.md: rerun it rather than editing here. -->

Speed is measured, not assumed. Every performance goal here is a ratio to a
named baseline measured in the same run on the same machine, so the figure
means something on other hardware and on a busy day. Each section says the
command, the date, the source, the machine and its load; figures from
different sections may come from different runs.

How to run: `bench/run.sh` (all benchmarks, about 25 minutes) or
`bench/run.sh token hash` (those only), from a clean commit on a quiet
machine: it refuses to start when the 1-minute load average is above 1.5 or
the tree has uncommitted changes, waits for one benchmark's load to die down
before the next, and records in each section the load average and that the
commit was clean (`BENCH_FORCE=1` runs anyway and marks the section forced).
It builds the release preset (`cmake --preset release`, then `ninja -C
build`), runs each named benchmark, writes its section to
`bench/results/NAME.md` and joins all sections into this file; sections not
rerun are kept unchanged. `BENCH_QUICK=1 bench/run.sh` checks the scripts with
seconds per benchmark, judges no goal and writes to `build/bench-quick/`
instead; `scripts/test.sh` runs it, so CI fails when a script breaks. The
section files are committed so this page can be rebuilt and its history
reviewed one benchmark at a time. What one claim costs, in figures a busy
machine does not move (instructions in the origin, rows, WAL bytes and
PostgreSQL CPU per claim): `bench/claim_cost.sh`.

Adding a benchmark: put the program in
`bench/`, add a `bench_NAME` function to `bench/run.sh` that runs it and prints
a section in the same shape (what is measured, a table of figure, baseline,
ratio, goal and result, then the stamp), and add NAME to `all_benchmarks`.

Caveats that apply to every section: the machine is a 2-core VM shared with
builds, so the load average is recorded; Debian's libbenchmark is built
without NDEBUG and prints a "Library was built as DEBUG" warning, which slows
its bookkeeping between timed batches, not the code measured.
EOF
}

# A figure the section could not compute (a missing result, a failed
# substitution) leaves an empty table cell or a nan: that is a broken
# benchmark, not a result.
check_section() {
  local bad
  bad=$(grep -nE '\| *\||(^|[^a-z])(-?nan|-?inf)([^a-z]|$)' "$1" || true)
  [[ -z "$bad" ]] || die "$(basename "$1" .md.tmp): the section has figures missing:"$'\n'"$bad"
}

write_doc() {
  local results_dir=$1 doc=$2 name
  {
    doc_intro
    for name in "${all_benchmarks[@]}"; do
      if [[ -f "$results_dir/$name.md" ]]; then printf '\n'; cat "$results_dir/$name.md"; fi
    done
  } > "$doc.tmp"
  mv "$doc.tmp" "$doc"
}

# ----------------------------------------------------------------- main

main() {
  local names=("$@")
  (( ${#names[@]} > 0 )) || names=("${all_benchmarks[@]}")
  local name
  for name in "${names[@]}"; do
    [[ " ${all_benchmarks[*]} " == *" $name "* ]] || die "unknown benchmark '$name' (known: ${all_benchmarks[*]})"
  done
  command -v jq > /dev/null || die "jq is needed to read Google Benchmark's JSON (apt-get install jq)"

  tree_clean=no
  if tree_is_clean; then tree_clean=yes; fi
  if [[ "$quick" != 1 && "$tree_clean" != yes && "$force" != 1 ]]; then
    git status --short >&2
    die "the tree has uncommitted changes (above): figures must belong to a commit. Commit them (or stash them), or set BENCH_FORCE=1 to run anyway (the results are then marked forced)"
  fi
  local results_dir=bench/results doc=docs/BENCHMARKS.md
  if [[ "$quick" == 1 ]]; then
    results_dir=$build_dir/bench-quick/results doc=$build_dir/bench-quick/BENCHMARKS.md
    mkdir -p "$results_dir"
    cp bench/results/*.md "$results_dir/" 2> /dev/null || true
  fi
  mkdir -p "$results_dir"

  check_load yes
  build_release
  for name in "${names[@]}"; do
    # The build itself loads the machine: the first benchmark waits for it too.
    check_load no
    echo "run.sh: running $name" >&2
    load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
    # A failed benchmark (set -e ends the script) leaves its earlier section
    # as it was, and no half-written one.
    # (Expanded now: the trap runs after main's locals are gone.)
    trap "rm -f '$results_dir/$name.md.tmp'" EXIT
    "bench_$name" > "$results_dir/$name.md.tmp"
    check_section "$results_dir/$name.md.tmp"
    mv "$results_dir/$name.md.tmp" "$results_dir/$name.md"
    trap - EXIT
  done
  write_doc "$results_dir" "$doc"
  echo "run.sh: wrote $doc" >&2
}

main "$@"
