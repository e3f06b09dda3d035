#!/usr/bin/env bash
# Install what the browser flow test (tests/browser) needs, only when something is missing:
# Debian's chromium, node and npm, then playwright-core from tests/browser/package-lock.json.
# Usage: scripts/browser-deps.sh
# playwright-core is the driver only; it never downloads a browser (the test uses /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(chromium fonts-liberation)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -ne 0 ]; then
    echo "browser-deps: installing ${missing[*]}" >&2
    SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "browser-deps: npm ci in tests/browser (playwright-core)" >&2
    (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
