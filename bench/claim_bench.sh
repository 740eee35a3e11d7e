#!/usr/bin/env bash
# claim_bench.sh: a claim surge — 64 concurrent clients, one hot drop — against
# dropgate on PostgreSQL and on SQLite, and, on the same PostgreSQL in the same
# run, the naive hot-row baseline as a competent engineer would write it: one
# prepared statement per claim that bumps a counter on the drop's row and
# inserts the claim (WITH s AS (UPDATE … RETURNING sold) INSERT … SELECT …),
# driven by pgbench with as many connections as dropgate's pool, and again with
# as many as dropgate has clients.
#
# Goal (docs/BENCHMARKS.md): dropgate on PostgreSQL >= 5x the better of the two
# baseline runs' claims per second. Every side runs for the same time
# (BENCH_DURATION_S) after a short warm-up, with the same durability: fsync on
# and synchronous_commit on, so a claim is acknowledged only once it is on disk.
# The sides take turns (naive at the pool's size, at 64, dropgate on
# PostgreSQL, on SQLite, then again) and each reports its median run, so a slow
# patch on a shared machine hurts all of them alike. Each run on PostgreSQL
# also records the WAL it wrote (pg_current_wal_lsn before and after), per claim.
#
# Usage: bench/claim_bench.sh [RESULTS_TSV]
#   RESULTS_TSV, if given, receives one line per measured side for
#   bench/run.sh (see write_results); the human summary goes to stdout.
# Environment:
#   BENCH_DURATION_S  seconds each run of each side lasts (default 20; BENCH_QUICK=1: 3)
#   BENCH_WARMUP_S    seconds of warm-up before each run (default 3; BENCH_QUICK=1: 1)
#   BENCH_RUNS        runs of each side, taken in turns; odd (default 3; BENCH_QUICK=1: 1)
#   BENCH_CLIENTS     concurrent clients (default 64)
#   BENCH_POOL        dropgate's PostgreSQL pool (db_connections), and the
#                     connections of the first baseline (default 16, dropgate's default)
#   BENCH_PG_PORT     port of the throwaway PostgreSQL cluster (default 55433;
#                     the tests' cluster uses 55432)
#   BENCH_HTTP_PORT   port of dropgate on PostgreSQL; on SQLite, the next one (default 18080)
#   DROPGATE, CLAIMLOAD  the binaries (default build/dropgate, build/bench/claimload)
#   PG_BIN            PostgreSQL's bin folder (default /usr/lib/postgresql/15/bin)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
  duration_s=${BENCH_DURATION_S:-3} warmup_s=${BENCH_WARMUP_S:-1} runs=${BENCH_RUNS:-1}
else
  duration_s=${BENCH_DURATION_S:-20} warmup_s=${BENCH_WARMUP_S:-3} runs=${BENCH_RUNS:-3}
fi
clients=${BENCH_CLIENTS:-64}
pool=${BENCH_POOL:-16}
pg_port=${BENCH_PG_PORT:-55433}
http_port=${BENCH_HTTP_PORT:-18080}
dropgate=${DROPGATE:-$repo_root/build/dropgate}
claimload=${CLAIMLOAD:-$repo_root/build/bench/claimload}
export PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
pg_cluster=$repo_root/tests/support/pg_cluster.sh
results_tsv=${1:-}

readonly edition=1000000         # dropgate's drop (the largest edition): more than the runs sell
readonly naive_cap=1000000000    # the naive drop's cap: never reached either
readonly slug=hot-drop

die() { echo "claim_bench: $*" >&2; exit 1; }
say() { echo "claim_bench: $*" >&2; }

[[ -x "$dropgate" ]] || die "no dropgate binary at $dropgate (build it, or set DROPGATE)"
[[ -x "$claimload" ]] || die "no claimload binary at $claimload (ninja -C build claimload)"
command -v pgbench > /dev/null || die "pgbench is needed (apt-get install postgresql-client)"
command -v jq > /dev/null || die "jq is needed (apt-get install jq)"
[[ -x "$PG_BIN/postgres" ]] || die "no PostgreSQL server in $PG_BIN (set PG_BIN)"
(( runs % 2 == 1 )) || die "BENCH_RUNS must be odd, so the median is one measured run"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dropgate-claim-bench.XXXXXX")
# The server runs as `postgres` when we are root: it must reach its folder.
chmod 755 "$tmp"
declare -A server_pid=() api_key=() port=()

