#!/usr/bin/env bash
# Web-client flow test: serves a CryptPad client tree with blindpad-server and drives the real web
# client in headless Chromium (flow.js: register, login, new rich-text pad, read-only link in a
# second browser context, file upload, drive listing).
#
#   tests/browser/run.sh [CLIENT_TREE]
#
#   CLIENT_TREE              a CryptPad 2026.2.2 client tree (www/, customize.dist/, src/common/,
#                            www/components/), e.g. built by ../shared/bench/make-client-tree.sh;
#                            also read from $BLINDPAD_CLIENT_TREE. None given: the test is skipped.
#   BLINDPAD_BIN=path        server binary (default: <repo>/build/blindpad-server)
#   BLINDPAD_ARGS="..."      extra server flags (e.g. "--max-upload-size 100000" to see a step fail)
#   BROWSER_URL=http://h:p   drive an already running server at this main origin instead of starting
#                            blindpad (e.g. CryptPad's own server on the same tree); no tree needed
#   BROWSER_WORKERS=shared   shared (default, as in real use) or none: the client's store and its
#                            WebSocket run in the page, so every RPC error is logged (flow.js --workers)
#   CHROMIUM=/usr/bin/chromium   the browser (scripts/browser-deps.sh installs Debian's)
#   BROWSER_TIMEOUT=120000   per-wait timeout in ms
#   BROWSER_OUT=dir          where logs and screenshots go (default: a new temp dir, printed)
#   BROWSER_KEEP=1           keep the server's data dir and log (default: removed when all passed)
#
# Prints flow.js's step lines and ends with "N passed, N failed". Exit status 0 when all passed or
# when skipped (no tree given, or no chromium/node/playwright-core: a "skipped: <reason>" line is
# printed), 1 when a step failed, 2 on a setup error (unusable tree, server did not start).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TREE=${1:-${BLINDPAD_CLIENT_TREE:-}}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
BIN=${BLINDPAD_BIN:-$ROOT/build/blindpad-server}
case "$BIN" in /*) ;; *) BIN=$PWD/$BIN ;; esac   # relative to where we were called from
case "$TREE" in ""|/*) ;; *) TREE=$PWD/$TREE ;; esac
WORKERS=${BROWSER_WORKERS:-shared}
TIMEOUT=${BROWSER_TIMEOUT:-120000}

skip() { echo "skipped: $*"; exit 0; }

if [ -z "${BROWSER_URL:-}" ]; then
    [ -n "$TREE" ] || skip "no client tree given (tests/browser/run.sh CLIENT_TREE, or BLINDPAD_CLIENT_TREE; build one with ../shared/bench/make-client-tree.sh)"
    # a tree that was named but is unusable is a setup error, not a skip
    bad() { echo "$*" >&2; echo "0 passed, 6 failed"; exit 2; }
    if [ ! -d "$TREE/www" ] || [ ! -d "$TREE/customize.dist" ]; then
        bad "$TREE is not a CryptPad client tree (no www/ or customize.dist/)"
    fi
    [ -d "$TREE/www/components" ] || bad "$TREE has no www/components (npm run install:components in it, or build it with make-client-tree.sh)"
    TREE=$(cd "$TREE" && pwd)
fi
[ -x "$CHROMIUM" ] || skip "no chromium at $CHROMIUM (scripts/browser-deps.sh installs Debian's)"
command -v node >/dev/null 2>&1 || skip "node is not installed"

cd "$HERE"
if [ ! -d node_modules/playwright-core ]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2 \
        || skip "could not install playwright-core (npm ci in tests/browser failed)"
fi

OUT=${BROWSER_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/blindpad-browser.XXXXXX")}
mkdir -p "$OUT"
SERVER_PID=
DATA=
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

# two consecutive free loopback ports (main, sandbox = main+1)
free_port_pair() {
    node -e '
const net = require("net");
const tryPort = (p) => new Promise((res) => { const s = net.createServer(); s.once("error", () => res(false));
    s.listen(p, "127.0.0.1", () => s.close(() => res(true))); });
(async () => { for (let i = 0; i < 50; i++) { const p = 20000 + Math.floor(Math.random() * 20000);
    if (await tryPort(p) && await tryPort(p + 1)) { console.log(p); return; } } process.exit(1); })();'
}

if [ -n "${BROWSER_URL:-}" ]; then
    URL=${BROWSER_URL%/}
    echo "# driving the server at $URL"
else
    [ -x "$BIN" ] || { echo "no server binary at $BIN (make first)" >&2; echo "0 passed, 6 failed"; exit 2; }
    PORT=$(free_port_pair) || { echo "no free port pair" >&2; echo "0 passed, 6 failed"; exit 2; }
    URL="http://127.0.0.1:$PORT"
    DATA=$(mktemp -d "${TMPDIR:-/tmp}/blindpad-browser-data.XXXXXX")
    # the origins the browser uses must be the ones /api/config names (httpUnsafeOrigin / httpSafeOrigin);
    # BLINDPAD_ARGS is split into flags on purpose
    # shellcheck disable=SC2086
    "$BIN" --listen "127.0.0.1:$PORT" --sandbox-port $((PORT + 1)) \
        --origin "$URL" --sandbox-origin "http://127.0.0.1:$((PORT + 1))" \
        --web-root "$TREE" --data "$DATA" ${BLINDPAD_ARGS:-} >"$OUT/server.log" 2>&1 &
    SERVER_PID=$!
    up() { node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$URL/api/config"; }
    for _ in $(seq 1 50); do
        if up; then break; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.2
    done
    if ! up; then
        echo "blindpad-server did not answer GET $URL/api/config; its log:" >&2
        tail -20 "$OUT/server.log" >&2
        echo "0 passed, 6 failed"
        exit 2
    fi
    echo "# blindpad-server pid $SERVER_PID on $URL (sandbox :$((PORT + 1))), web root $TREE, data $DATA, log $OUT/server.log"
fi

set +e
node "$HERE/flow.js" --url "$URL" --out "$OUT" --chromium "$CHROMIUM" --timeout "$TIMEOUT" --workers "$WORKERS"
rc=$?
if [ -n "$SERVER_PID" ]; then
    # the server must have survived the flow and must stop cleanly (an ASan build reports leaks
    # and errors through its exit status)
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        wait "$SERVER_PID"; src=$?
        echo "blindpad-server died during the flow (exit status $src); the end of $OUT/server.log:"
        tail -30 "$OUT/server.log"; rc=1
    else
        kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; src=$?
        if [ "$src" -ne 0 ] && [ "$src" -ne 143 ]; then
            echo "blindpad-server exited with status $src on SIGTERM; the end of $OUT/server.log:"
            tail -30 "$OUT/server.log"; rc=1
        fi
    fi
    SERVER_PID=
fi
set -e
if [ -n "$DATA" ]; then
    if [ "$rc" -eq 0 ] && [ "${BROWSER_KEEP:-0}" != 1 ]; then rm -rf "$DATA"; else echo "# server data kept in $DATA"; fi
fi
exit "$rc"
