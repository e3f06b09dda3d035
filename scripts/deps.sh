#!/usr/bin/env bash
# Install the Debian packages blindpad needs, only when some are missing.
# Usage: scripts/deps.sh [--test]   (--test adds what the test suite needs: node, npm, clang/libFuzzer)
set -euo pipefail
pkgs=(build-essential pkg-config libuv1-dev libwslay-dev libhttp-parser-dev libjansson-dev
      libsodium-dev nettle-dev libssl-dev libinih-dev uthash-dev ca-certificates)
if [ "${1:-}" = "--test" ]; then
    pkgs+=(libcmocka-dev clang libfuzzer-14-dev libclang-rt-14-dev curl openssl)
    command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
    command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
