#!/usr/bin/env bash
# End-to-end checks of the dropgate CLI, with the stock minisign binary as the
# independent verifier of packed manifests, and the operator commands against
# a live origin. Usage: cli_test.sh path/to/dropgate
set -uo pipefail

DG=$(realpath "${1:?usage: cli_test.sh path/to/dropgate}")
command -v minisign >/dev/null || { echo "minisign is not installed (apt-get install minisign)"; exit 1; }
command -v jq >/dev/null || { echo "jq is not installed (apt-get install jq)"; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed (apt-get install curl)"; exit 1; }
WORK=$(mktemp -d)
SERVER_PIDS=()  # servers this script started, stopped on exit
stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  SERVER_PIDS=()
}
trap 'stop_servers; rm -rf "$WORK"' EXIT
cd "$WORK"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; }
# expect_status CODE DESCRIPTION -- COMMAND...: runs the command, checks its exit code.
expect_status() {
  local want=$1 what=$2; shift 3
  "$@" >"$WORK/.stdout" 2>"$WORK/.stderr"
  local got=$?
  if [ "$got" -eq "$want" ]; then ok "$what"; else
    not_ok "$what (exit $got, want $want)"; sed 's/^/    /' "$WORK/.stderr"; fi
}
expect_stderr() {  # expect_stderr PATTERN DESCRIPTION: the last command's stderr matches
  if grep -q -- "$1" "$WORK/.stderr"; then ok "$2"; else not_ok "$2 (stderr: $(cat "$WORK/.stderr"))"; fi
}
expect_stdout() {  # expect_stdout PATTERN DESCRIPTION: a line of the last command's stdout matches
  if grep -q -- "$1" "$WORK/.stdout"; then ok "$2"; else not_ok "$2 (stdout: $(cat "$WORK/.stdout"))"; fi
}
# wait_for_port LOG: waits (up to 15 s) until a server started with --listen
# 127.0.0.1:0 logs "listening on port N" in LOG, and prints N.
wait_for_port() {
  local i
  for ((i = 0; i < 150; i++)); do
    if grep -q 'listening on port' "$1" 2>/dev/null; then
      sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$1" | head -1
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# --- keys
expect_status 0 "keys new creates a key pair" -- "$DG" keys new --dir keys
kid=$(cat "$WORK/.stdout")
[[ $kid == k4.pid.* ]] && ok "keys new prints the key id" || not_ok "keys new prints the key id ($kid)"
[ "$(stat -c %a keys/secret.paserk)" = 600 ] && ok "secret key is mode 0600" || not_ok "secret key is mode 0600"
grep -q '^k4.public.' keys/public.paserk && ok "public.paserk holds a k4.public key" || not_ok "public.paserk"
before=$(cat keys/secret.paserk)
expect_status 1 "keys new refuses to overwrite" -- "$DG" keys new --dir keys
expect_stderr "--force" "the refusal says how to overwrite"
[ "$(cat keys/secret.paserk)" = "$before" ] && ok "the old key is untouched" || not_ok "the old key is untouched"
expect_status 0 "keys new --force replaces the key" -- "$DG" keys new --dir keys --force
[ "$(cat keys/secret.paserk)" != "$before" ] && ok "the key changed" || not_ok "the key changed"
"$DG" keys new --dir other >/dev/null 2>&1
chmod 644 other/secret.paserk
expect_status 1 "a world-readable secret key is refused" -- \
  "$DG" token issue --keys other --purpose download --drop x --account a
expect_stderr "chmod 600" "the refusal says how to fix the mode"
chmod 600 other/secret.paserk

expect_status 0 "keys minisign-pub prints a minisign public key" -- "$DG" keys minisign-pub --dir keys
cp "$WORK/.stdout" drop.pub
head -1 drop.pub | grep -q '^untrusted comment: minisign public key [0-9A-F]\{16\}$' \
  && ok "minisign .pub comment line" || not_ok "minisign .pub comment line"

# --- pack
mkdir -p src/side-a src/art
printf 'hello\n' > src/readme.txt
head -c 3000000 /dev/urandom > src/side-a/01.flac
head -c 1000 /dev/urandom > src/art/cover.png
expect_status 0 "drop pack writes a signed manifest" -- \
  "$DG" drop pack src --slug summer-tape --edition 200 --keys keys --out out \
  --license CC-BY-NC-4.0 --deny-territories KP,IR --access-days 30 --version 4
[ -s out/manifest.json ] && [ -s out/manifest.json.minisig ] && ok "manifest and signature exist" \
  || not_ok "manifest and signature exist"
grep -q '"sha256":"'"$(sha256sum src/side-a/01.flac | cut -c1-64)"'"' out/manifest.json \
  && ok "manifest carries the file's sha256" || not_ok "manifest carries the file's sha256"
grep -q '"path":"side-a/01.flac"' out/manifest.json && grep -q '"type":"audio/flac"' out/manifest.json \
  && ok "manifest paths are relative, with media types" || not_ok "manifest paths and types"

# --- the stock minisign binary is the independent verifier
expect_status 0 "stock minisign verifies the packed manifest" -- minisign -V -p drop.pub -m out/manifest.json
grep -q "drop=summer-tape version=4" "$WORK/.stdout" && ok "minisign shows the trusted comment" \
  || not_ok "minisign shows the trusted comment"
cp out/manifest.json tampered.json
cp out/manifest.json.minisig tampered.json.minisig
# Change exactly one byte: the edition 200 becomes 900.
sed -i 's/"edition":200/"edition":900/' tampered.json
cmp -s out/manifest.json tampered.json && not_ok "tampering changed the file" || ok "tampering changed the file"
expect_status 1 "stock minisign rejects a manifest with one byte changed" -- \
  minisign -V -p drop.pub -m tampered.json
expect_status 1 "dropgate rejects it too" -- "$DG" verify manifest tampered.json --public keys/public.paserk

# --- verify manifest
expect_status 0 "verify manifest accepts the packed manifest" -- \
  "$DG" verify manifest out/manifest.json --public keys/public.paserk --drop summer-tape
grep -q '"version":4' "$WORK/.stdout" && ok "verify prints the manifest summary" || not_ok "verify summary"
expect_status 1 "verify refuses another drop" -- \
  "$DG" verify manifest out/manifest.json --public keys/public.paserk --drop winter-tape
expect_status 1 "verify refuses a rollback below the version seen" -- \
  "$DG" verify manifest out/manifest.json --public keys/public.paserk --min-version 5
expect_stderr "rollback" "the rollback refusal says so"
expect_status 1 "verify refuses another key" -- "$DG" verify manifest out/manifest.json --public other/public.paserk
expect_stderr "unknown key" "the refusal names the unknown key"

# --- pack refusals
ln -s /etc/passwd src/escape
expect_status 1 "pack refuses a symlink out of the drop" -- \
  "$DG" drop pack src --slug summer-tape --edition 10 --keys keys --out out2
rm src/escape
expect_status 1 "pack refuses a bad slug" -- "$DG" drop pack src --slug "Bad Slug" --edition 10 --keys keys --out out2
expect_status 1 "pack refuses an unknown territory" -- \
  "$DG" drop pack src --slug ok --edition 10 --keys keys --out out2 --deny-territories XX
expect_status 2 "pack refuses edition 0" -- "$DG" drop pack src --slug ok --edition 0 --keys keys --out out2
expect_status 1 "pack refuses a missing folder" -- "$DG" drop pack nowhere --slug ok --edition 1 --keys keys --out out2
expect_status 1 "pack refuses a window that closes before it opens" -- \
  "$DG" drop pack src --slug ok --edition 1 --keys keys --out out2 \
  --opens-at 2026-06-02T00:00:00Z --closes-at 2026-06-01T00:00:00Z

# --- tokens
expect_status 0 "token issue prints a download token" -- \
  "$DG" token issue --keys keys --purpose download --drop summer-tape --account buyer-17 --ttl-s 120
token=$(cat "$WORK/.stdout")
[[ $token == v4.public.* ]] && ok "it is a v4.public token" || not_ok "it is a v4.public token"
expect_status 0 "token verify accepts it" -- "$DG" token verify --public keys/public.paserk --purpose download "$token"
grep -q '"sub":"buyer-17"' "$WORK/.stdout" && ok "verify prints the fields as JSON" || not_ok "verify prints fields"
echo "$token" | "$DG" token verify --public keys/public.paserk --purpose download - >/dev/null 2>&1 \
  && ok "token verify reads - from stdin" || not_ok "token verify reads - from stdin"
expect_status 1 "wrong purpose is refused" -- "$DG" token verify --public keys/public.paserk --purpose cert "$token"
expect_status 1 "expired beyond the leeway is refused" -- \
  "$DG" token verify --public keys/public.paserk --purpose download --at 2099-01-01T00:00:00Z "$token"
expect_stderr "expired" "the refusal says expired"
expect_status 1 "a token from the future is refused" -- \
  "$DG" token verify --public keys/public.paserk --purpose download --at 2000-01-01T00:00:00Z "$token"
expect_status 1 "a token under another key is refused" -- "$DG" token verify --public other/public.paserk --purpose download "$token"
expect_status 1 "garbage is refused" -- "$DG" token verify --public keys/public.paserk --purpose download "v4.public.garbage"
expect_status 2 "a ttl above the maximum is a usage error" -- \
  "$DG" token issue --keys keys --purpose download --drop x --account a --ttl-s 100000
expect_status 1 "an unknown purpose is refused" -- \
  "$DG" token issue --keys keys --purpose admin --drop x --account a

# Revocation through a keyring file.
pub=$(cat keys/public.paserk)
kid_now=$("$DG" token verify --public keys/public.paserk --purpose download "$token" | sed 's/.*"kid":"\([^"]*\)".*/\1/')
printf '{"keys":[{"kid":"%s","public":"%s","status":"revoked"}]}\n' "$kid_now" "$pub" > revoked.json
expect_status 1 "a revoked key's token is refused" -- "$DG" token verify --public revoked.json --purpose download "$token"
expect_stderr "revoked" "the refusal says revoked"
printf '{"keys":[{"kid":"%s","public":"%s","status":"retired"}]}\n' "$kid_now" "$pub" > retired.json
expect_status 0 "a retired key's token still verifies" -- "$DG" token verify --public retired.json --purpose download "$token"

# --- operator commands against a live origin: a summary for people, the
# origin's JSON answer with --json
"$DG" init --data origin-data > init.out 2>&1 || { cat init.out; exit 1; }
DROPGATE_API_KEY=$(sed -n 's/^operator key: *//p' init.out)
"$DG" serve --data origin-data --listen 127.0.0.1:0 2> origin.log &
SERVER_PIDS+=($!)
port=$(wait_for_port origin.log) || { echo "the origin did not start:"; cat origin.log; exit 1; }
export DROPGATE_ORIGIN=http://127.0.0.1:$port DROPGATE_API_KEY

expect_status 0 "drop create" -- "$DG" drop create summer-tape --edition 200 --title "Summer Tape"
expect_stdout "^Created summer-tape (draft), an edition of 200$" "create says what it made"
expect_status 0 "drop upload" -- "$DG" drop upload summer-tape src
expect_stdout "^uploaded 3 files to summer-tape" "upload counts the files"
expect_status 0 "drop upload --json" -- "$DG" drop upload summer-tape src --json
[ "$(jq -r '.assets[] | select(.path == "readme.txt") | .sha256' "$WORK/.stdout")" = \
  "$(sha256sum src/readme.txt | cut -c1-64)" ] && ok "upload --json gives the origin's answer per file" \
  || not_ok "upload --json gives the origin's answer per file ($(cat "$WORK/.stdout"))"
expect_status 0 "drop publish" -- "$DG" drop publish summer-tape
expect_stdout "^Published summer-tape version 1 (manifest sha256 [0-9a-f]\{64\})$" "publish names the version"

# A claim shows the serial, the certificate once and one link per file; the
# download token is in each link, and nowhere else.
expect_status 0 "drop claim" -- "$DG" drop claim summer-tape --account buyer-17
expect_stdout "^Claimed summer-tape #1 of 200 for buyer-17$" "claim says which serial of which edition, for whom"
cp "$WORK/.stdout" claim.txt
cert=$(sed -n 's/^certificate  \(v4\.public\.[A-Za-z0-9_.-]*\)$/\1/p' claim.txt)
[ -n "$cert" ] && [ "$(grep -o -- "$cert" claim.txt | wc -l)" = 1 ] \
  && ok "the certificate is printed once" || not_ok "the certificate is printed once ($(cat claim.txt))"
for f in readme.txt side-a/01.flac art/cover.png; do
  [ "$(grep -c "^  $f  .*/files/$f?token=v4\.public\." claim.txt)" = 1 ] && ok "one link for $f" || not_ok "one link for $f"
done
grep -q '^  side-a/01.flac  3.0 MB  ' claim.txt && ok "sizes are for people" || not_ok "sizes are for people"
token=$(sed -n 's/.*readme.txt?token=\(v4\.public\.[A-Za-z0-9_.-]*\).*/\1/p' claim.txt)
[ "$(grep -o -- "$token" claim.txt | wc -l)" = 3 ] && ok "the download token appears once per link only" \
  || not_ok "the download token appears once per link only"
[ "$(curl -s "$(sed -n 's/^  readme.txt  [^ ]* [^ ]*  //p' claim.txt)")" = hello ] \
  && ok "a printed link downloads its file" || not_ok "a printed link downloads its file"
expect_status 0 "drop claim --json" -- "$DG" drop claim summer-tape --account buyer-18 --json
[ "$(wc -l < "$WORK/.stdout")" = 1 ] && jq -e '.serial == 2 and .edition == 200 and .account == "buyer-18"
    and (.download_token | startswith("v4.public.")) and (.certificate | startswith("v4.public."))
    and (.files | length == 3)' "$WORK/.stdout" >/dev/null \
  && ok "claim --json prints the origin's answer on one line" || not_ok "claim --json ($(cat "$WORK/.stdout"))"

expect_status 0 "drop status" -- "$DG" drop status summer-tape
expect_stdout "^summer-tape: Summer Tape$" "status names the drop"
expect_stdout "^  state      live$" "status shows the state"
expect_stdout "^  sold       2 of 200, 0 held, 198 remaining$" "status shows sold, held and remaining"
expect_stdout "^  version    1$" "status shows the version"
expect_stdout "^  window     from [0-9T:Z-]*, open-ended$" "status shows the window"
expect_status 0 "drop status --json" -- "$DG" drop status summer-tape --json
[ "$(jq -r '.claimed, .remaining, .manifest_version' "$WORK/.stdout" | tr '\n' ' ')" = "2 198 1 " ] \
  && ok "status --json prints the origin's answer" || not_ok "status --json ($(cat "$WORK/.stdout"))"
expect_status 1 "status of an unknown drop fails" -- "$DG" drop status no-such-drop
expect_stderr "HTTP 404" "and says the origin has no such drop"
DROPGATE_API_KEY= expect_status 1 "an operator command needs the API key" -- "$DG" drop status summer-tape
expect_stderr "no operator API key" "and says how to give it"

for action in pause:paused resume:live close:closed; do
  expect_status 0 "drop ${action%%:*}" -- "$DG" drop "${action%%:*}" summer-tape
  expect_stdout "^summer-tape is now ${action##*:}$" "${action%%:*} says the new state"
done

# The list comes from the origin in pages of 100: 101 more drops make three.
for i in $(seq 100 200); do
  curl -fsS -o /dev/null -H "Authorization: Bearer $DROPGATE_API_KEY" -H 'Content-Type: application/json' \
    -d "{\"slug\":\"bulk-$i\",\"title\":\"Bulk $i\",\"edition\":5}" "$DROPGATE_ORIGIN/v1/drops" \
    || not_ok "create bulk-$i"
done
expect_status 0 "drop list" -- "$DG" drop list
expect_stdout "^SLUG  *STATE  *SOLD  *VERSION$" "list has a header"
expect_stdout "^summer-tape  *closed  *2/200  *1$" "list shows slug, state, sold of the edition, version"
expect_stdout "^bulk-200  *draft  *0/5  *-$" "an unpublished drop has no version"
[ "$(wc -l < "$WORK/.stdout")" = 103 ] && ok "list shows every drop, across pages" \
  || not_ok "list shows every drop, across pages ($(wc -l < "$WORK/.stdout") lines)"
expect_status 0 "drop list --json" -- "$DG" drop list --json
[ "$(jq -r '.drops | length' "$WORK/.stdout")" = 102 ] && [ "$(jq -r '.drops[-1].slug' "$WORK/.stdout")" = summer-tape ] \
  && [ "$(jq -r '.drops[] | select(.slug == "summer-tape") | .claimed' "$WORK/.stdout")" = 2 ] \
  && ok "list --json gives every drop, in slug order" || not_ok "list --json ($(head -c 300 "$WORK/.stdout"))"

# Edges: the operator's side prints summaries too.
expect_status 0 "edge enroll" -- "$DG" edge enroll --data edge-data --origin "$DROPGATE_ORIGIN" --name stall-1
edge_id=$(sed -n 's/^edge id: *//p' "$WORK/.stdout")
expect_status 0 "edge list" -- "$DG" edge list
expect_stdout "^$edge_id  stall-1  pending  no drops  k4\.pid\." "edge list shows id, name, state, drops, key"
expect_status 0 "edge approve" -- "$DG" edge approve "$edge_id" --drops summer-tape
expect_stdout "^Approved edge $edge_id (stall-1) for summer-tape until [0-9T:Z-]*$" "approve says what it granted"
expect_status 0 "edge list --json" -- "$DG" edge list --json
[ "$(jq -r ".edges[] | select(.edge_id == $edge_id) | .state" "$WORK/.stdout")" = approved ] \
  && ok "edge list --json prints the origin's answer" || not_ok "edge list --json ($(cat "$WORK/.stdout"))"

# --- log levels: a name that is not one is refused, whichever layer gave it.
# The edge is enrolled, so the level is all that stops it: with a good level
# the same command serves.
"$DG" edge serve --data edge-data --listen 127.0.0.1:0 --log-level warn 2> edge.log &
SERVER_PIDS+=($!)
wait_for_port edge.log >/dev/null && ok "the enrolled edge serves with a good log level" \
  || not_ok "the enrolled edge serves with a good log level ($(cat edge.log))"
kill "${SERVER_PIDS[-1]}"; wait "${SERVER_PIDS[-1]}" 2>/dev/null; unset 'SERVER_PIDS[-1]'
# (An edge that accepted the level would serve until stopped: timeout ends it, exit 124.)
expect_status 1 "edge serve refuses an unknown --log-level" -- \
  timeout 10 "$DG" edge serve --data edge-data --listen 127.0.0.1:0 --log-level loud
expect_stderr "log_level must be debug, info, warn or error" "the refusal names the levels"
DROPGATE_LOG_LEVEL=quiet expect_status 1 "edge serve refuses an unknown DROPGATE_LOG_LEVEL" -- \
  timeout 10 "$DG" edge serve --data edge-data --listen 127.0.0.1:0
expect_stderr "log_level must be debug, info, warn or error" "the refusal of the environment's level names the levels"
expect_stderr "quiet" "and quotes the value"
echo 'log_level = "chatty"' > edge-data/edge.toml
expect_status 1 "edge serve refuses an unknown log_level in edge.toml" -- \
  timeout 10 "$DG" edge serve --data edge-data --listen 127.0.0.1:0
expect_stderr "chatty" "the refusal quotes the value"
expect_status 1 "serve refuses an unknown --log-level" -- \
  timeout 10 "$DG" serve --data origin-data --listen 127.0.0.1:0 --log-level loud
expect_stderr "log_level must be debug, info, warn or error" "the origin's refusal names the levels"

expect_status 0 "edge revoke" -- "$DG" edge revoke "$edge_id"
expect_stdout "^Revoked edge $edge_id (stall-1)" "revoke says which edge"
# --- serve runs only on a folder init made: a typo in --data must not start a
# new origin with a new signing key (bounded by timeout: a serve that wrongly
# starts would otherwise run forever)
expect_status 1 "serve refuses a data folder init did not make" -- \
  timeout 20 "$DG" serve --data typo-data --listen 127.0.0.1:0
expect_stderr "typo-data/keys/secret.paserk does not exist" "the refusal says what it looked for"
expect_stderr "run \`dropgate init --data typo-data\` first" "the refusal says to run init first"
[ ! -e typo-data ] && ok "the refused serve created nothing" || not_ok "the refused serve created nothing"

# --- every command has --help, and usage errors exit 2
for cmd in "" "keys" "keys new" "keys minisign-pub" "drop" "drop pack" "verify" "verify manifest" \
           "token" "token issue" "token verify" "drop create" "drop upload" "drop publish" "drop pause" \
           "drop resume" "drop close" "drop status" "drop claim" "drop list" "edge approve" "edge list" \
           "edge revoke"; do
  # shellcheck disable=SC2086
  expect_status 0 "dropgate $cmd --help" -- "$DG" $cmd --help
done
expect_status 2 "an unknown command is a usage error" -- "$DG" frobnicate
expect_status 2 "a missing required flag is a usage error" -- "$DG" keys new

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
