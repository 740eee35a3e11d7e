#!/usr/bin/env bash
# End-to-end checks of the dropgate CLI, with the stock minisign binary as the
# independent verifier of packed manifests. Usage: cli_test.sh path/to/dropgate
set -uo pipefail

DG=$(realpath "${1:?usage: cli_test.sh path/to/dropgate}")
command -v minisign >/dev/null || { echo "minisign is not installed (apt-get install minisign)"; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
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

# --- log levels: a name that is not one is refused, whichever layer gave it
expect_status 1 "edge serve refuses an unknown --log-level" -- "$DG" edge serve --data edge-data --log-level loud
expect_stderr "log_level must be debug, info, warn or error" "the refusal names the levels"
DROPGATE_LOG_LEVEL=quiet expect_status 1 "edge serve refuses an unknown DROPGATE_LOG_LEVEL" -- \
  "$DG" edge serve --data edge-data
mkdir -p edge-data && echo 'log_level = "chatty"' > edge-data/edge.toml
expect_status 1 "edge serve refuses an unknown log_level in edge.toml" -- "$DG" edge serve --data edge-data
expect_stderr "chatty" "the refusal quotes the value"
expect_status 1 "serve refuses an unknown --log-level" -- "$DG" serve --data origin-data --log-level loud
expect_stderr "log_level must be debug, info, warn or error" "the origin's refusal names the levels"

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
           "token" "token issue" "token verify"; do
  # shellcheck disable=SC2086
  expect_status 0 "dropgate $cmd --help" -- "$DG" $cmd --help
done
expect_status 2 "an unknown command is a usage error" -- "$DG" frobnicate
expect_status 2 "a missing required flag is a usage error" -- "$DG" keys new

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
