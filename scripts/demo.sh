#!/usr/bin/env bash
# The dropgate demo: installs what it needs, builds, starts an origin on the
# embedded SQLite store with a demo drop (generated sample files), an edge
# beside it that carries the drop, claims one serial for a demo buyer, and
# prints the URLs to try. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release >/dev/null

DG=$PWD/build/dropgate
DEMO=${DROPGATE_DEMO_DIR:-$PWD/demo-data}
LISTEN=${DROPGATE_DEMO_LISTEN:-127.0.0.1:8080}
EDGE_LISTEN=${DROPGATE_DEMO_EDGE_LISTEN:-127.0.0.1:8090}
URL="http://$LISTEN"
EDGE_URL="http://$EDGE_LISTEN"
rm -rf "$DEMO"
mkdir -p "$DEMO/files/side-a" "$DEMO/files/art"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. A data folder: signing key, SQLite database, operator API key"
init_out=$($DG init --data "$DEMO/origin")
echo "$init_out"
DROPGATE_API_KEY=$(sed -n 's/^operator key: *//p' <<<"$init_out")
export DROPGATE_API_KEY DROPGATE_ORIGIN=$URL

step "2. The origin, listening on $URL (log: $DEMO/origin.log)"
$DG serve --data "$DEMO/origin" --listen "$LISTEN" 2>"$DEMO/origin.log" &
ORIGIN_PID=$!
EDGE_PID=""
trap 'kill $ORIGIN_PID $EDGE_PID 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 1 50); do
  curl -fsS "$URL/readyz" >/dev/null 2>&1 && break
  kill -0 $ORIGIN_PID 2>/dev/null || { echo "the origin did not start:"; cat "$DEMO/origin.log"; exit 1; }
  sleep 0.2
done
curl -fsS "$URL/readyz"; echo

step "3. A demo drop: Summer Tape, an edition of 200 (sample files are generated)"
head -c 4194304 /dev/urandom > "$DEMO/files/side-a/01-opening.flac"
head -c 2097152 /dev/urandom > "$DEMO/files/side-a/02-closing.flac"
head -c 262144 /dev/urandom > "$DEMO/files/art/cover.png"
printf 'Summer Tape, an edition of 200.\n' > "$DEMO/files/liner-notes.txt"
$DG drop create summer-tape --edition 200 --title "Summer Tape" --license CC-BY-NC-4.0 --price 1500
$DG drop upload summer-tape "$DEMO/files"
$DG drop publish summer-tape

step "4. An edge for the stall: enrol, approve, preload, serve on $EDGE_URL (log: $DEMO/edge.log)"
enroll_out=$($DG edge enroll --data "$DEMO/edge" --origin "$URL" --name demo-stall)
echo "$enroll_out" | head -3
edge_id=$(sed -n 's/^edge id: *//p' <<<"$enroll_out")
$DG edge approve "$edge_id" --drops summer-tape >/dev/null
$DG edge preload --data "$DEMO/edge"
$DG edge serve --data "$DEMO/edge" --listen "$EDGE_LISTEN" 2>"$DEMO/edge.log" &
EDGE_PID=$!
for _ in $(seq 1 50); do
  curl -fsS "$EDGE_URL/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

step "5. A buyer claims serial #1 (the operator claims on their behalf)"
claim=$($DG drop claim summer-tape --account demo-buyer --json)  # --json: parsed below
file_url=$(grep -o '"url":"[^"]*liner-notes.txt[^"]*"' <<<"$claim" | head -1 | cut -d'"' -f4)
token=$(grep -o '"download_token":"[^"]*"' <<<"$claim" | head -1 | cut -d'"' -f4)
serial=$(grep -o '"serial":[0-9]*' <<<"$claim" | head -1 | cut -d: -f2)
echo "Claimed summer-tape #$serial of 200 for demo-buyer"

cat <<MSG

$(printf '\033[1m')dropgate origin is running at $URL, and an edge at $EDGE_URL$(printf '\033[0m')   (Ctrl-C to stop)

  Drop (public):         $URL/v1/drops/summer-tape
  Signed manifest:       $URL/v1/drops/summer-tape/manifest.json
  Its signature:         $URL/v1/drops/summer-tape/manifest.json.minisig
  Certificate #$serial:        $URL/v1/drops/summer-tape/certificates/$serial
  A download (5 min):    $file_url
  Public keys:           $URL/.well-known/dropgate/keys.json
  Metrics:               $URL/metrics

  From the edge (works with the origin stopped too):
  The same download:     $EDGE_URL/v1/drops/summer-tape/files/liner-notes.txt?token=$token
  Everything as a ZIP:   $EDGE_URL/v1/drops/summer-tape/archive.zip?token=$token
  Edge health:           $EDGE_URL/healthz

  Operator API key:      $DROPGATE_API_KEY
  Try:  export DROPGATE_API_KEY=$DROPGATE_API_KEY
        $DG drop status summer-tape
        $DG drop claim summer-tape --account another-buyer
MSG
wait $ORIGIN_PID $EDGE_PID
