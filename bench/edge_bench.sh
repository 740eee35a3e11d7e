#!/usr/bin/env bash
# edge_bench.sh: the dropgate edge against nginx serving the same files behind
# nginx's own signed links (secure_link + secure_link_md5), in the same run.
#
# Throughput: wrk, 2 threads, 64 keep-alive connections, on a 4 KiB, a 64 KiB
# and a 16 MiB file; the sides take turns (nginx, edge, then the other way
# round) and each reports its median run. Every request carries a signed link:
# an MD5 link for nginx (64 different ones, one per buyer; nginx keeps no
# state per link, so which ones makes no difference) and a PASETO v4.public
# download token (Ed25519) for the edge, which the edge verifies itself
# (against its synced keyring and revocation list; a token verified once is a
# cache lookup afterwards). How often the edge sees a new token is the mix:
#   cached     64 buyers' tokens reused all run long: all but 64 requests are
#              cache hits (the 4 KiB file only, for comparison);
#   mix        a new token every 20 requests, each used 20 times and never
#              again — a buyer downloading a 20-file drop (every file; the
#              goals are judged on this mix);
#   cold       every request a new token (the 4 KiB file only), set against
#              the bare libsodium Ed25519 verification rate on as many
#              threads as the edge has (bench/verify_rate), measured in the
#              same run on the same cores.
# The tokens of the mix and cold runs are minted before each run with
# dropgate's own token code and the origin's key (bench/mint_tokens), copies of
# a real claim's token with their own accounts, enough for the run
# (wrk's script counts any request that had to reuse one, and a run with
# any is refused).
#
# Each run is a pair, nginx and the edge back to back on the same file (the
# order alternates), and the machine's load drifts between pairs more than
# within one: besides each side's median run, the results give the median of
# the pairs' edge/nginx ratios, and the CPU time each server used per
# request (user + system, from /proc/PID/stat, over the measured seconds).
#
# Memory: each server is restarted, then 10,000 keep-alive connections each
# fetch the small file once and stay open and idle. The memory per connection is
# (PSS with them - PSS before them) / 10,000, PSS summed over the server's
# processes (nginx: master and workers), read 2 s after the last connection
# got its answer (the edge gives back a connection's read block after about
# a second idle). Kernel socket buffers are not in PSS; they are the same
# kernel's for both.
#
# Fairness: nginx gets as many worker processes as the edge has I/O threads,
# sendfile, open_file_cache, keepalive_requests high enough never to close a
# wrk connection, and reuseport; both write an access log line per request to
# a file, buffered and flushed every 100 ms (nginx's default format with
# buffer=64k flush=100ms; the edge's JSON lines, which it buffers so), and the
# edge also records each download in its durable outbox, as in production. The origin is
# stopped once the tokens are issued: the edge serves offline, as at a venue
# with no uplink, so no push to the origin takes CPU during the runs.
#
# Usage: bench/edge_bench.sh [RESULTS_TSV]
# Environment:
#   BENCH_DURATION_S   seconds per measured run (default 10; BENCH_QUICK=1: 3)
#   BENCH_WARMUP_S     seconds of warm-up before each run (default 2; BENCH_QUICK=1: 1)
#   BENCH_RUNS         runs of each side per file, odd (default 3; BENCH_QUICK=1: 1)
#   BENCH_IDLE_CONNS   idle keep-alive connections for the memory figure
#                      (default 10000; BENCH_QUICK=1: 1000)
#   BENCH_PORT         first of four loopback ports used (default 18180)
#   DROPGATE, IDLECONNS, MINT_TOKENS, VERIFY_RATE  the binaries (default build/dropgate,
#                      build/bench/idleconns, build/bench/mint_tokens, build/bench/verify_rate)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
  duration_s=${BENCH_DURATION_S:-2} warmup_s=${BENCH_WARMUP_S:-1} runs=${BENCH_RUNS:-1}
  idle_conns=${BENCH_IDLE_CONNS:-1000} idle_hold_s=4
else
  duration_s=${BENCH_DURATION_S:-10} warmup_s=${BENCH_WARMUP_S:-2} runs=${BENCH_RUNS:-3}
  idle_conns=${BENCH_IDLE_CONNS:-10000} idle_hold_s=12
