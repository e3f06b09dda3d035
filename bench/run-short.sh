#!/usr/bin/env bash
# bench/run-short.sh: the short benchmark run behind `make bench`.
#
#   bash bench/run-short.sh [--build DIR]      (DIR defaults to build)
#
# Builds the server and the load generator if needed, then for every scenario
# starts a fresh blindpad-server on a free loopback port with a temporary
# data directory (a fresh process per scenario, so RSS numbers are not
# polluted by the previous one), runs bench/loadgen briefly against it and
# stops the server. Each result is printed on stdout as one JSON object per
# line; a one-line human summary of each goes to stderr. Total time is about
# 1-2 minutes. These are measurements, not tests: nothing here asserts on
# timings, and the exit status only reflects whether every run completed.
#
# Environment:
#   BENCH_FSYNC=none|group|always   server --fsync mode (default none: the fast path)
#   BENCH_PIN=0                     do not pin (default: with >= 2 CPUs, the server
#                                   runs on CPU 1 and the load generator on CPU 0)
#   BENCH_ONLY="s1 s3"              run only these scenarios
set -euo pipefail

BUILD=build
while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run-short: unknown argument $1" >&2; exit 1 ;;
    esac
done
cd "$(dirname "$0")/.."
SERVER=$BUILD/blindpad-server
LOADGEN=$BUILD/loadgen
if [ ! -x "$SERVER" ] || [ ! -x "$LOADGEN" ]; then
    make --no-print-directory BUILD="$BUILD" "$SERVER" "$LOADGEN" >&2
fi

