#!/usr/bin/env bash
# bench/filetransfer.sh: issue 5's file benchmark (docs/PERFORMANCE.md, "Files: 1 GiB upload and
# download"). One run measures, on this machine and in the same run:
#   - libsodium's raw crypto_secretbox_easy / _open_easy on 128 KiB chunks (build/filecrypt),
#     the physical limit of the path;
#   - `blindpad upload` of a random file to a fresh local blindpad-server and `blindpad download`
#     of it back (then cmp), REPS times: wall time, client peak RSS (/usr/bin/time -v) and server
#     peak RSS (VmHWM from /proc, reset before each transfer through clear_refs);
#   - the peer a user would pick instead: Debian's rclone, `rclone copy` to a crypt remote over a
#     local directory and back (same file, REPS times, timed the same way).
# Downloads are measured twice: to a file (blindpad fsyncs FILE.part before renaming it, rclone
# does not fsync) and to stdout > /dev/null (`blindpad download -o -`, `rclone cat`), which
# leaves the disk out. Client CPU (user+sys, /usr/bin/time) and server CPU (utime+stime from
# /proc/<pid>/stat) are recorded per transfer, to show where the time goes. build/filecrypt runs
# once per rep (128 MiB, median of its 5 runs) so that the secretbox rate is taken under the same
# load as the transfers (the machine may be shared); the table uses the median over the reps.
# Prints a table (MB/s = 10^6 bytes of plaintext per second, medians of REPS) and writes it with
# the raw per-run lines to $OUT (default bench/results/filetransfer-<UTC time>/).
#
# usage: bash bench/filetransfer.sh [MiB, default 1024]     env: REPS (default 3), OUT, KEEP=1
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-1024}
REPS=${REPS:-3}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-bench/results/filetransfer-$STAMP}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# rclone from Debian's archive (the machine has a Debian mirror, no general internet).
if ! command -v rclone >/dev/null; then
    echo "installing Debian's rclone" >&2
    if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y rclone >&2
    else sudo DEBIAN_FRONTEND=noninteractive apt-get install -y rclone >&2; fi
fi
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }

make -s build/blindpad-server build/blindpad >&2
make -s filecrypt >&2