fi
base_port=${BENCH_PORT:-18180}
dropgate=${DROPGATE:-$repo_root/build/dropgate}
idleconns=${IDLECONNS:-$repo_root/build/bench/idleconns}
mint_tokens=${MINT_TOKENS:-$repo_root/build/bench/mint_tokens}
verify_rate=${VERIFY_RATE:-$repo_root/build/bench/verify_rate}
wrk_script=$repo_root/bench/edge_wrk.lua
vectors=$repo_root/tests/vectors/nginx_secure_link/examples.json
results_tsv=${1:-}

readonly slug=bench-drop
readonly buyers=64
readonly wrk_threads=2 wrk_connections=64
readonly secret="dropgate-bench-secret"
readonly origin_port=$base_port nginx_port=$((base_port + 1)) edge_port=$((base_port + 2))
# name:bytes of the files measured
readonly files=(small.bin:4096 medium.bin:65536 large.bin:16777216)
# The measured cases, case:file:mix (the mixes are described above).
readonly cases=(small-cached:small.bin:cached small-mix:small.bin:mix small-cold:small.bin:cold
  medium-mix:medium.bin:mix large-mix:large.bin:mix)
readonly mix_requests_per_token=20
# Requests per second no run reaches on this kind of machine: the mix's tokens
# are minted for this rate; the cold run's for the raw verification rate,
# which the edge cannot pass. Too few tokens fail the run, never skew it.
readonly rate_ceiling_per_s=250000

die() { echo "edge_bench: $*" >&2; exit 1; }
say() { echo "edge_bench: [${SECONDS} s] $*" >&2; }

[[ -x "$dropgate" ]] || die "no dropgate binary at $dropgate (build it, or set DROPGATE)"
[[ -x "$idleconns" ]] || die "no idleconns binary at $idleconns (ninja -C build idleconns)"
[[ -x "$mint_tokens" ]] || die "no mint_tokens binary at $mint_tokens (ninja -C build mint_tokens)"
[[ -x "$verify_rate" ]] || die "no verify_rate binary at $verify_rate (ninja -C build verify_rate)"
# scripts/setup.sh installs nginx and wrk (the quick mode runs in CI); run
# alone as root, they are installed on first use (nginx's service is not started).
if ! command -v nginx > /dev/null || ! command -v wrk > /dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get > /dev/null; then
    say "installing nginx and wrk (Debian packages)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx wrk > /dev/null ||
      die "apt-get install nginx wrk failed"
  else
    die "nginx and wrk are needed: apt-get install nginx wrk"
  fi
fi
for tool in nginx wrk jq curl openssl; do
  command -v "$tool" > /dev/null || die "$tool is needed (scripts/setup.sh installs it)"
done
(( runs % 2 == 1 )) || die "BENCH_RUNS must be odd, so the median is one measured run"

io_threads=$(nproc)
clock_ticks_per_s=$(getconf CLK_TCK)
# Each side holds idle_conns sockets, and so does idleconns.
ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) >= idle_conns + 1000 )) ||
  die "the open-file limit is $(ulimit -n); $((idle_conns + 1000)) are needed (raise it, or lower BENCH_IDLE_CONNS)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dropgate-edge-bench.XXXXXX")
chmod 755 "$tmp"  # nginx's workers run as nobody
origin_pid="" edge_pid="" nginx_pid=""