FSYNC=${BENCH_FSYNC:-none}
ONLY=${BENCH_ONLY:-s1 s2 s3 s4 s5}
TMP=$(mktemp -d /tmp/blindpad-bench.XXXXXX)
SRV_PID=""
PIN_SRV=() PIN_LG=()
if [ "${BENCH_PIN:-1}" != 0 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SRV=(taskset -c 1) PIN_LG=(taskset -c 0)
fi

stop_server() {
    if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
        kill -TERM "$SRV_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SRV_PID" 2>/dev/null || true
        wait "$SRV_PID" 2>/dev/null || true
    fi
    SRV_PID=""
}
cleanup() { stop_server; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
        return
    fi
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        ss -ltn | grep -q "127.0.0.1:$p " || { echo "$p"; return; }
    done
    echo "run-short: no free port found" >&2; exit 1
}

# start_server NAME: fresh data dir and port; sets PORT and SRV_PID
start_server() {
    local name=$1
    PORT=$(free_port)
    mkdir -p "$TMP/$name"
    "${PIN_SRV[@]}" "$SERVER" --listen "127.0.0.1:$PORT" --data "$TMP/$name/data" --fsync "$FSYNC" \
        >"$TMP/$name/server.log" 2>&1 &
    SRV_PID=$!
    for _ in $(seq 1 100); do
        if ss -ltn | grep -q "127.0.0.1:$PORT "; then return 0; fi
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "run-short: server did not start; see below" >&2
    cat "$TMP/$name/server.log" >&2
    exit 1
}

summary() { # one human line per result, if python3 is there
    command -v python3 >/dev/null || return 0
    python3 - "$1" "$2" <<'PY' >&2 || true
import json, sys
name, path = sys.argv[1], sys.argv[2]
d = json.load(open(path))
def h(x, k): return x.get(k) if x else None
def ms(v): return "-" if v is None else "%.2fms" % (v / 1000.0)
srv = d.get("server") or {}
gen = d.get("generator") or {}
cpu = "server %s%% cpu, generator %s%% cpu" % (srv.get("cpu_percent_core"), gen.get("cpu_percent_core"))
s = d["scenario"]
if s in ("s1", "s4", "s5"):
    m, r = d["messages"], d["rates"]
    lat = d.get("latency") or d.get("during_stall")
    e2e = lat["e2e"]
    line = "sent %d acked %d deliveries %d/%d expected, %.0f delivered/s, e2e p50 %s p99 %s max %s" % (
        m["sent"], m["acked"], m["deliveries"], m["deliveries_expected"], r["delivered_per_s"] or 0,
        ms(h(e2e, "p50_us")), ms(h(e2e, "p99_us")), ms(h(e2e, "max_us")))
    if s == "s4":
        g = d["signed"]
        line += "; accepted %.0f/s, rejected %d, verify limit %.0f/s (1 thr) %.0f/s (2 thr)" % (
            g["accepted_per_s"] or 0, g["rejected"], g.get("verify_detached_per_s_1_thread") or 0,
            g.get("verify_detached_per_s_2_threads") or 0)
    if s == "s5":
        sc = d["slow_consumer"]
        line += "; slow consumer disconnected: %s after %s s; server RSS max %s KiB" % (
            sc["disconnected"], sc["disconnected_after_s"], d["server_rss"]["max_kb"])
elif s == "s2":
    st, hm = d["storm"], d["history_messages_per_client"]
    t = st["time_to_full_history"]
    line = "%d/%d joiners complete, %.0f joins/s, full history p50 %s p99 %s max %s, messages/client %d..%d (H=%d)" % (
        st["joiners_complete"], d["params"]["joiners"], st["joins_per_s"] or 0, ms(h(t, "p50_us")),
        ms(h(t, "p99_us")), ms(h(t, "max_us")), hm["min"], hm["max"], hm["expected"])
else:
    i, mem, p = d["idle"], d["memory"], d["probe"]["connect_ident_join_ping"]
    line = "%d idle connections held, server RSS %s -> %s KiB (%s bytes/conn), probe p50 %s max %s" % (
        i["held_at_end"], mem["server_rss_kb_before"], mem["server_rss_kb_after"],
        mem["server_rss_bytes_per_conn"], ms(h(p, "p50_us")), ms(h(p, "max_us")))
print("== %-14s %s; %s%s" % (name, line, cpu, "; ABORTED: " + d["aborted"] if d.get("aborted") else ""))
PY
}

FAILED=0
# run NAME SCENARIO ARGS...: fresh server, one loadgen run, result on stdout
run() {
    local name=$1; shift
    local sc=$1; shift
    case " $ONLY " in *" $sc "*) ;; *) return 0 ;; esac
    start_server "$name"
    echo "-- $name: loadgen --scenario $sc $* (server pid $SRV_PID, port $PORT, fsync $FSYNC)" >&2
    local rc=0
    timeout 300 "${PIN_LG[@]}" "$LOADGEN" --url "ws://127.0.0.1:$PORT/" --scenario "$sc" \
        --server-pid "$SRV_PID" --quiet --seed 1 "$@" >"$TMP/$name.json" || rc=$?
    stop_server
    if [ -s "$TMP/$name.json" ]; then
        cat "$TMP/$name.json"
        summary "$name" "$TMP/$name.json"
    fi
    if [ "$rc" != 0 ]; then
        echo "run-short: $name: loadgen exited with $rc" >&2
        FAILED=1
    fi
}

T0=$(date +%s)
run s1-fanout     s1 --channels 100 --users 10 --rate 2000 --duration 3
run s1-hot        s1 --channels 1 --users 10 --rate 0 --window 4 --duration 3
run s2-at-once    s2 --channels 1 --history 1000 --joiners 500 --inflight 0 --duration 60
run s2-paced      s2 --channels 1 --history 1000 --joiners 500 --inflight 50 --duration 60
run s3-idle       s3 --conns 5000 --conn-rate 2500 --inflight 100 --probes 20 --duration 3
run s4-signed     s4 --channels 10 --users 10 --rate 0 --duration 3 --messages 20000 --bad-every 100
run s5-slow       s5 --channels 1 --users 5 --rate 400 --msg-size 32768 --duration 10 --warmup 2
echo "run-short: done in $(( $(date +%s) - T0 ))s" >&2
exit $FAILED
