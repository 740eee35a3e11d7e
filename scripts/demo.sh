#!/usr/bin/env bash
# The dropgate demo: installs what it needs, builds, then walks through the
# crypto core with a sample drop: keys, a signed manifest that the stock
# minisign tool verifies, and a download token issued and checked.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release >/dev/null

DG=build/dropgate
DEMO=${DROPGATE_DEMO_DIR:-demo-data}
rm -rf "$DEMO"
mkdir -p "$DEMO/files/side-a" "$DEMO/files/art"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. A signing key for the drop"
echo "\$ dropgate keys new --dir $DEMO/keys"
$DG keys new --dir "$DEMO/keys"
$DG keys minisign-pub --dir "$DEMO/keys" > "$DEMO/drop.pub"

step "2. Sample files (generated)"
head -c 4194304 /dev/urandom > "$DEMO/files/side-a/01-opening.flac"
head -c 2097152 /dev/urandom > "$DEMO/files/side-a/02-closing.flac"
head -c 262144 /dev/urandom > "$DEMO/files/art/cover.png"
printf 'Summer Tape, an edition of 200.\n' > "$DEMO/files/liner-notes.txt"
ls -lR "$DEMO/files" | sed 's/^/  /'

step "3. Pack and sign the drop"
echo "\$ dropgate drop pack $DEMO/files --slug summer-tape --edition 200 --keys $DEMO/keys --out $DEMO/out"
$DG drop pack "$DEMO/files" --slug summer-tape --edition 200 --keys "$DEMO/keys" --out "$DEMO/out" \
  --license CC-BY-NC-4.0 --access-days 365

step "4. Anyone can check the manifest with the stock minisign tool"
echo "\$ minisign -V -p $DEMO/drop.pub -m $DEMO/out/manifest.json"
minisign -V -p "$DEMO/drop.pub" -m "$DEMO/out/manifest.json"
echo "\$ dropgate verify manifest $DEMO/out/manifest.json --public $DEMO/keys/public.paserk"
$DG verify manifest "$DEMO/out/manifest.json" --public "$DEMO/keys/public.paserk"

step "5. A five-minute download token for buyer-17, and its verification"
token=$($DG token issue --keys "$DEMO/keys" --purpose download --drop summer-tape --account buyer-17 --ttl-s 300)
echo "$token"
$DG token verify --public "$DEMO/keys/public.paserk" --purpose download "$token"

step "6. The same token refused as an ownership certificate"
$DG token verify --public "$DEMO/keys/public.paserk" --purpose cert "$token" || echo "(refused, as it should be: exit $?)"

printf '\nEverything is in %s/. Try: %s --help\n' "$DEMO" "$DG"