cleanup() {
  local label
  for label in "${!server_pid[@]}"; do stop_dropgate "$label"; done
  bash "$pg_cluster" stop "$tmp/pg" > /dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

psql_at() {  # psql_at DB SQL...: runs SQL, prints unaligned tuples
  local db=$1; shift
  "$PG_BIN/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d "$db" -v ON_ERROR_STOP=1 -qtA "$@"
}

start_postgres() {
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$pg_port"; then
    die "something already listens on 127.0.0.1:$pg_port; stop it or set BENCH_PG_PORT"
  fi
  say "starting PostgreSQL on 127.0.0.1:$pg_port in $tmp/pg"
  bash "$pg_cluster" start "$tmp/pg" "$pg_port" > /dev/null
  psql_at postgres -c "CREATE DATABASE naive" -c "CREATE DATABASE dropgate"
  # Both sides must pay for durability alike; say so in the results.
  local fsync sync_commit
  fsync=$(psql_at naive -c "SHOW fsync")
  sync_commit=$(psql_at naive -c "SHOW synchronous_commit")
  [[ "$fsync" == on && "$sync_commit" == on ]] ||
    die "PostgreSQL runs with fsync=$fsync synchronous_commit=$sync_commit; both must be on"
  pg_settings="fsync=$fsync synchronous_commit=$sync_commit wal_sync_method=$(psql_at naive -c "SHOW wal_sync_method")"
}

# ----------------------------------------------------------------- naive

# The textbook design: the drop's row is the counter. Every claim locks it with
# the UPDATE and holds the lock until its COMMIT is on disk, so claims of one
# drop commit one after another however many clients wait. One statement per
# claim (autocommit), prepared: one round trip, the least a client can do.
naive_schema() {
  psql_at naive <<EOF
CREATE TABLE drops (id INTEGER PRIMARY KEY, sold INTEGER NOT NULL, cap INTEGER NOT NULL);
CREATE TABLE claims (
  drop_id INTEGER NOT NULL REFERENCES drops (id),
  serial INTEGER NOT NULL,
  account TEXT NOT NULL,
  claimed_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (drop_id, serial)
);
INSERT INTO drops VALUES (1, 0, $naive_cap);
EOF
  cat > "$tmp/naive.sql" <<'EOF'
\set account random(1, 1000000000)
WITH s AS (UPDATE drops SET sold = sold + 1 WHERE id = 1 AND sold < cap RETURNING sold) INSERT INTO claims (drop_id, serial, account, claimed_at) SELECT 1, sold, 'acct-' || :account, now() FROM s;
EOF
}

# run_pgbench CONNECTIONS PGBENCH-ARGS...: with synchronous_commit pinned on
# for its sessions, whatever the server's default, as dropgate pins it for its own.
run_pgbench() {
  local connections=$1; shift
  PGOPTIONS="-c synchronous_commit=on" pgbench -h 127.0.0.1 -p "$pg_port" -U postgres -n \
    -c "$connections" -j 2 -M prepared -f "$tmp/naive.sql" "$@" naive
}

# Prints p50 and p99 in ms of pgbench's per-transaction logs (latency in µs, column 3).
log_percentiles() {
  cat "$@" | awk '{ print $3 }' | sort -n | awk '
    { v[NR] = $1 }
    END {
      if (NR == 0) { print "0 0"; exit }
      p50 = v[int(0.50 * NR) + 1]; p99 = v[(int(0.99 * NR) + 1 > NR) ? NR : int(0.99 * NR) + 1]
      printf "%.3f %.3f\n", p50 / 1000, p99 / 1000
    }'
}

# One line of pgbench's summary: "number of transactions actually processed: N" → N.
pgbench_count() { sed -n "s/^$2: \([0-9]*\).*/\1/p" "$1"; }

wal_lsn() { psql_at postgres -c "SELECT pg_current_wal_lsn()"; }
# wal_bytes_per_claim LSN_BEFORE CLAIMS: WAL written since LSN_BEFORE, per claim.
wal_bytes_per_claim() {
  psql_at postgres -c "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$1') / greatest($2, 1))"
}

# measure_naive LABEL CONNECTIONS RUN: warm-up, then one measured run; appends its row.
measure_naive() {
  local label=$1 connections=$2 run=$3
  local out=$tmp/$label-$run.out log_dir=$tmp/$label-$run-log
  run_pgbench "$connections" -T "$warmup_s" > "$out.warmup" 2>&1 || { cat "$out.warmup" >&2; die "pgbench failed"; }
  naive_acknowledged=$((naive_acknowledged + $(pgbench_count "$out.warmup" "number of transactions actually processed")))
  mkdir -p "$log_dir"
  local lsn; lsn=$(wal_lsn)
  run_pgbench "$connections" -T "$duration_s" -l --log-prefix "$log_dir/tx" > "$out" 2>&1 || { cat "$out" >&2; die "pgbench failed"; }
  local tps processed failed
  tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$out")
  processed=$(pgbench_count "$out" "number of transactions actually processed")
  failed=$(pgbench_count "$out" "number of failed transactions")
  [[ -n "$processed" ]] || { cat "$out" >&2; die "cannot read pgbench's output"; }
  # pgbench prints no rate when no transaction finished (on a machine so busy
  # that connecting took the whole run); the run then counts as 0 claims/s.
  if [[ -z "$tps" ]]; then
    (( processed == 0 )) || { cat "$out" >&2; die "cannot read pgbench's output"; }
    say "$label: pgbench finished no transaction in ${duration_s} s"
    tps=0
  fi
  local wal; wal=$(wal_bytes_per_claim "$lsn" "$processed")
  naive_acknowledged=$((naive_acknowledged + processed))
  # Every acknowledged claim is a row with its own serial, and the counter agrees.
  local sold rows distinct
  read -r sold rows distinct <<< "$(psql_at naive -F ' ' -c \
    "SELECT (SELECT sold FROM drops WHERE id = 1), COUNT(*), COUNT(DISTINCT serial) FROM claims")"
  (( sold == rows && rows == distinct && rows == naive_acknowledged )) ||
    die "naive: sold=$sold rows=$rows distinct=$distinct, pgbench acknowledged $naive_acknowledged"
  local p50 p99; read -r p50 p99 <<< "$(log_percentiles "$log_dir"/tx*)"
  rm -rf "$log_dir"
  add_run "$label" "$tps" "$p50" "$p99" "$processed" "$duration_s" "${failed:-0}" "$wal"
}

# ----------------------------------------------------------------- dropgate

stop_dropgate() {  # stop_dropgate LABEL
  local pid=${server_pid[$1]:-}
  if [[ -n "$pid" ]]; then
    kill -TERM "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  fi
  unset "server_pid[$1]"
}

# start_dropgate LABEL PORT [--database URL]: init, serve, and a published hot
# drop. The server stays up, idle while the other sides run.
start_dropgate() {
  local label=$1 listen_port=$2; shift 2
  local data=$tmp/$label origin="http://127.0.0.1:$listen_port"
  "$dropgate" init --data "$data" "$@" > "$data.init" 2>&1 || { cat "$data.init" >&2; die "dropgate init failed"; }
  local key; key=$(sed -n 's/^operator key: *\(dg_op_[A-Za-z0-9_-]*\)$/\1/p' "$data.init")
  [[ -n "$key" ]] || { cat "$data.init" >&2; die "no operator key in dropgate init's output"; }
  api_key[$label]=$key port[$label]=$listen_port
  # The PostgreSQL pool the first baseline matches, set rather than assumed.
  if [[ "$label" == dropgate_pg ]]; then echo "db_connections = $pool" >> "$data/dropgate.toml"; fi
  "$dropgate" serve --data "$data" "$@" --listen "127.0.0.1:$listen_port" --log-level warn \
    > "$data.log" 2>&1 &
  server_pid[$label]=$!
  local i
  for ((i = 0; i < 100; i++)); do
    curl -sf "$origin/healthz" > /dev/null 2>&1 && break
    kill -0 "${server_pid[$label]}" 2> /dev/null || { cat "$data.log" >&2; die "$label: dropgate serve exited"; }
    sleep 0.1
  done
  mkdir -p "$tmp/files"
  echo "the file every buyer gets" > "$tmp/files/readme.txt"
  { DROPGATE_API_KEY=$key DROPGATE_ORIGIN=$origin "$dropgate" drop create "$slug" --edition "$edition" &&
    DROPGATE_API_KEY=$key DROPGATE_ORIGIN=$origin "$dropgate" drop upload "$slug" "$tmp/files" &&
    DROPGATE_API_KEY=$key DROPGATE_ORIGIN=$origin "$dropgate" drop publish "$slug"; } \
    > "$data.setup" 2>&1 || { cat "$data.setup" >&2; die "$label: drop setup failed"; }
  answered_201[$label]=0
}

run_claimload() {  # run_claimload LABEL SECONDS PREFIX
  "$claimload" --url "http://127.0.0.1:${port[$1]}" --drop "$slug" --api-key "${api_key[$1]}" \
    --duration-s "$2" --concurrency "$clients" --account-prefix "$3"
}

# measure_dropgate LABEL RUN: warm-up, then one measured run; appends its row.
measure_dropgate() {
  local label=$1 run=$2
  local out=$tmp/$label-$run
  run_claimload "$label" "$warmup_s" "warm$run-" > "$out.warmup.json"
  local lsn=""
  if [[ "$label" == dropgate_pg ]]; then lsn=$(wal_lsn); fi
  run_claimload "$label" "$duration_s" "load$run-" > "$out.json"
  local json; json=$(cat "$out.json")
  local ok sent rate p50 p99 errors
  ok=$(jq -r .claims <<< "$json") sent=$(jq -r .requests <<< "$json")
  rate=$(jq -r .claims_per_s <<< "$json")
  p50=$(jq -r .claim_p50_ms <<< "$json") p99=$(jq -r .claim_p99_ms <<< "$json")
  errors=$((sent - ok))
  (( errors == 0 )) || say "$label: $errors requests were not answered 201: $(jq -c .by_status <<< "$json")"
  local wal=-
  if [[ -n "$lsn" ]]; then wal=$(wal_bytes_per_claim "$lsn" "$ok"); fi
  # Every 201 is a distinct serial: the origin counts exactly as many claims
  # as it answered 201 (claims carry UNIQUE (drop, serial)).
  answered_201[$label]=$((answered_201[$label] + $(jq -r .claims "$out.warmup.json") + ok))
  local claimed
  claimed=$(DROPGATE_API_KEY=${api_key[$label]} DROPGATE_ORIGIN=http://127.0.0.1:${port[$label]} \
    "$dropgate" drop status "$slug" --json | jq -r .claimed)
  (( claimed == answered_201[$label] )) ||
    die "$label: the origin counts $claimed claims, but answered ${answered_201[$label]} with 201"
  if [[ "$label" == dropgate_pg ]]; then
    local distinct
    distinct=$(psql_at dropgate -c "SELECT COUNT(DISTINCT serial) FROM claims")
    (( distinct == claimed )) || die "$label: $claimed claims but $distinct distinct serials"
  fi
  add_run "$label" "$rate" "$p50" "$p99" "$ok" "$(jq -r .seconds <<< "$json")" "$errors" "$wal"
}

# ----------------------------------------------------------------- results

# add_run LABEL CLAIMS/S P50_MS P99_MS CLAIMS SECONDS FAILURES WAL_BYTES_PER_CLAIM
add_run() {
  runs_tsv+=("$(IFS=$'\t'; echo "$*")")
  say "$(printf '%-16s %9.1f claims/s  p50 %8.3f ms  p99 %8.3f ms  (%d claims, %d failed, WAL %s bytes/claim)' \
    "$1" "$2" "$3" "$4" "$5" "$7" "$8")"
}

# One line per side, its median run: label, claims/s, p50 ms, p99 ms,
# claims, seconds, failures, WAL bytes per claim (- on SQLite), command, every
# run's claims/s; then a line naming the better baseline (best_naive, its
# label); then a settings line: clients, seconds per run, warm-up seconds,
# PostgreSQL settings, runs, dropgate's pool (the first baseline's connections).
write_results() {
  local label cmd
  for label in naive_pg_pool naive_pg_clients dropgate_pg dropgate_sqlite; do
    case $label in
      naive_pg_pool) cmd="pgbench -n -c $pool -j 2 -M prepared -T $duration_s -l -f naive.sql" ;;
      naive_pg_clients) cmd="pgbench -n -c $clients -j 2 -M prepared -T $duration_s -l -f naive.sql" ;;
      *) cmd="claimload --duration-s $duration_s --concurrency $clients" ;;
    esac
    printf '%s\n' "${runs_tsv[@]}" | awk -F'\t' -v l="$label" -v cmd="$cmd" '
      $1 == l { n++; row[n] = $0; rate[n] = $2; all = all (n > 1 ? "," : "") sprintf("%.0f", $2) }
      END {
        for (i = 1; i <= n; i++) { below = 0; for (j = 1; j <= n; j++) if (rate[j] < rate[i] || (rate[j] == rate[i] && j < i)) below++
          if (below == int(n / 2)) { print row[i] "\t" cmd "\t" all; exit } }
      }'
  done > "$tmp/sides.tsv"
  cat "$tmp/sides.tsv"
  # The goal is judged against the better baseline (by its median run).
  awk -F'\t' '$1 ~ /^naive_/ && $2 > best { best = $2; label = $1 } END { print "best_naive\t" label }' \
    "$tmp/sides.tsv"
  printf 'settings\t%s\t%s\t%s\t%s\t%s\t%s\n' "$clients" "$duration_s" "$warmup_s" "$pg_settings" "$runs" "$pool"
}