cleanup() {
  stop_pid "$edge_pid"; stop_pid "$nginx_pid"; stop_pid "$origin_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT

stop_pid() {
  [[ -n "$1" ]] || return 0
  kill -TERM "$1" 2> /dev/null || true
  wait "$1" 2> /dev/null || true
}

wait_http() {  # wait_http URL PID WHAT LOG
  local i
  for ((i = 0; i < 100; i++)); do
    curl -s -o /dev/null "$1" && return 0
    kill -0 "$2" 2> /dev/null || { cat "$4" >&2; die "$3 exited"; }
    sleep 0.1
  done
  cat "$4" >&2
  die "$3 did not answer on $1"
}

# ----------------------------------------------------------------- nginx links

# secure_link_md5 "$secure_link_expires$uri SECRET": base64url(MD5), no padding.
nginx_link() {  # nginx_link URI EXPIRES
  local md5
  md5=$(printf '%s%s %s' "$2" "$1" "$secret" | openssl md5 -binary | openssl base64 | tr '+/' '-_' | tr -d '=')
  echo "$1?md5=$md5&expires=$2"
}

# The signer must agree with nginx's documented example before it is trusted.
check_link_signer() {
  local n=0 name input token got
  while IFS=$'\t' read -r name input token; do
    got=$(printf '%s' "$input" | openssl md5 -binary | openssl base64 | tr '+/' '-_' | tr -d '=')
    [[ "$got" == "$token" ]] || die "secure_link signer: case $name gives $got, the vector says $token"
    n=$((n + 1))
  done < <(jq -r '.cases[] | select(.md5_input) | [.name, .md5_input, .token] | @tsv' "$vectors")
  (( n >= 2 )) || die "no secure_link vectors read from $vectors"
}

# ----------------------------------------------------------------- setup

make_files() {
  mkdir -p "$tmp/files" "$tmp/www/dl"
  local entry name bytes
  for entry in "${files[@]}"; do
    name=${entry%%:*} bytes=${entry##*:}
    head -c "$bytes" /dev/urandom > "$tmp/files/$name"
    cp "$tmp/files/$name" "$tmp/www/dl/$name"
  done
  chmod -R a+rX "$tmp/www"
}

# Origin, drop, edge enrolled and preloaded, a download token per buyer; then
# the origin stops.
setup_dropgate() {
  local o=$tmp/origin origin_url=http://127.0.0.1:$origin_port
  "$dropgate" init --data "$o" > "$tmp/origin.init" 2>&1 || { cat "$tmp/origin.init" >&2; die "dropgate init failed"; }
  echo "download_token_ttl_s = 900" > "$o/dropgate.toml"
  local key; key=$(sed -n 's/^operator key: *\(dg_op_[A-Za-z0-9_-]*\)$/\1/p' "$tmp/origin.init")
  [[ -n "$key" ]] || die "no operator key in dropgate init's output"
  export DROPGATE_API_KEY=$key DROPGATE_ORIGIN=$origin_url
  "$dropgate" serve --data "$o" --listen "127.0.0.1:$origin_port" --log-level warn > "$tmp/origin.log" 2>&1 &
  origin_pid=$!
  wait_http "$origin_url/healthz" "$origin_pid" "the origin" "$tmp/origin.log"
  {
    "$dropgate" drop create "$slug" --edition 1000 &&
      "$dropgate" drop upload "$slug" "$tmp/files" &&
      "$dropgate" drop publish "$slug"
  } > "$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log" >&2; die "drop setup failed"; }

  local e=$tmp/edge
  "$dropgate" edge enroll --data "$e" --origin "$origin_url" --name bench > "$tmp/enroll.log" 2>&1 ||
    { cat "$tmp/enroll.log" >&2; die "edge enroll failed"; }
  local edge_id; edge_id=$(sed -n 's/^edge id: *//p' "$tmp/enroll.log")
  "$dropgate" edge approve "$edge_id" --drops "$slug" >> "$tmp/setup.log" 2>&1 || die "edge approve failed"
  cat > "$e/edge.toml" <<EOF
io_threads = $io_threads
# Every download of the runs is recorded while the origin is away: five
# runs of three files, each side, reach 10 million downloads.
outbox_depth_max = 40000000
EOF
  "$dropgate" edge preload --data "$e" >> "$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log" >&2; die "edge preload failed"; }

  : > "$tmp/edge-tokens"
  local i claim token
  for ((i = 1; i <= buyers; i++)); do
    claim=$("$dropgate" drop claim "$slug" --account "buyer-$i" --json) || die "claim $i failed"
    token=$(jq -r '.download_token // empty' <<< "$claim")
    [[ -n "$token" ]] || die "claim $i has no download_token: $claim"
    echo "$token" >> "$tmp/edge-tokens"
  done
  stop_pid "$origin_pid"
  origin_pid=""
  say "origin stopped; the edge serves offline from here on"
}

start_edge() {
  "$dropgate" edge serve --data "$tmp/edge" --listen "127.0.0.1:$edge_port" >> "$tmp/edge.log" 2>&1 &
  edge_pid=$!
  wait_http "http://127.0.0.1:$edge_port/healthz" "$edge_pid" "the edge" "$tmp/edge.log"
}

