#!/usr/bin/env bash
# Runs tests/integration/*.test.js with node's test runner and prints
# "N passed, N failed" (skipped tests are neither). Uses the `ws` package that
# the conformance suite installs (tests/conformance/node_modules).
set -uo pipefail
cd "$(dirname "$0")/../.."
if [ ! -d tests/conformance/node_modules/ws ]; then
    (cd tests/conformance && (npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error)) >&2
fi
export NODE_PATH="$PWD/tests/conformance/node_modules"
out=$(node --test --test-reporter=tap tests/integration/*.test.js 2>&1)
rc=$?
echo "$out"
p=$(echo "$out" | sed -n 's/^# pass \([0-9]*\)/\1/p' | tail -1)
f=$(echo "$out" | sed -n 's/^# fail \([0-9]*\)/\1/p' | tail -1)
echo "${p:-0} passed, ${f:-1} failed"
exit $rc
