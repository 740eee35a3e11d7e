#!/usr/bin/env bash
# Installs the Debian packages named after the label that are not installed
# yet, idempotently: nothing is fetched when all are there. Used by
# scripts/setup.sh and fuzz/setup.sh. Run as root (or with sudo).
#   scripts/apt_install.sh LABEL PACKAGE...
set -euo pipefail
label=$1
shift
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ "${#missing[@]}" -gt 0 ] || exit 0
echo "$label: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
