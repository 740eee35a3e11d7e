#!/usr/bin/env bash
# claim_cost.sh: what one claim costs dropgate on PostgreSQL, in figures a
# busy machine does not change (wall-clock claims/s on a shared machine do):
#
#   - instructions the origin process executes per claim, counted by
#     valgrind's callgrind over a run of N1 claims and one of N2 claims, each
#     in a fresh origin and database: (I2 - I1) / (N2 - N1), so start-up,
#     drop setup and shutdown cancel out;
#   - per claim on PostgreSQL, over the same difference: rows inserted and
#     updated (pg_stat_user_tables, heap rows; their index entries come on
#     top), WAL bytes (pg_current_wal_lsn), CPU time of the PostgreSQL server
#     (all its processes, /proc: less disturbed by other load than a rate,
#     not immune to it), and for the N2 run the statements the origin sent,
#     with calls and rows per claim (pg_stat_statements).
#
# Under valgrind the origin runs ~50x slower, so the group committer's batches
# are not those of a real surge: compare figures taken with the same N1, N2
# and concurrency, before and after a change, not with other benchmarks.
# CLAIM_COST_TOOL=none runs the origin at full speed instead, and gives CPU
# time per claim of the origin and of PostgreSQL (clock ticks from /proc) in
# place of instructions: batches as in a surge, figures a little load-bound.
#
# Usage: bench/claim_cost.sh [N1 N2]   (default 300 1300 claims, 64 clients;
#                                       CLAIM_COST_TOOL=none: 2000 12000)
# Environment: CALLGRIND_OUT, a file to keep the N2 run's callgrind profile in
#   (for callgrind_annotate); BENCH_PG_PORT (default 55433), BENCH_HTTP_PORT (default 18090),
#   BENCH_CLIENTS (default 64), DROPGATE, CLAIMLOAD, PG_BIN as in claim_bench.sh.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tool=${CLAIM_COST_TOOL:-callgrind}
if [[ $tool == none ]]; then n1=${1:-2000} n2=${2:-12000}; else n1=${1:-300} n2=${2:-1300}; fi
clients=${BENCH_CLIENTS:-64}
pg_port=${BENCH_PG_PORT:-55433}
http_port=${BENCH_HTTP_PORT:-18090}
dropgate=${DROPGATE:-$repo_root/build/dropgate}
claimload=${CLAIMLOAD:-$repo_root/build/bench/claimload}
export PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
pg_cluster=$repo_root/tests/support/pg_cluster.sh
readonly slug=hot-drop

die() { echo "claim_cost: $*" >&2; exit 1; }
say() { echo "claim_cost: $*" >&2; }

[[ $tool == none ]] || command -v valgrind > /dev/null || die "valgrind is needed (apt-get install valgrind)"
[[ -x "$dropgate" && -x "$claimload" ]] || die "build dropgate and claimload first (ninja -C build dropgate claimload)"
(( n2 > n1 )) || die "N2 must be larger than N1"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dropgate-claim-cost.XXXXXX")
chmod 755 "$tmp"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill -TERM "$server_pid" 2> /dev/null || true; wait "$server_pid" 2> /dev/null || true; fi
  bash "$pg_cluster" stop "$tmp/pg" > /dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

psql_at() {
  local db=$1; shift
  "$PG_BIN/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d "$db" -v ON_ERROR_STOP=1 -qtA "$@"
}

start_postgres() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && die "something already listens on 127.0.0.1:$pg_port; set BENCH_PG_PORT"
  bash "$pg_cluster" start "$tmp/pg" "$pg_port" > /dev/null
  psql_at postgres -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
  bash "$pg_cluster" stop "$tmp/pg" > /dev/null
  bash "$pg_cluster" start "$tmp/pg" "$pg_port" > /dev/null
}

# CPU clock ticks the PostgreSQL server has used: the postmaster, its live
# children, and (cutime, cstime) the children that exited, backends included.
pg_ticks() {
  local postmaster pid total
  postmaster=$(head -1 "$tmp/pg/data/postmaster.pid")
  total=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$postmaster/stat")
  for pid in $(pgrep -P "$postmaster"); do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2> /dev/null || echo 0)))
  done
  echo "$total"
}

