#!/usr/bin/env bash
# Conformance suite runner.
#
#   tests/conformance/run.sh [node --test args / test files]
#
#   BLINDPAD_BIN=path          server binary (default: <repo>/build/blindpad-server)
#   CONFORMANCE_WS_URL=ws://…  run against an already running server instead (e.g. the reference)
#   CONFORMANCE_DATA_DIR=dir   its data dir (enables the on-disk checks for an external server)
#   CONFORMANCE_SLOW=1         also run the real-timing keepalive tests against an external server
#   CONFORMANCE_REPORTER=spec  reporter (default: tap)
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules ]; then
    if [ -f package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error
    else
        npm install --no-audit --no-fund --loglevel=error
    fi
fi
if [ "$#" -eq 0 ]; then
    set -- test/*.test.js
fi
flags=(--test --test-reporter="${CONFORMANCE_REPORTER:-tap}" --test-timeout=180000)
help=$(node --help)
# files run in parallel (each starts its own server); older node 20.x lack some flags
grep -q -- '--test-concurrency' <<<"$help" && flags+=(--test-concurrency="${CONFORMANCE_JOBS:-3}")
grep -q -- '--test-force-exit' <<<"$help" && flags+=(--test-force-exit)
exec node "${flags[@]}" "$@"