write_nginx_conf() {
  mkdir -p "$tmp/nginx/logs"
  cat > "$tmp/nginx/nginx.conf" <<EOF
daemon off;
worker_processes $io_threads;
worker_rlimit_nofile $(ulimit -n);
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events {
  worker_connections $((idle_conns + 2000));
}
http {
  access_log $tmp/nginx/logs/access.log combined buffer=64k flush=100ms;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65s;
  keepalive_requests 100000000;
  open_file_cache max=1000 inactive=60s;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port reuseport;
    root $tmp/www;
    location /dl/ {
      secure_link \$arg_md5,\$arg_expires;
      secure_link_md5 "\$secure_link_expires\$uri $secret";
      if (\$secure_link = "") { return 403; }
      if (\$secure_link = "0") { return 410; }
    }
  }
}
EOF
}

start_nginx() {
  nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" >> "$tmp/nginx/run.log" 2>&1 &
  nginx_pid=$!
  wait_http "http://127.0.0.1:$nginx_port/" "$nginx_pid" "nginx" "$tmp/nginx/logs/error.log"
}

# Request targets per side and file, one per buyer.
write_targets() {
  local entry name expires i
  for entry in "${files[@]}"; do
    name=${entry%%:*}
    : > "$tmp/targets-nginx-$name"
    : > "$tmp/targets-edge-$name"
    expires=$(($(date +%s) + 7200))
    for ((i = 0; i < buyers; i++)); do
      nginx_link "/dl/$name" "$((expires + i))" >> "$tmp/targets-nginx-$name"
    done
    while read -r token; do
      echo "/v1/drops/$slug/files/$name?token=$token" >> "$tmp/targets-edge-$name"
    done < "$tmp/edge-tokens"
  done
}

target_url() {  # target_url SIDE NAME: the first target as a full URL
  local port=$nginx_port
  [[ "$1" == edge ]] && port=$edge_port
  echo "http://127.0.0.1:$port$(head -1 "$tmp/targets-$1-$2")"
}

