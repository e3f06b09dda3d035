#!/usr/bin/env bash
# Regenerate tests/data/refstore from the REAL CryptPad server (the reference, 2026.2.2).
#
#   CRYPTPAD_GIT=<git dir of cryptpad/cryptpad> tests/reference/make-refdata.sh
#   tests/reference/make-refdata.sh            # when /tmp/reference/cryptpad is already set up
#
# Environment:
#   REF_DIR      reference install (default /tmp/reference/cryptpad; set up with
#                ../shared/bench/reference-setup.sh if missing, which needs CRYPTPAD_GIT)
#   REF_PORT     http port used when setting it up (default 23000; websocket = REF_PORT+3)
#   BENCH_DIR    directory holding reference-setup.sh / reference-server.sh
#                (default: <repo>/../shared/bench)
#
# What it does (see README.md):
#   1. wipes the reference's data (datastore/, data/, block/, blob/) and hand-writes the legacy
#      channels into its datastore (make-refdata.js prepare);
#   2. starts the reference, creates every other channel through Netflux (make-refdata.js drive),
#      stops it;
#   3. copies the resulting files (without *.offset index hints) to tests/data/refstore/;
#   4. restarts the reference on that data and records its answers (make-refdata.js capture),
#      deleting *.offset before each transcript; checks that the data dir did not change;
#   5. does the capture a second time leaving the reference's *.offset files in place and reports
#      any difference (informative only);
#   6. writes tests/data/refstore/transcripts.json, channels.json and keys.json.
# None of CryptPad's code is copied into the project.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT="$REPO/tests/data/refstore"
REF=${REF_DIR:-/tmp/reference/cryptpad}
BENCH=${BENCH_DIR:-$REPO/../shared/bench}
export REF_PORT=${REF_PORT:-23000}

log() { echo "make-refdata: $*" >&2; }

if [ ! -e "$REF/server.js" ]; then
    : "${CRYPTPAD_GIT:?no reference in $REF: set CRYPTPAD_GIT to a git directory of cryptpad/cryptpad}"
    "$BENCH/reference-setup.sh" "$REF"
fi
WSPORT=$(sed -n "s#^\s*websocketPort:\s*\([0-9]\+\),.*#\1#p" "$REF/config/config.js" | head -1)
export REF_WS="ws://127.0.0.1:${WSPORT:-3003}/"
log "reference $REF, websocket $REF_WS"

if [ ! -d "$HERE/node_modules/ws" ]; then (cd "$HERE" && npm ci --no-audit --no-fund); fi

if "$BENCH/reference-server.sh" status "$REF" | grep -q node; then
    log "the reference in $REF is already running; stop it first"; exit 1
fi
WORK=$(mktemp -d /tmp/refdata.XXXXXX)
log "work dir $WORK"
running=0
cleanup() { if [ "$running" = 1 ]; then "$BENCH/reference-server.sh" stop "$REF" >/dev/null || true; fi; }
trap cleanup EXIT
start() { "$BENCH/reference-server.sh" start "$REF" >/dev/null; running=1; }
stop() { "$BENCH/reference-server.sh" stop "$REF" >/dev/null; running=0; sleep 0.5; }

# the files that make up the data dir (relative to the CryptPad root), without *.offset
datafiles() {
    (cd "$1" && { find datastore data/archive/datastore data/tasks -type f ! -name '*.offset' 2>/dev/null || true; } | LC_ALL=C sort)
}
snapshot_check() { # $1 = label
    local a b
    a=$(cd "$REF" && datafiles . | while read -r f; do sha256sum "$f"; done)
    b=$(cd "$OUT" && datafiles . | while read -r f; do sha256sum "$f"; done)
    if [ "$a" != "$b" ]; then
        log "ERROR: the reference's data changed during $1:"; diff <(echo "$b") <(echo "$a") >&2 || true; exit 1
    fi
    log "data unchanged after $1"
}

# 1. fresh data + legacy channels (same wipe as REF_FRESH=1)
rm -rf "$REF/datastore" "$REF/data" "$REF/block" "$REF/blob"
node "$HERE/make-refdata.js" prepare "$REF" "$WORK"

# 2. drive
start
T0=$(date +%s)
node "$HERE/make-refdata.js" drive "$WORK"
sleep 1
stop
log "drive took $(( $(date +%s) - T0 )) s"

# 3. copy into the project
rm -rf "$OUT/datastore" "$OUT/data"
mkdir -p "$OUT"
datafiles "$REF" | while read -r f; do
    mkdir -p "$OUT/$(dirname "$f")"; cp -p "$REF/$f" "$OUT/$f"
done
find "$REF/datastore" -name '*.offset' -delete

# 4. capture (the integrated task runner fires 5 min after start and would archive the expired
#    channel, so each server run must stay well under that; snapshot_check catches it otherwise)
start
T0=$(date +%s)
node "$HERE/make-refdata.js" capture "$REF" "$WORK" "$WORK/transcripts.json"
stop
log "capture took $(( $(date +%s) - T0 )) s"
snapshot_check "capture"

# 5. second capture, keeping the .offset files the reference writes
find "$REF/datastore" -name '*.offset' -delete
start
node "$HERE/make-refdata.js" capture "$REF" "$WORK" "$WORK/transcripts-offsets.json" --keep-offsets
stop
snapshot_check "capture with .offset files"
if cmp -s "$WORK/transcripts.json" "$WORK/transcripts-offsets.json"; then
    log "capture with .offset files kept: identical transcripts"
else
    log "NOTE: capture with .offset files kept differs:"
    diff "$WORK/transcripts.json" "$WORK/transcripts-offsets.json" >&2 || true
fi

# 6. results
cp "$WORK/transcripts.json" "$OUT/transcripts.json"
node -e '
const fs = require("fs");
const st = JSON.parse(fs.readFileSync(process.argv[1] + "/state.json", "utf8"));
const keys = {};
Object.keys(st.keys).forEach((k) => { keys[k] = { edPublic: st.keys[k].pub, seed: st.keys[k].seed }; });
fs.writeFileSync(process.argv[2] + "/keys.json", JSON.stringify({
  note: "test keys used to build this data: ed25519 seeds (base64, tweetnacl sign.keyPair.fromSeed). owner/second/allowed/outsider are users (RPC keys, owners/allowed lists); sign:<channel> are the channels validateKeys",
  keys }, null, 2) + "\n");
fs.writeFileSync(process.argv[2] + "/channels.json", JSON.stringify({
  channels: st.channels, lines: st.labels }, null, 2) + "\n");
' "$WORK" "$OUT"
cp "$WORK/drive-log.json" "$OUT/drive-log.json"
log "refstore: $(du -sh "$OUT" | cut -f1), $(find "$OUT" -type f | wc -l) files"
log "work dir kept: $WORK"