# run_origin N: a fresh origin and database under callgrind, N claims; sets
# instructions, rows, wal_bytes (whole lifetime of that origin).
run_origin() {
  local n=$1 db=claims_$1 data=$tmp/origin-$1 origin=http://127.0.0.1:$http_port
  psql_at postgres -c "CREATE DATABASE $db"
  local url=postgresql://postgres@127.0.0.1:$pg_port/$db
  "$dropgate" init --data "$data" --database "$url" > "$data.init" 2>&1 || { cat "$data.init" >&2; die "init failed"; }
  local key; key=$(sed -n 's/^operator key: *\(dg_op_[A-Za-z0-9_-]*\)$/\1/p' "$data.init")
  local lsn; lsn=$(psql_at postgres -c "SELECT pg_current_wal_lsn()")
  local ticks; ticks=$(pg_ticks)
  local wrap=(valgrind --tool=callgrind --callgrind-out-file="$tmp/callgrind.$n")
  [[ $tool == none ]] && wrap=()
  "${wrap[@]}" "$dropgate" serve --data "$data" --database "$url" --listen "127.0.0.1:$http_port" --log-level warn \
    > "$data.log" 2>&1 &
  server_pid=$!
  local i
  for ((i = 0; i < 600; i++)); do
    curl -sf "$origin/healthz" > /dev/null 2>&1 && break
    kill -0 "$server_pid" 2> /dev/null || { cat "$data.log" >&2; die "the origin exited"; }
    sleep 0.1
  done
  mkdir -p "$tmp/files"
  echo "the file every buyer gets" > "$tmp/files/readme.txt"
  { DROPGATE_API_KEY=$key DROPGATE_ORIGIN=$origin "$dropgate" drop create "$slug" --edition 1000000 &&
    DROPGATE_API_KEY=$key DROPGATE_ORIGIN=$origin "$dropgate" drop upload "$slug" "$tmp/files" &&
    DROPGATE_API_KEY=$key DROPGATE_ORIGIN=$origin "$dropgate" drop publish "$slug"; } > "$data.setup" 2>&1 ||
    { cat "$data.setup" >&2; die "drop setup failed"; }
  if (( n == n2 )); then psql_at "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" > /dev/null; fi
  local json; json=$("$claimload" --url "$origin" --drop "$slug" --api-key "$key" --requests "$n" --concurrency "$clients")
  [[ $(jq -r .claims <<< "$json") == "$n" ]] || die "not every claim was answered 201: $json"
  origin_ticks=$(awk '{ print $14 + $15 }' "/proc/$server_pid/stat")
  kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
  # The origin's backends report their statistics as they exit.
  for ((i = 0; i < 100; i++)); do
    [[ $(psql_at postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'") == 0 ]] && break
    sleep 0.1
  done
  sleep 1
  instructions=0
  if [[ $tool != none ]]; then
    instructions=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$tmp/callgrind.$n")
    [[ -n "$instructions" ]] || instructions=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/callgrind.$n")
  fi
  rows=$(psql_at "$db" -c "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables")
  wal_bytes=$(psql_at postgres -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn')")
  pg_cpu_ticks=$(( $(pg_ticks) - ticks ))
  if (( n == n2 )); then
    psql_at "$db" -F $'\t' -c "SELECT round(calls::numeric / $n, 3), round(rows::numeric / $n, 3),
        regexp_replace(left(query, 110), '\s+', ' ', 'g')
      FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$db')
      ORDER BY calls DESC LIMIT 15" > "$tmp/statements"
    psql_at "$db" -F $'\t' -c "SELECT relname, n_tup_ins, n_tup_upd FROM pg_stat_user_tables
      WHERE n_tup_ins + n_tup_upd > 0 ORDER BY n_tup_ins + n_tup_upd DESC" > "$tmp/tables"
    # Bytes per row as stored, and whether the idempotency record's answer was
    # compressed or moved out of line (TOAST): both cost PostgreSQL CPU per claim.
    psql_at "$db" -F $'\t' -c "SELECT 'claims', round(avg(pg_column_size(c.*))) FROM claims c
      UNION ALL SELECT 'idempotency', round(avg(pg_column_size(i.*))) FROM idempotency i
      UNION ALL SELECT 'events', round(avg(pg_column_size(e.*))) FROM events e
      UNION ALL SELECT 'idempotency.response_body as stored / as text',
        round(avg(pg_column_size(response_body))::numeric / avg(octet_length(response_body)), 3) FROM idempotency
      UNION ALL SELECT 'idempotency TOAST bytes', pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 'idempotency'" \
      > "$tmp/widths"
  fi
  say "$n claims: $instructions instructions, $rows rows, $wal_bytes WAL bytes, $pg_cpu_ticks PostgreSQL CPU ticks"
}

start_postgres
run_origin "$n1"; i1=$instructions r1=$rows w1=$wal_bytes c1=$pg_cpu_ticks o1=$origin_ticks
run_origin "$n2"; i2=$instructions r2=$rows w2=$wal_bytes c2=$pg_cpu_ticks o2=$origin_ticks
awk -v i1="$i1" -v i2="$i2" -v r1="$r1" -v r2="$r2" -v w1="$w1" -v w2="$w2" -v c1="$c1" -v c2="$c2" \
  -v o1="$o1" -v o2="$o2" -v tool="$tool" -v hz="$(getconf CLK_TCK)" -v n1="$n1" -v n2="$n2" 'BEGIN {
  d = n2 - n1
  origin = tool == "none" ? sprintf("%.0f µs of origin CPU", (o2 - o1) * 1e6 / hz / d) \
                          : sprintf("%.0f instructions in the origin", (i2 - i1) / d)
  printf "per claim (runs of %d and %d claims, %s clients): %s, %.2f rows, %.0f WAL bytes, %.0f µs of PostgreSQL CPU\n",
    n1, n2, "'"$clients"'", origin, (r2 - r1) / d, (w2 - w1) / d, (c2 - c1) * 1e6 / hz / d }'
if [[ -n "${CALLGRIND_OUT:-}" && $tool != none ]]; then cp "$tmp/callgrind.$n2" "$CALLGRIND_OUT"; fi
echo "rows written in the $n2-claim run, by table (inserted, updated):"
sed 's/^/  /' "$tmp/tables"
echo "average row bytes as stored, and compression of the idempotency answer:"
sed 's/^/  /' "$tmp/widths"
echo "statements of the $n2-claim run (calls per claim, rows per claim, statement):"
sed 's/^/  /' "$tmp/statements"