# Both sides serve the same bytes, and both refuse what they must.
check_sides() {
  local entry name want got
  for entry in "${files[@]}"; do
    name=${entry%%:*}
    want=$(sha256sum < "$tmp/files/$name" | cut -d' ' -f1)
    for side in nginx edge; do
      got=$(curl -fsS "$(target_url "$side" "$name")" | sha256sum | cut -d' ' -f1)
      [[ "$got" == "$want" ]] || die "$side serves $name with sha256 $got, want $want"
    done
  done
  local status base=http://127.0.0.1:$nginx_port/dl/small.bin
  status=$(curl -s -o /dev/null -w '%{http_code}' "$base?md5=AAAAAAAAAAAAAAAAAAAAAA&expires=$(($(date +%s) + 600))")
  [[ "$status" == 403 ]] || die "nginx answered $status to a forged link, not 403: secure_link is not on"
  local expired; expired=$(nginx_link /dl/small.bin 1700000000)
  status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$nginx_port$expired")
  [[ "$status" == 410 ]] || die "nginx answered $status to an expired link, not 410"
  local token; token=$(head -1 "$tmp/edge-tokens")
  local forged=${token:0:$((${#token} - 8))}AAAAAAAA
  status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$edge_port/v1/drops/$slug/files/small.bin?token=$forged")
  [[ "$status" == 401 ]] || die "the edge answered $status to a forged token, not 401"
}

# ----------------------------------------------------------------- throughput

# run_wrk SIDE SECONDS LIST PREFIX MODE REPEAT: prints the script's JSON line
# (see bench/edge_wrk.lua for LIST, PREFIX, MODE and REPEAT).
run_wrk() {
  local port=$nginx_port
  [[ "$1" == edge ]] && port=$edge_port
  wrk -t"$wrk_threads" -c"$wrk_connections" -d"$2"s --timeout 10s -s "$wrk_script" \
    "http://127.0.0.1:$port" -- "$3" "$4" "$5" "$6" "$wrk_threads" | grep '^{"requests"'
}

# cpu_ticks PID...: user + system clock ticks the processes have used.
cpu_ticks() {
  local pid total=0
  for pid in "$@"; do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
  done
  echo "$total"
}

# mint COUNT FILE: COUNT fresh download tokens like the buyers' into FILE.
mint() {
  "$mint_tokens" --key "$tmp/origin/keys/secret.paserk" --like "$(head -1 "$tmp/edge-tokens")" \
    --count "$1" > "$2" || die "mint_tokens failed"
}

# measure SIDE CASE RUN: warm-up, then one measured run; appends its row.
# Both sides warm up with their 64 buyers' links; the edge's mix and cold
# runs then use tokens minted for this run alone.
measure() {
  local side=$1 case=$2 run=$3
  local name mix
  IFS=: read -r _ name mix <<< "$(printf '%s\n' "${cases[@]}" | grep "^$case:")"
  local bytes; bytes=$(printf '%s\n' "${files[@]}" | sed -n "s/^$name://p")
  local list=$tmp/targets-nginx-$name prefix="" mode=cycle repeat=1
  local warm_list=$list
  if [[ $side == edge ]]; then
    list=$tmp/edge-tokens warm_list=$tmp/edge-tokens prefix="/v1/drops/$slug/files/$name?token="
    case $mix in
      mix)
        list=$tmp/minted mode=once repeat=$mix_requests_per_token
        mint $((rate_ceiling_per_s * duration_s / mix_requests_per_token)) "$list" ;;
      cold)
        list=$tmp/minted mode=once repeat=1
        # The edge verifies no faster than bare libsodium on all its threads;
        # twice that, as a busy machine may slow the one-second probe more.
        local ceiling; ceiling=$(jq -r .verifies_per_s <<< "$(raw_verify 1)")
        mint "$(awk -v r="$ceiling" -v d="$duration_s" 'BEGIN { printf "%d", 2 * r * d + 5000 }')" "$list" ;;
    esac
  fi
  run_wrk "$side" "$warmup_s" "$warm_list" "$prefix" cycle 1 > /dev/null
  local pids=$edge_pid
  [[ $side == nginx ]] && pids=$(nginx_pids)
  local ticks_before; ticks_before=$(cpu_ticks $pids)
  local json; json=$(run_wrk "$side" "$duration_s" "$list" "$prefix" "$mode" "$repeat")
  local ticks_after; ticks_after=$(cpu_ticks $pids)
  [[ -n "$json" ]] || die "$side $case: no summary from wrk"
  local requests errors
  requests=$(jq -r .requests <<< "$json")
  errors=$(jq -r '.connect_errors + .read_errors + .write_errors + .status_errors + .timeouts' <<< "$json")
  (( errors == 0 )) || die "$side $case: wrk saw errors: $json"
  (( requests > 0 )) || die "$side $case: no requests completed"
  (( $(jq -r .reused <<< "$json") == 0 )) ||
    die "$side $case: $(jq -r .reused <<< "$json") requests reused a token meant for one buyer: mint more (raise rate_ceiling_per_s)"
  # Every response carried the whole file (wrk counts header bytes too).
  (( $(jq -r .bytes <<< "$json") >= requests * bytes )) || die "$side $case: short responses: $json"
  served_requests[$side]=$(( ${served_requests[$side]:-0} + requests ))
  local rate mbps
  rate=$(jq -r '.requests / (.duration_us / 1e6)' <<< "$json")
  mbps=$(awk -v r="$rate" -v b="$bytes" 'BEGIN { printf "%.1f", r * b / 1e6 }')
  # CPU µs per request; the ticks include the tail of requests begun in the
  # warm-up and leave out those wrk left unanswered at its end: a wash.
  local cpu_us
  cpu_us=$(awk -v t="$((ticks_after - ticks_before))" -v hz="$clock_ticks_per_s" -v n="$requests" \
    'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
  runs_tsv+=("$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$side-$case" "$rate" "$mbps" \
    "$(jq -r '.p50_us / 1000' <<< "$json")" "$(jq -r '.p99_us / 1000' <<< "$json")" "$requests" "$run" "$cpu_us")")
  say "$(printf 'run %d %-6s %-13s %10.0f req/s %9s MB/s  p50 %s ms  p99 %s ms  CPU %s µs/request' "$run" "$side" \
    "$case" "$rate" "$mbps" "$(jq -r '.p50_us / 1000' <<< "$json")" "$(jq -r '.p99_us / 1000' <<< "$json")" "$cpu_us")"
}

# raw_verify SECONDS: bench/verify_rate's JSON, with the edge's thread count.
raw_verify() {
  "$verify_rate" --token "$(head -1 "$tmp/edge-tokens")" --threads "$io_threads" --duration-s "$1" ||
    die "verify_rate failed"
}

# The cold run's baseline: bare libsodium verifications per second on the
# edge's threads, measured beside the cold run; appends its row (label
# sodium-verify; the rate in the requests/s column).
measure_raw_verify() {
  local json; json=$(raw_verify "$duration_s")
  runs_tsv+=("$(printf 'sodium-verify\t%s\t0\t0\t0\t%s\t%s\t0' "$(jq -r .verifies_per_s <<< "$json")" \
    "$(jq -r .verifies <<< "$json")" "$1")")
  verify_message_bytes=$(jq -r .message_bytes <<< "$json")
  say "$(printf 'run %d libsodium verify on %d threads: %.0f/s' "$1" "$io_threads" "$(jq -r .verifies_per_s <<< "$json")")"
}

# The edge counted and recorded every download it delivered: its completed
# downloads are at least the responses wrk received (warm-ups and checks add
# more), no event was dropped, and the outbox holds an event for each.
check_edge_counts() {
  local metrics completed failed dropped depth
  metrics=$(curl -fsS "http://127.0.0.1:$edge_port/metrics")
  metric() { awk -v m="$1" '$1 == m { printf "%d", $2 }' <<< "$metrics"; }
  completed=$(metric 'dropgate_edge_downloads_total{result="completed"}')
  failed=$(metric 'dropgate_edge_downloads_total{result="failed"}')
  dropped=$(metric dropgate_edge_outbox_dropped_total)
  depth=$(metric dropgate_edge_outbox_depth)
  say "edge: $completed downloads completed, ${failed:-0} cut short, outbox depth $depth, dropped ${dropped:-0}"
  (( completed >= served_requests[edge] )) ||
    die "the edge counted $completed completed downloads, wrk received ${served_requests[edge]}"
  (( ${dropped:-0} == 0 )) || die "the edge dropped $dropped download events"
  (( depth == completed + ${failed:-0} )) ||
    die "the outbox holds $depth events for $completed completed and ${failed:-0} cut-short downloads"
}

# ----------------------------------------------------------------- memory

pss_kib() {  # pss_kib PID...: PSS summed over the processes, KiB
  local pid total=0 kib
  for pid in "$@"; do
    kib=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup")
    total=$((total + kib))
  done
  echo "$total"
}

nginx_pids() { echo "$nginx_pid" $(pgrep -P "$nginx_pid"); }

# nginx allocates its connection structures when a worker starts, one per
# worker_connections slot, so they are in its PSS before any client comes: a
# connection's share is its slot plus what grows. Bytes per slot: the PSS of
# an idle nginx with N slots per worker minus one with 1,024, per added slot.
nginx_slot_bytes() {
  local dir=$tmp/nginx-slots slots pss=()
  for slots in 1024 $((idle_conns + 2000)); do
    mkdir -p "$dir/$slots/logs"
    cat > "$dir/$slots/nginx.conf" <<EOF
daemon off;
worker_processes $io_threads;
worker_rlimit_nofile $(ulimit -n);
pid $dir/$slots/nginx.pid;
error_log $dir/$slots/logs/error.log warn;
events { worker_connections $slots; }
http {
  access_log off;
  server { listen 127.0.0.1:$((base_port + 3)); root $tmp/www; }
}
EOF
    nginx -p "$dir/$slots" -c "$dir/$slots/nginx.conf" -e "$dir/$slots/logs/error.log" > /dev/null 2>&1 &
    local pid=$!
    wait_http "http://127.0.0.1:$((base_port + 3))/" "$pid" "nginx (slots probe)" "$dir/$slots/logs/error.log"
    sleep 1
    pss+=("$(pss_kib "$pid" $(pgrep -P "$pid"))")
    stop_pid "$pid"
  done
  echo $(( (pss[1] - pss[0]) * 1024 / (io_threads * (idle_conns + 2000 - 1024)) ))
}

# memory SIDE: bytes per idle keep-alive connection on a freshly started server.
memory() {
  local side=$1 pids
  if [[ $side == nginx ]]; then
    stop_pid "$nginx_pid"; start_nginx
  else
    stop_pid "$edge_pid"; start_edge
  fi
  local url; url=$(target_url "$side" small.bin)
  local port=$nginx_port
  [[ $side == edge ]] && port=$edge_port
  local target=/${url#http://127.0.0.1:*/}
  curl -fsS -o /dev/null "$url"  # one download, so first-use setup is not counted
  sleep 1
  if [[ $side == nginx ]]; then pids=$(nginx_pids); else pids=$edge_pid; fi
  local before; before=$(pss_kib $pids)
  "$idleconns" 127.0.0.1 "$port" "$target" "$idle_conns" "$idle_hold_s" > "$tmp/idle-$side.out" 2> "$tmp/idle-$side.err" &
  local idle_pid=$! i
  for ((i = 0; i < 600; i++)); do
    grep -q '^ready' "$tmp/idle-$side.out" 2> /dev/null && break
    kill -0 "$idle_pid" 2> /dev/null || { cat "$tmp/idle-$side.err" >&2; die "idleconns failed against $side"; }
    sleep 0.1
  done
  grep -q '^ready' "$tmp/idle-$side.out" || die "idleconns never got $idle_conns connections ready against $side"
  sleep 2
  local after; after=$(pss_kib $pids)
  wait "$idle_pid" || { cat "$tmp/idle-$side.err" >&2; die "$side closed idle connections during the hold"; }
  local per_conn; per_conn=$(( (after - before) * 1024 / idle_conns ))
  local slot=0
  [[ $side == nginx ]] && slot=$(nginx_slot_bytes)
  memory_tsv+=("$(printf 'memory-%s\t%s\t%s\t%s\t%s\t%s' "$side" "$((per_conn + slot))" "$before" "$after" \
    "$per_conn" "$slot")")
  say "$side: PSS $before KiB idle, $after KiB with $idle_conns idle connections: $per_conn bytes each" \
    "grown, plus $slot bytes of slot allocated at start"
}

# ----------------------------------------------------------------- results

# One line per side and file, its median run (by req/s): label, req/s, MB/s,
# p50 ms, p99 ms, requests, run, CPU µs per request, every run's req/s, the
# median of every run's CPU µs per request, every run's CPU µs per request;
# one line per file for the pairs: label (pair-NAME), the median of the
# runs' edge/nginx req/s ratios, every run's ratio; memory lines: label,
# bytes per connection, PSS before, PSS after (KiB), bytes grown per
# connection, bytes allocated per slot at start (nginx); a settings line.
write_results() {
  local entry name side
  for entry in "${cases[@]}" sodium-verify; do
    name=${entry%%:*}
    for side in nginx edge; do
      [[ $name == sodium-verify && $side == edge ]] && continue
      local label=$side-$name
      [[ $name == sodium-verify ]] && label=$name
      printf '%s\n' "${runs_tsv[@]}" | awk -F'\t' -v l="$label" '
        function median(v, n,   i, j, below) {
          for (i = 1; i <= n; i++) { below = 0; for (j = 1; j <= n; j++) if (v[j] < v[i] || (v[j] == v[i] && j < i)) below++
            if (below == int(n / 2)) return i }
        }
        $1 == l { n++; row[n] = $0; rate[n] = $2; cpu[n] = $8
          all = all (n > 1 ? "," : "") sprintf("%.0f", $2); cpus = cpus (n > 1 ? "," : "") $8 }
        END { print row[median(rate, n)] "\t" all "\t" cpu[median(cpu, n)] "\t" cpus }'
    done
    [[ $name == sodium-verify ]] && continue
    printf '%s\n' "${runs_tsv[@]}" | awk -F'\t' -v e="edge-$name" -v g="nginx-$name" -v l="pair-$name" '
      $1 == e { edge[$7] = $2 } $1 == g { nginx[$7] = $2 }
      END {
        for (r in edge) if (r in nginx) { n++; ratio[n] = edge[r] / nginx[r]; run[n] = r }
        # every run ratio, in run order
        for (r = 1; r <= 1000 && shown < n; r++) if ((r in edge) && (r in nginx)) { shown++; all = all (shown > 1 ? "," : "") sprintf("%.2f", edge[r] / nginx[r]) }
        for (i = 1; i <= n; i++) { below = 0; for (j = 1; j <= n; j++) if (ratio[j] < ratio[i] || (ratio[j] == ratio[i] && j < i)) below++
          if (below == int(n / 2)) { printf "%s\t%.4f\t%s\n", l, ratio[i], all; exit } }
      }'
  done
  printf '%s\n' "${memory_tsv[@]}"
  printf 'settings\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$duration_s" "$warmup_s" "$runs" "$io_threads" \
    "$idle_conns" "$(nginx -v 2>&1 | sed 's/^nginx version: //')" "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)" \
    "$mix_requests_per_token" "$verify_message_bytes" "$(head -1 "$tmp/edge-tokens" | tr -d '\n' | wc -c)"
}

print_summary() {
  awk -F'\t' -v quick="${BENCH_QUICK:-0}" '
    $1 ~ /^(nginx|edge)-/ { r[$1] = $2; m[$1] = $3
      printf "%-18s %10.0f req/s %9.1f MB/s %9.2f µs CPU/request  (all: %s)\n", $1, $2, $3, $10, $9 }
    $1 ~ /^pair-/ { pair[$1] = $2; printf "%-18s edge/nginx by run: %s\n", $1, $3 }
    $1 ~ /^memory-/ { mem[$1] = $2; printf "%-18s %10d bytes per idle connection\n", $1, $2 }
    $1 == "sodium-verify" { raw = $2; printf "%-18s %10.0f verifies/s on the edge'"'"'s threads  (all: %s)\n", $1, $2, $9 }
    $1 ~ /^memory-/ { grown[$1] = $5 }
    END {
      goal = quick == 1 ? "not judged in a quick run" : "goal >= 1.0"
      printf "small, cached tokens edge/nginx req/s: %.2fx paired, %.2fx of medians (no goal)\n", pair["pair-small-cached"], r["edge-small-cached"] / r["nginx-small-cached"]
      printf "small, mix edge/nginx req/s:   %.2fx paired, %.2fx of medians (%s)\n", pair["pair-small-mix"], r["edge-small-mix"] / r["nginx-small-mix"], goal
      printf "small, cold edge/nginx req/s:  %.2fx paired, %.2fx of medians (no goal)\n", pair["pair-small-cold"], r["edge-small-cold"] / r["nginx-small-cold"]
      printf "small, cold edge/raw verify:   %.2fx of medians (no goal)\n", r["edge-small-cold"] / raw
      printf "medium, mix edge/nginx req/s:  %.2fx paired, %.2fx of medians (%s)\n", pair["pair-medium-mix"], r["edge-medium-mix"] / r["nginx-medium-mix"], goal
      printf "large, mix edge/nginx MB/s:    %.2fx paired, %.2fx of medians (%s)\n", pair["pair-large-mix"], m["edge-large-mix"] / m["nginx-large-mix"], quick == 1 ? goal : "goal >= 0.95"
      printf "memory edge/nginx:             %.2fx with nginx'"'"'s slot, %.2fx of growth only (goal <= 1.0 with the slot)\n", mem["memory-edge"] / mem["memory-nginx"], mem["memory-edge"] / grown["memory-nginx"]
    }' "$1"
}

main() {
  runs_tsv=() memory_tsv=()
  declare -gA served_requests=()
  check_link_signer
  make_files
  say "setting up the origin, a drop and an edge (tokens for $buyers buyers)"
  setup_dropgate
  write_nginx_conf
  start_nginx
  start_edge
  write_targets
  check_sides
  local run entry case
  for ((run = 1; run <= runs; run++)); do
    say "run $run of $runs: wrk -t$wrk_threads -c$wrk_connections, ${warmup_s} s warm-up and ${duration_s} s per side and case"
    for entry in "${cases[@]}"; do
      case=${entry%%:*}
      if (( run % 2 == 1 )); then
        measure nginx "$case" "$run"; measure edge "$case" "$run"
      else
        measure edge "$case" "$run"; measure nginx "$case" "$run"
      fi
      if [[ $case == small-cold ]]; then measure_raw_verify "$run"; fi
    done
  done
  check_edge_counts
  memory nginx
  memory edge
  write_results > "$tmp/results.tsv"
  print_summary "$tmp/results.tsv"
  if [[ -n "$results_tsv" ]]; then cp "$tmp/results.tsv" "$results_tsv"; fi
}

main
