#!/usr/bin/env bash
# The dropgate demo: installs what it needs, builds, starts an origin on the
# embedded SQLite store with a demo drop (generated sample files), claims one
# serial for a demo buyer, and prints the URLs to try. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release >/dev/null

DG=$PWD/build/dropgate
DEMO=${DROPGATE_DEMO_DIR:-$PWD/demo-data}
LISTEN=${DROPGATE_DEMO_LISTEN:-127.0.0.1:8080}
URL="http://$LISTEN"
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
trap 'kill $ORIGIN_PID 2>/dev/null; wait $ORIGIN_PID 2>/dev/null' EXIT
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

step "4. A buyer claims serial #1 (the operator claims on their behalf)"
claim=$($DG drop claim summer-tape --account demo-buyer)
echo "$claim" | head -c 400; echo " …"
file_url=$(grep -o '"url":"[^"]*liner-notes.txt[^"]*"' <<<"$claim" | head -1 | cut -d'"' -f4)
serial=$(grep -o '"serial":[0-9]*' <<<"$claim" | head -1 | cut -d: -f2)

cat <<MSG

$(printf '\033[1m')dropgate origin is running at $URL$(printf '\033[0m')   (Ctrl-C to stop)

  Drop (public):         $URL/v1/drops/summer-tape
  Signed manifest:       $URL/v1/drops/summer-tape/manifest.json
  Its signature:         $URL/v1/drops/summer-tape/manifest.json.minisig
  Certificate #$serial:        $URL/v1/drops/summer-tape/certificates/$serial
  A download (5 min):    $file_url
  Public keys:           $URL/.well-known/dropgate/keys.json
  Metrics:               $URL/metrics

  Operator API key:      $DROPGATE_API_KEY
  Try:  export DROPGATE_API_KEY=$DROPGATE_API_KEY
        $DG drop status summer-tape
        $DG drop claim summer-tape --account another-buyer
MSG
wait $ORIGIN_PID