print_summary() {
  awk -F'\t' -v quick="${BENCH_QUICK:-0}" '
    $1 == "best_naive" { best = $2; next }
    $1 != "settings" { r[$1] = $2
      printf "%-16s %9.1f claims/s  p50 %8.3f ms  p99 %8.3f ms  WAL %s bytes/claim  (median run; all: %s)\n", $1, $2, $3, $4, $8, $10 }
    END {
      ratio = r["dropgate_pg"] / r[best]
      verdict = quick == 1 ? "not judged in a quick run" : (ratio >= 5 ? "pass" : "FAIL")
      printf "dropgate_pg / %s:     %.2fx  (goal >= 5x: %s)\n", best, ratio, verdict
      printf "dropgate_sqlite / %s: %.2fx\n", best, r["dropgate_sqlite"] / r[best]
    }' "$1"
}

main() {
  runs_tsv=()
  declare -gA answered_201=()
  naive_acknowledged=0
  start_postgres
  naive_schema
  start_dropgate dropgate_pg "$http_port" --database "postgresql://postgres@127.0.0.1:$pg_port/dropgate"
  start_dropgate dropgate_sqlite "$((http_port + 1))"
  local run
  for ((run = 1; run <= runs; run++)); do
    say "run $run of $runs: $clients clients (the first baseline: $pool), ${warmup_s} s warm-up and ${duration_s} s per side"
    measure_naive naive_pg_pool "$pool" "$run"
    measure_naive naive_pg_clients "$clients" "$run"
    measure_dropgate dropgate_pg "$run"
    measure_dropgate dropgate_sqlite "$run"
  done
  write_results > "$tmp/results.tsv"
  print_summary "$tmp/results.tsv"
  if [[ -n "$results_tsv" ]]; then cp "$tmp/results.tsv" "$results_tsv"; fi
}

main
