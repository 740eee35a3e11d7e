#!/usr/bin/env bash
# Makes the upgrade fixtures (tests/upgrade/README.md) with a released dropgate
# binary, through its ordinary commands and HTTP API, for each backend:
#
#   OUT/sqlite/origin       an origin data folder on SQLite (dropgate.db, keys, blobs)
#   OUT/postgresql/origin   an origin data folder for PostgreSQL (keys, blobs) ...
#   OUT/postgresql/dump.sql ... and its database, as a plain-SQL pg_dump
#   OUT/<backend>/edge      an edge enrolled with that origin, the drop synced,
#                           two downloads in its outbox that the origin never saw
#   OUT/<backend>/fixture.json  what the test checks against (keys, serials, answers)
#
# Each origin holds one published drop, four claims (three direct, one from a
# confirmed hold, each with the answer to its Idempotency-Key), a hold left
# to expire, and the approved edge.
#
#   make_fixtures.sh RELEASE_BIN OUT_DIR
#
# Needs curl, jq, sqlite3 and PostgreSQL 15 (PG_BIN, default
# /usr/lib/postgresql/15/bin); starts a throwaway cluster on PG_PORT
# (default 55432) in a temporary folder. Every key it makes is a test key.
set -euo pipefail

[[ $# -eq 2 ]] || {
  echo "usage: $0 RELEASE_BIN OUT_DIR" >&2
  exit 2
}
BIN=$(realpath "$1")
OUT=$(realpath -m "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PORT=${PG_PORT:-55432}
SLUG=summer-tape
HOLD_TTL_S=10 # the pending hold must expire before any test sees it (waited for below)

[[ -x "$BIN" ]] || {
  echo "$BIN is not an executable" >&2
  exit 2
}
[[ ! -e "$OUT" ]] || {
  echo "$OUT exists; remove it first (fixtures of a release are made once)" >&2
  exit 2
}

WORK=$(mktemp -d /tmp/dg-fixtures-XXXXXX)
chmod 755 "$WORK" # the PostgreSQL server runs as `postgres` and reads its folder inside
ORIGIN_PID=
EDGE_PID=
cleanup() {
  if [[ -n "$EDGE_PID" ]]; then kill "$EDGE_PID" 2>/dev/null || true; fi
  if [[ -n "$ORIGIN_PID" ]]; then kill "$ORIGIN_PID" 2>/dev/null || true; fi
  if [[ -d "$WORK/pg" ]]; then bash "$HERE/../support/pg_cluster.sh" stop "$WORK/pg" >/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "make_fixtures: $*" >&2
  exit 1
}

# Polls `command…` every 100 ms until it succeeds or 30 s pass.
wait_until() {
  local what=$1
  shift
  local deadline=$((SECONDS + 30))
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out waiting for $what"
    sleep 0.1
  done
}

# The port a server printed ("listening on port N") in its log, once it has.
port_in() { grep -oE 'listening on port [0-9]+' "$1" | head -n 1 | grep -oE '[0-9]+$'; }
listening() { [[ -n "$(port_in "$1")" ]]; }

# Calls the origin's API: api METHOD PATH [BODY [IDEMPOTENCY_KEY]]; prints the
# body, fails unless the status is 2xx.
api() {
  local method=$1 path=$2 body=${3:-} key=${4:-}
  local args=(-sS -X "$method" -H "authorization: Bearer $OPERATOR_KEY" -o "$WORK/answer" -w '%{http_code}')
  [[ -n "$body" ]] && args+=(-H 'content-type: application/json' --data-binary "$body")
  [[ -n "$key" ]] && args+=(-H "idempotency-key: $key")
  local status
  status=$(curl "${args[@]}" "$ORIGIN_URL$path")
  [[ "$status" == 2* ]] || fail "$method $path answered $status: $(cat "$WORK/answer")"
  cat "$WORK/answer"
}

start_origin() {
  local data=$1
  shift
  : >"$WORK/origin.log"
  # --instance: the seller's name is stored; the default would record this host's name.
  "$BIN" serve --data "$data" --config "$WORK/gen.toml" --listen 127.0.0.1:0 \
    --instance fixture-origin "$@" 2>"$WORK/origin.log" &
  ORIGIN_PID=$!
  wait_until "the origin to listen" listening "$WORK/origin.log"
  ORIGIN_URL="http://127.0.0.1:$(port_in "$WORK/origin.log")"
}

stop() { # PID: SIGTERM, and the server must exit 0
  kill -TERM "$1"
  wait "$1" || fail "a server exited $? on SIGTERM"
}

edge_health() { curl -sS "$EDGE_URL/healthz"; }
edge_synced() { [[ "$(edge_health | jq -r .status)" == ok ]]; }
outbox_holds() { [[ "$(edge_health | jq '.outbox_depth - .outbox_unwritten')" == "$1" ]]; }

# One claim through the API; appends its facts to $WORK/claims.jsonl.
claim() {
  local account=$1 key=$2
  local body="{\"account\":\"$account\"}"
  local answer
  answer=$(api POST "/v1/drops/$SLUG/claims" "$body" "$key")
  jq -c --arg key "$key" --arg body "$body" --arg path "/v1/drops/$SLUG/claims" \
    '{account, serial, owner, claimed_at, certificate, download_token,
      idempotency_key: $key, request_path: $path, request_body: $body}' <<<"$answer" \
    >>"$WORK/claims.jsonl"
}

make_backend() {
  local backend=$1 dir="$WORK/$1"
  local origin="$dir/origin" edge="$dir/edge" database=() db_url=
  mkdir -p "$dir"
  : >"$WORK/claims.jsonl"
  if [[ "$backend" == postgresql ]]; then
    bash "$HERE/../support/pg_cluster.sh" start "$WORK/pg" "$PG_PORT" >/dev/null
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres dropgate_fixture
    db_url="postgresql://postgres@127.0.0.1:$PG_PORT/dropgate_fixture"
    database=(--database "$db_url")
  fi

  OPERATOR_KEY=$("$BIN" init --data "$origin" "${database[@]}" | sed -n 's/^operator key: *//p')
  [[ -n "$OPERATOR_KEY" ]] || fail "init printed no operator key"
  export DROPGATE_API_KEY=$OPERATOR_KEY
  start_origin "$origin" "${database[@]}"
  export DROPGATE_ORIGIN=$ORIGIN_URL
  local schema_version
  schema_version=$(curl -sS "$ORIGIN_URL/readyz" | jq .schema_version)

  # A published drop of two small files: one held in an edge's memory (16 KiB
  # or less), one sent from its file.
  mkdir -p "$WORK/files/side-a"
  printf 'liner notes for the upgrade fixture\n' >"$WORK/files/notes.txt"
  head -c 17000 /dev/urandom >"$WORK/files/side-a/01.ogg"
  "$BIN" drop create "$SLUG" --edition 20 --title 'Summer tape' >/dev/null
  "$BIN" drop upload "$SLUG" "$WORK/files" >/dev/null
  "$BIN" drop publish "$SLUG" >/dev/null

  claim buyer-1 fixture-claim-1
  claim buyer-2 fixture-claim-2
  claim buyer-3 fixture-claim-3

  # An edge: enrolled, approved, synced by preload and again by serve.
  local edge_id
  edge_id=$("$BIN" edge enroll --data "$edge" --origin "$ORIGIN_URL" --name fixture-stall |
    sed -n 's/^edge id: *//p')
  "$BIN" edge approve "$edge_id" --drops "$SLUG" --ttl-days 30 >/dev/null
  "$BIN" edge preload --data "$edge" >/dev/null
  : >"$WORK/edge.log"
  "$BIN" edge serve --data "$edge" --listen 127.0.0.1:0 --sync-interval-s 3600 2>"$WORK/edge.log" &
  EDGE_PID=$!
  wait_until "the edge to listen" listening "$WORK/edge.log"
  EDGE_URL="http://127.0.0.1:$(port_in "$WORK/edge.log")"
  wait_until "the edge to sync" edge_synced

  # A hold confirmed into a claim, and one left pending (it expires HOLD_TTL_S later).
  local held pending
  held=$(api POST "/v1/drops/$SLUG/holds" '{"account":"buyer-4"}' fixture-hold-1)
  local confirm_path confirm_body='{"payment_ref":"fixture-payment-1"}'
  confirm_path=$(jq -r .confirm_url <<<"$held")
  api POST "$confirm_path" "$confirm_body" fixture-confirm-1 |
    jq -c --arg path "$confirm_path" --arg body "$confirm_body" \
      '{account, serial, owner, claimed_at, certificate, download_token,
        idempotency_key: "fixture-confirm-1", request_path: $path, request_body: $body}' \
      >>"$WORK/claims.jsonl"
  pending=$(api POST "/v1/drops/$SLUG/holds" '{"account":"buyer-5"}' fixture-hold-2)
  local status manifest_sha256 edges
  status=$(api GET "/v1/drops/$SLUG/status")
  manifest_sha256=$(curl -sS "$ORIGIN_URL/v1/drops/$SLUG/manifest.json" | sha256sum | cut -d' ' -f1)
  edges=$(api GET /v1/edges)

  # The origin goes away before the edge pushes: two downloads from the edge
  # stay in its outbox (its last push on SIGTERM fails).
  stop "$ORIGIN_PID"
  ORIGIN_PID=
  local token
  token=$(head -n 1 "$WORK/claims.jsonl" | jq -r .download_token)
  for path in notes.txt side-a/01.ogg; do
    curl -sSf -o /dev/null "$EDGE_URL/v1/drops/$SLUG/files/$path?token=$token"
  done
  wait_until "two events on the edge's disk" outbox_holds 2
  stop "$EDGE_PID"
  EDGE_PID=

  if [[ "$backend" == postgresql ]]; then
    "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$PG_PORT" -U postgres --no-owner --no-privileges \
      dropgate_fixture >"$dir/dump.sql"
    bash "$HERE/../support/pg_cluster.sh" stop "$WORK/pg" >/dev/null
  fi

  # What the test checks against.
  jq -n --arg release "$("$BIN" --version)" --arg backend "$backend" --arg key "$OPERATOR_KEY" \
    --argjson schema "$schema_version" --arg slug "$SLUG" --arg manifest "$manifest_sha256" \
    --argjson status "$status" --argjson edges "$edges" --argjson pending "$pending" \
    --slurpfile claims "$WORK/claims.jsonl" \
    --arg notes "$(sha256sum "$WORK/files/notes.txt" | cut -d' ' -f1)" \
    --arg ogg "$(sha256sum "$WORK/files/side-a/01.ogg" | cut -d' ' -f1)" \
    '{release: $release, backend: $backend, schema_version: $schema, operator_key: $key,
      drop: {slug: $slug, edition: $status.edition, manifest_version: $status.manifest_version,
             manifest_sha256: $manifest, downloads_completed: $status.downloads_completed,
             files: [{path: "notes.txt", sha256: $notes}, {path: "side-a/01.ogg", sha256: $ogg}]},
      claims: $claims,
      pending_hold: {hold_id: $pending.hold_id, serial: $pending.serial,
                     account: $pending.account, expires_at: $pending.expires_at},
      edge: ($edges.edges[0] | {edge_id, key_id, name, state, drops}),
      edge_outbox_downloads_completed: 2}' >"$dir/fixture.json"

  # Only what a later release must read: no WAL left behind, no partial folders.
  rm -rf "$origin/blobs/spool" "$edge/blobs/partial"
  for f in "$origin/dropgate.db" "$edge/outbox.db"; do
    [[ -f "$f" ]] || continue
    [[ ! -s "$f-wal" ]] || fail "$f-wal is not empty after a clean stop"
    rm -f "$f-wal" "$f-shm"
    [[ "$(sqlite3 "$f" 'PRAGMA integrity_check')" == ok ]] || fail "$f is damaged"
  done
}

printf 'hold_ttl_s = %d\nmanifest_ttl_days = 3650\n' "$HOLD_TTL_S" >"$WORK/gen.toml"
make_backend sqlite
make_backend postgresql

# The pending holds must have expired before the fixtures are used.
for backend in sqlite postgresql; do
  expires=$(jq -r .pending_hold.expires_at "$WORK/$backend/fixture.json")
  while (($(date +%s) <= $(date -d "$expires" +%s))); do sleep 1; done
done

# Nothing of this machine: no path of the work folder (the host name is kept
# out by --instance above).
if grep -rlaF -e "$WORK" "$WORK/sqlite" "$WORK/postgresql"; then
  fail "the files above record a path of this machine"
fi
mkdir -p "$OUT"
cp -r "$WORK/sqlite" "$WORK/postgresql" "$OUT/"
du -sh "$OUT"/*
echo "fixtures written to $OUT"