TMP=$(mktemp -d /tmp/bp-filetransfer.XXXXXX)
SRV_PID=
cleanup() {
    [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
    [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BIG=$(( (MIB + 1024) << 20 ))
build/blindpad-server --listen "127.0.0.1:$PORT" --sandbox-port 0 --fsync none \
    --data "$TMP/data" --max-upload-size "$BIG" --default-storage-limit "$BIG" --log-level warn \
    >"$TMP/server.log" 2>&1 &
SRV_PID=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.05
done
kill -0 "$SRV_PID"

echo "creating a $MIB MiB random file" >&2
head -c $((MIB << 20)) /dev/urandom >"$TMP/in.bin"
BYTES=$(stat -c %s "$TMP/in.bin")
export XDG_CONFIG_HOME=$TMP/xdg HOME=$TMP/home   # no session file of the user's is touched
mkdir -p "$XDG_CONFIG_HOME" "$HOME"

now() { date +%s.%N; }
# peak RSS (kB) of a /usr/bin/time -v log
tv_rss() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }
srv_reset() { echo 5 >/proc/$SRV_PID/clear_refs 2>/dev/null || true; }
srv_hwm() { awk '/VmHWM/ {print $2}' /proc/$SRV_PID/status; }
srv_cpu() { awk '{print $14 + $15}' /proc/$SRV_PID/stat; }   # clock ticks
TCK=$(getconf CLK_TCK)
tv_cpu() { awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u + s}' "$1"; }
# one row of runs.tsv: tool dir rep t0 t1 timelog server_rss server_cpu_ticks
row() {
    awk -v b="$BYTES" -v tool="$1" -v d="$2" -v r="$3" -v s="$(echo "$5 - $4" | bc)" \
        -v crss="$(tv_rss "$6")" -v ccpu="$(tv_cpu "$6")" -v srss="$7" -v scpu="$8" -v tck="$TCK" \
        'BEGIN { printf "%s\t%s\t%d\t%.3f\t%.1f\t%d\t%d\t%.2f\t%.2f\n", tool, d, r, s, b / s / 1e6,
                 crss, srss, ccpu, scpu / tck }' >>"$RAW"
}

RAW=$OUT/runs.tsv
printf 'tool\tdirection\trep\tseconds\tMBps\tclient_rss_kB\tserver_rss_kB\tclient_cpu_s\tserver_cpu_s\n' >"$RAW"
printf 'rep\tseal_MBps\topen_MBps\n' >"$OUT/secretbox.tsv"

# rclone: crypt over a local directory, config in the temp dir
RC=$TMP/rclone.conf
PW=$(rclone obscure "bench-$RANDOM-$RANDOM")
PW2=$(rclone obscure "salt-$RANDOM-$RANDOM")
cat >"$RC" <<EOF
[sec]
type = crypt
remote = $TMP/rclone-store
password = $PW
password2 = $PW2
EOF
mkdir -p "$TMP/rclone-store"

for rep in $(seq "$REPS"); do
    echo "rep $rep/$REPS: secretbox (build/filecrypt 128)" >&2
    build/filecrypt 128 >"$TMP/fc.txt"
    cat "$TMP/fc.txt" >>"$OUT/filecrypt.txt"
    awk -v r="$rep" '/raw crypto_secretbox_easy/ {s=$3} /raw crypto_secretbox_open_easy/ {o=$3}
        END {printf "%d\t%s\t%s\n", r, s, o}' "$TMP/fc.txt" >>"$OUT/secretbox.tsv"

    # The floor of the upload's server side on this machine: writing the same number of new
    # bytes into the data directory (the server's --fsync none stage writes are exactly that).
    echo "rep $rep/$REPS: dd to the data directory" >&2
    sync
    t0=$(now)
    /usr/bin/time -v -o "$TMP/time.dd" dd if="$TMP/in.bin" of="$TMP/data/dd.bin" bs=4M status=none
    t1=$(now)
    row dd up "$rep" "$t0" "$t1" "$TMP/time.dd" 0 0
    rm -f "$TMP/data/dd.bin"

    echo "rep $rep/$REPS: blindpad" >&2
    rm -rf "$TMP/out.bin" "$TMP/out.bin.part"
    sync; srv_reset; c0=$(srv_cpu)
    t0=$(now)
    /usr/bin/time -v -o "$TMP/time.up" build/blindpad --server "http://127.0.0.1:$PORT" --json \
        --no-progress -q upload "$TMP/in.bin" >"$TMP/up.json"
    t1=$(now)
    row blindpad up "$rep" "$t0" "$t1" "$TMP/time.up" "$(srv_hwm)" $(( $(srv_cpu) - c0 ))
    link=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["link"])' "$TMP/up.json")
    srv_reset; c0=$(srv_cpu)
    t0=$(now)
    /usr/bin/time -v -o "$TMP/time.down" build/blindpad --no-progress -q download "$link" \
        -o "$TMP/out.bin" --force
    t1=$(now)
    row blindpad down-file "$rep" "$t0" "$t1" "$TMP/time.down" "$(srv_hwm)" $(( $(srv_cpu) - c0 ))
    cmp "$TMP/in.bin" "$TMP/out.bin"
    rm -f "$TMP/out.bin"
    srv_reset; c0=$(srv_cpu)
    t0=$(now)
    /usr/bin/time -v -o "$TMP/time.cat" build/blindpad --no-progress -q download "$link" -o - \
        >/dev/null
    t1=$(now)
    row blindpad down-null "$rep" "$t0" "$t1" "$TMP/time.cat" "$(srv_hwm)" $(( $(srv_cpu) - c0 ))
    # the blob is deleted between reps so that the data directory holds one copy at a time
    rm -rf "$TMP/data/blob" 2>/dev/null || true

    # CryptPad's own upload form (one base64 JSON request per 128 KiB box), which is what
    # blindpad sends to a server that does not advertise the binary upload.
    echo "rep $rep/$REPS: blindpad, JSON chunks" >&2
    sync; srv_reset; c0=$(srv_cpu)
    t0=$(now)
    BLINDPAD_UPLOAD_JSON=1 /usr/bin/time -v -o "$TMP/time.upj" build/blindpad \
        --server "http://127.0.0.1:$PORT" --json --no-progress -q upload "$TMP/in.bin" >/dev/null
    t1=$(now)
    row blindpad up-json "$rep" "$t0" "$t1" "$TMP/time.upj" "$(srv_hwm)" $(( $(srv_cpu) - c0 ))
    rm -rf "$TMP/data/blob" 2>/dev/null || true

    echo "rep $rep/$REPS: rclone" >&2
    rm -rf "$TMP/rclone-store"/* "$TMP/rdown"
    sync
    t0=$(now)
    /usr/bin/time -v -o "$TMP/time.rup" rclone --config "$RC" copy "$TMP/in.bin" sec:
    t1=$(now)
    row rclone up "$rep" "$t0" "$t1" "$TMP/time.rup" 0 0
    t0=$(now)
    /usr/bin/time -v -o "$TMP/time.rdown" rclone --config "$RC" copy sec:in.bin "$TMP/rdown"
    t1=$(now)
    row rclone down-file "$rep" "$t0" "$t1" "$TMP/time.rdown" 0 0
    cmp "$TMP/in.bin" "$TMP/rdown/in.bin"
    rm -rf "$TMP/rdown"
    t0=$(now)
    /usr/bin/time -v -o "$TMP/time.rcat" rclone --config "$RC" cat sec:in.bin >/dev/null
    t1=$(now)
    row rclone down-null "$rep" "$t0" "$t1" "$TMP/time.rcat" 0 0
done

med() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
SEAL=$(tail -n +2 "$OUT/secretbox.tsv" | cut -f2 | med)
OPEN=$(tail -n +2 "$OUT/secretbox.tsv" | cut -f3 | med)

{
    echo "file $MIB MiB ($BYTES bytes), $REPS reps, medians; MB/s = 10^6 plaintext bytes/s"
    echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(awk '/MemTotal/ {print $2, $3}' /proc/meminfo); $(uname -sr)"
    echo "blindpad $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo '+dirty'); $(rclone version | head -1)"
    echo "raw secretbox (128 KiB chunks, build/filecrypt, median of the reps): seal $SEAL MB/s, open $OPEN MB/s ($(tail -n +2 "$OUT/secretbox.tsv" | cut -f2,3 | tr '\t\n' '/ '))"
    echo
    python3 - "$RAW" "$SEAL" "$OPEN" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter='\t'))
seal, open_ = float(sys.argv[2]), float(sys.argv[3])
print("| tool | transfer | MB/s per rep | median MB/s | x secretbox | client CPU s | server CPU s | client peak RSS MiB | server peak RSS MiB |")
print("|---|---|---|---|---|---|---|---|---|")
for tool in ('dd', 'blindpad', 'rclone'):
    for d in ('up', 'up-json', 'down-file', 'down-null'):
        rs = [r for r in rows if r['tool'] == tool and r['direction'] == d]
        if not rs:
            continue
        rates = [float(r['MBps']) for r in rs]
        med = statistics.median(rates)
        ref = seal if d.startswith('up') else open_
        ccpu = statistics.median(float(r['client_cpu_s']) for r in rs)
        scpu = statistics.median(float(r['server_cpu_s']) for r in rs)
        crss = max(int(r['client_rss_kB']) for r in rs) / 1024
        srss = max(int(r['server_rss_kB']) for r in rs) / 1024
        srv = f"{scpu:.2f}" if tool == 'blindpad' else "-"
        srr = f"{srss:.1f}" if tool == 'blindpad' else "-"
        if tool == 'dd':
            d = 'write to the data dir (dd bs=4M)'
        print(f"| {tool} | {d} | {' / '.join(f'{x:.0f}' for x in rates)} | {med:.0f} | {med/ref:.2f} | {ccpu:.2f} | {srv} | {crss:.1f} | {srr} |")
print()
print("dd: the first write of that many new bytes in each rep (on a VM, fresh guest pages are slow;")
print("    the transfers after it reuse the freed pages: see docs/PERFORMANCE.md)")
print("x secretbox: upload vs raw seal, downloads vs raw open (the target is >= 0.50); CPU: medians;")
print("up: blindpad's binary upload (a blindpad server); up-json: CryptPad's JSON chunks (BLINDPAD_UPLOAD_JSON=1);")
print("RSS: the largest peak of the reps; down-file fsyncs (blindpad) / does not (rclone); down-null: stdout to /dev/null")
EOF
} | tee "$OUT/summary.txt"
echo "results: $OUT" >&2
