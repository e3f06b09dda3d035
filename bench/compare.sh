#!/usr/bin/env bash
# bench/compare.sh: blindpad against the reference (CryptPad 2026.2.2), every scenario, one run.
#
#   bash bench/compare.sh              # full run (REPS=3), about 35-45 min on 2 cores
#   QUICK=1 bash bench/compare.sh      # smoke test: REPS=1, 2-3 s runs, small sizes (~4 min)
#
# For every case (a scenario with its parameters), every repetition runs the servers back
# to back, alternating: blindpad --fsync none, the reference, blindpad --fsync group (the
# order rotates by one with each repetition). Each
# run gets a FRESH server (blindpad: empty temporary data dir; reference: REF_FRESH=1, its
# datastore wiped) that is stopped right after. Results go to
#   bench/results/<UTC timestamp>/          (QUICK=1: bench/results/quick-<timestamp>/)
#     json/<case>.<variant>.r<rep>.json         loadgen's JSON, one file per run
#     json/<case>.<variant>.r<rep>.procs.json   per-pid CPU/RSS of the server (main process alone too)
#     raw/                                      loadgen stderr and server logs (gitignored)
#     runs.tsv, cases.tsv, env.json, summary.json, summary.md, s1a.dat, latency_vs_load.png
# Medians over the repetitions; ratios are "x times better" (> 1 = blindpad better).
#
# Pinning (2+ CPUs): server on SRV_CPU (1), with all its threads and, for the reference, all
# its child processes; loadgen on LG_CPU (0). Case s4-unpinned leaves the server free on
# every CPU (the loadgen stays on LG_CPU; it pre-signs before the timed phase).
#
# Environment (defaults in brackets):
#   REPS [3]  QUICK [0]  CASES [all: s1a s1b s1c s2-storm s2-paced s3 s4-unpinned s4-pinned s5]
#   VARIANTS ["bp-none ref bp-group"; add "floor" for bench/kfloor, the kernel's floor, in the s1a
#            cases only: no server, a bare relay that reads each message once and writes it to
#            each other member, pinned like a server; "floor-proto" is the same relay plus what
#            Netflux requires of every server: an ACK frame to the sender and the append of the
#            message to its channel's log file (kfloor --ack --append); "floor-sig", in the s4 cases
#            only, is bench/kfloor/sfloor: the least a server must do for a signed write (decode,
#            check, append, ACK, deliver) on a thread per CPU with no hand-off]
#   NO_BUILD [0: run make first]  OUT [bench/results/<ts>]
#   DRY_RUN [0: 1 = print the cases and their loadgen arguments, run nothing]
#   BP_PORT [26010]  REF_PORT [26000: ws 26003]  REF_DIR [/tmp/reference-bench/cryptpad]
#   CRYPTPAD_GIT [/work/.mirror/cryptpad+cryptpad/repo]  SRV_CPU [1]  LG_CPU [0]  SEED [1]
#   TIMEOUT_SLACK [180: a run is killed after its duration + this many seconds]
#   S1: RATES ["250 500 1000 2000"] S1_DURATION [10] S1_CHANNELS [100] S1_USERS [10] MSG_SIZE [1024]
#   S2: S2_HISTORY [1000] S2_JOINERS [1000] S2_DURATION [120] S2_PACED_INFLIGHT [50]
#   S3: S3_CONNS [19500] S3_PROBES [20] S3_DURATION [10]
#   S4: S4_CHANNELS [50] S4_USERS [2] S4_MESSAGES [60000] S4_WINDOW [16] S4_DURATION [10]
#   S5: S5_USERS [10] S5_RATE [100] S5_MSG_SIZE [16384] S5_DURATION [20] S5_WARMUP [5]
set -euo pipefail

cd "$(dirname "$0")/.."
PROJECT=$(pwd)
BENCH=$PROJECT/bench
SHARED=${SHARED_BENCH:-$PROJECT/../shared/bench}
[ -d "$SHARED" ] || SHARED=/work/shared/bench
REFSH=$SHARED/reference-server.sh
REFSETUP=$SHARED/reference-setup.sh

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
    : "${REPS:=1}" "${S1_DURATION:=2}" "${S2_HISTORY:=100}" "${S2_JOINERS:=100}" "${S2_DURATION:=30}"
    : "${S3_CONNS:=2000}" "${S3_PROBES:=5}" "${S3_DURATION:=2}" "${S4_MESSAGES:=5000}" "${S4_DURATION:=3}"
    : "${S5_DURATION:=3}" "${S5_WARMUP:=1}"
fi
REPS=${REPS:-3}
CASES=${CASES:-s1a s1b s1c s2-storm s2-paced s3 s4-unpinned s4-pinned s5}
VARIANTS=${VARIANTS:-bp-none ref bp-group}
RATES=${RATES:-250 500 1000 2000}
S1_DURATION=${S1_DURATION:-10} S1_CHANNELS=${S1_CHANNELS:-100} S1_USERS=${S1_USERS:-10}
MSG_SIZE=${MSG_SIZE:-1024}
S2_HISTORY=${S2_HISTORY:-1000} S2_JOINERS=${S2_JOINERS:-1000} S2_DURATION=${S2_DURATION:-120}
S2_PACED_INFLIGHT=${S2_PACED_INFLIGHT:-50}
S3_CONNS=${S3_CONNS:-19500} S3_PROBES=${S3_PROBES:-20} S3_DURATION=${S3_DURATION:-10}
S4_CHANNELS=${S4_CHANNELS:-50} S4_USERS=${S4_USERS:-2} S4_MESSAGES=${S4_MESSAGES:-60000}
S4_WINDOW=${S4_WINDOW:-16} S4_DURATION=${S4_DURATION:-10}
S5_USERS=${S5_USERS:-10} S5_RATE=${S5_RATE:-100} S5_MSG_SIZE=${S5_MSG_SIZE:-16384} S5_DURATION=${S5_DURATION:-20} S5_WARMUP=${S5_WARMUP:-5}
BP_PORT=${BP_PORT:-26010}
REF_PORT=${REF_PORT:-26000}
REF_DIR=${REF_DIR:-/tmp/reference-bench/cryptpad}
CRYPTPAD_GIT=${CRYPTPAD_GIT:-/work/.mirror/cryptpad+cryptpad/repo}
SRV_CPU=${SRV_CPU:-1} LG_CPU=${LG_CPU:-0} SEED=${SEED:-1}
TIMEOUT_SLACK=${TIMEOUT_SLACK:-180}
BP_BIN=$PROJECT/build/blindpad-server
LG_BIN=$PROJECT/build/loadgen
KF_BIN=$PROJECT/build/kfloor
SF_BIN=$PROJECT/build/sfloor
NCPU=$(nproc)

TS=$(date -u +%Y%m%dT%H%M%SZ)
if [ -z "${OUT:-}" ]; then
    if [ "$QUICK" = 1 ]; then OUT=$BENCH/results/quick-$TS; else OUT=$BENCH/results/$TS; fi
fi
mkdir -p "$OUT/json" "$OUT/raw"
OUT=$(cd "$OUT" && pwd)

log() { echo "[compare $(date -u +%H:%M:%S)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- cleanup
TMP=$(mktemp -d /tmp/blindpad-compare.XXXXXX)
SRV_PID="" REF_UP=0 SAMPLER_PID="" LG_PID=""
stop_blindpad() {
    if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
        kill -TERM "$SRV_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SRV_PID" 2>/dev/null || true
    fi
    [ -n "$SRV_PID" ] && { wait "$SRV_PID" 2>/dev/null || true; }
    SRV_PID=""
}
stop_reference() {
    if [ "$REF_UP" = 1 ]; then
        "$REFSH" stop "$REF_DIR" >/dev/null 2>&1 || log "reference stop failed"
        REF_UP=0
    fi
}
stop_sampler() {
    if [ -n "$SAMPLER_PID" ]; then
        kill -TERM "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
        SAMPLER_PID=""
    fi
}
cleanup() {
    if [ -n "$LG_PID" ]; then   # timeout(1) passes the TERM on to loadgen
        kill -TERM "$LG_PID" 2>/dev/null || true
        wait "$LG_PID" 2>/dev/null || true
    fi
    stop_sampler
    stop_blindpad
    stop_reference
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

port_busy() { ss -ltn | grep -q "127.0.0.1:$1 "; }

# ---------------------------------------------------------------- build and reference setup
command -v taskset >/dev/null || die "taskset missing (util-linux)"
command -v python3 >/dev/null || die "python3 missing"
if ! command -v gnuplot >/dev/null; then
    log "gnuplot missing: installing gnuplot-nox"
    { apt-get install -y -q gnuplot-nox || { apt-get update -q && apt-get install -y -q gnuplot-nox; }; } \
        >"$OUT/raw/apt-gnuplot.log" 2>&1 || log "could not install gnuplot-nox: no plot"
fi
if [ "${NO_BUILD:-0}" != 1 ]; then
    log "building (make; make loadgen kfloor)"
    make --no-print-directory -j"$NCPU" >"$OUT/raw/build.log" 2>&1 &&
        make --no-print-directory loadgen kfloor >>"$OUT/raw/build.log" 2>&1 ||
        { tail -20 "$OUT/raw/build.log" >&2; die "build failed (see $OUT/raw/build.log; NO_BUILD=1 uses the existing binaries)"; }
fi
[ -x "$BP_BIN" ] && [ -x "$LG_BIN" ] || die "missing $BP_BIN or $LG_BIN"

case " $VARIANTS " in *" ref "*)
    if [ ! -e "$REF_DIR/server.js" ]; then
        log "installing the reference into $REF_DIR (from $CRYPTPAD_GIT, REF_PORT=$REF_PORT)"
        mkdir -p "$(dirname "$REF_DIR")"
        CRYPTPAD_GIT=$CRYPTPAD_GIT REF_PORT=$REF_PORT timeout 1200 "$REFSETUP" "$REF_DIR" \
            >"$OUT/raw/reference-setup.log" 2>&1 || die "reference setup failed; see $OUT/raw/reference-setup.log"
        git -C "$CRYPTPAD_GIT" rev-parse HEAD >"$REF_DIR/.bench-commit" 2>/dev/null || true
    fi
    REF_WS_PORT=$(sed -n "s#^\s*websocketPort:\s*\([0-9]\+\),.*#\1#p" "$REF_DIR/config/config.js" | head -1)
    REF_HTTP_PORT=$(sed -n "s#^\s*httpPort:\s*\([0-9]\+\),.*#\1#p" "$REF_DIR/config/config.js" | head -1)
    [ -n "$REF_WS_PORT" ] && [ -n "$REF_HTTP_PORT" ] ||
        die "$REF_DIR/config/config.js sets no httpPort/websocketPort: it would use 3000/3003; reinstall it with REF_PORT"
    [ "$REF_HTTP_PORT" = "$REF_PORT" ] || log "note: $REF_DIR is configured for port $REF_HTTP_PORT (not REF_PORT=$REF_PORT)"
    if [ -f "$REF_DIR/.reference.pid" ] && kill -0 "$(cat "$REF_DIR/.reference.pid")" 2>/dev/null; then
        die "a reference server is already running from $REF_DIR (pid $(cat "$REF_DIR/.reference.pid")); stop it: $REFSH stop $REF_DIR"
    fi
    ;;
esac
REF_WS_PORT=${REF_WS_PORT:-$((REF_PORT + 3))}
[ "$BP_PORT" != "$REF_WS_PORT" ] || die "BP_PORT equals the reference's websocket port"

if [ "$NCPU" -ge 2 ]; then
    PIN_SRV=$SRV_CPU PIN_LG=$LG_CPU
else
    log "only $NCPU CPU: no pinning possible, every case runs unpinned"
    PIN_SRV=0 PIN_LG=0
fi
ALL_CPUS=0-$((NCPU - 1))

export PROJECT REF_DIR CRYPTPAD_GIT BP_BIN LG_BIN QUICK REPS VARIANTS BP_PORT REF_WS_PORT SRV_CPU LG_CPU SEED
python3 "$BENCH/compare.py" env "$OUT" || log "env.json: failed"

# ---------------------------------------------------------------- cases
# case_def NAME SCENARIO PIN(pinned|unpinned) DURATION TITLE -- LOADGEN ARGS...
CASE_NAMES=()
declare -A CASE_SC CASE_PIN CASE_DUR CASE_ARGS CASE_TITLE
case_def() {
    local n=$1 sc=$2 pin=$3 dur=$4 title=$5; shift 6
    CASE_NAMES+=("$n"); CASE_SC[$n]=$sc; CASE_PIN[$n]=$pin; CASE_DUR[$n]=$dur; CASE_TITLE[$n]=$title
    CASE_ARGS[$n]="$*"
}
S1C="--channels $S1_CHANNELS --users $S1_USERS --msg-size $MSG_SIZE"
for want in $CASES; do
    case $want in
    s1a) for r in $RATES; do
            case_def "s1a-r$r" s1 pinned "$S1_DURATION" "S1a fan-out at a fixed $r msg/s" -- \
                --scenario s1 $S1C --rate "$r" --duration "$S1_DURATION"
         done ;;
    s1b) case_def s1b s1 pinned "$S1_DURATION" "S1b fan-out saturation (closed loop), one server core" -- \
            --scenario s1 $S1C --rate 0 --duration "$S1_DURATION" ;;
    s1c) case_def s1c s1 pinned "$S1_DURATION" "S1c hot channel (1 channel x $S1_USERS users, closed loop)" -- \
            --scenario s1 --channels 1 --users "$S1_USERS" --msg-size "$MSG_SIZE" --rate 0 --duration "$S1_DURATION" ;;
    s2-storm) case_def s2-storm s2 pinned "$S2_DURATION" "S2 join storm, all $S2_JOINERS joiners at once" -- \
            --scenario s2 --history "$S2_HISTORY" --joiners "$S2_JOINERS" --inflight 0 --duration "$S2_DURATION" ;;
    s2-paced) case_def s2-paced s2 pinned "$S2_DURATION" "S2 join storm, paced ($S2_PACED_INFLIGHT in flight)" -- \
            --scenario s2 --history "$S2_HISTORY" --joiners "$S2_JOINERS" --inflight "$S2_PACED_INFLIGHT" --duration "$S2_DURATION" ;;
    s3) case_def s3 s3 pinned $((S3_DURATION + S3_CONNS / 1000 + 5)) "S3 $S3_CONNS idle connections" -- \
            --scenario s3 --conns "$S3_CONNS" --probes "$S3_PROBES" --duration "$S3_DURATION" ;;
    s4-unpinned) case_def s4-unpinned s4 unpinned "$S4_DURATION" "S4 signed writes, server UNPINNED (all CPUs)" -- \
            --scenario s4 --channels "$S4_CHANNELS" --users "$S4_USERS" --messages "$S4_MESSAGES" --window "$S4_WINDOW" --duration "$S4_DURATION" ;;
    s4-pinned) case_def s4-pinned s4 pinned "$S4_DURATION" "S4 signed writes, server pinned to one core" -- \
            --scenario s4 --channels "$S4_CHANNELS" --users "$S4_USERS" --messages "$S4_MESSAGES" --window "$S4_WINDOW" --duration "$S4_DURATION" ;;
    s5) case_def s5 s5 pinned "$S5_DURATION" "S5 slow consumer" -- \
            --scenario s5 --users "$S5_USERS" --msg-size "$S5_MSG_SIZE" --rate "$S5_RATE" --duration "$S5_DURATION" --warmup "$S5_WARMUP" ;;
    *) die "unknown case '$want' in CASES" ;;
    esac
done
: >"$OUT/cases.tsv"
for n in "${CASE_NAMES[@]}"; do
    printf '%s\t%s\t%s\t%s\t%s\n' "$n" "${CASE_SC[$n]}" "${CASE_PIN[$n]}" "${CASE_TITLE[$n]}" "${CASE_ARGS[$n]}" >>"$OUT/cases.tsv"
done
if [ "${DRY_RUN:-0}" = 1 ]; then
    for n in "${CASE_NAMES[@]}"; do
        printf '%-12s %-8s limit %4ss  loadgen %s\n' "$n" "${CASE_PIN[$n]}" $(( ${CASE_DUR[$n]} + TIMEOUT_SLACK )) "${CASE_ARGS[$n]}" >&2
    done
    log "DRY_RUN=1: nothing run; $OUT holds env.json and cases.tsv only"
    exit 0
fi
printf 'case\tvariant\trep\trc\tstatus\tjson\tpids\tmain_pid\taffinity_server\taffinity_loadgen\tcommand\n' >"$OUT/runs.tsv"

# ---------------------------------------------------------------- servers
# start_server VARIANT AFFINITY ID: sets PIDS (comma list), MAIN_PID, URL; returns 1 on failure
start_server() {
    local v=$1 aff=$2 id=$3
    PIDS="" MAIN_PID=""
    case $v in
    bp-none|bp-group)
        local mode=${v#bp-}
        if port_busy "$BP_PORT"; then log "port $BP_PORT is busy (not ours): skipping"; return 1; fi
        local data=$TMP/$id
        mkdir -p "$data"
        taskset -c "$aff" "$BP_BIN" --listen "127.0.0.1:$BP_PORT" --data "$data" --fsync "$mode" \
            >"$OUT/raw/$id.server.log" 2>&1 </dev/null &
        SRV_PID=$!
        for _ in $(seq 1 100); do
            port_busy "$BP_PORT" && break
            kill -0 "$SRV_PID" 2>/dev/null || break
            sleep 0.05
        done
        if ! port_busy "$BP_PORT" || ! kill -0 "$SRV_PID" 2>/dev/null; then
            log "blindpad did not start; see $OUT/raw/$id.server.log"; stop_blindpad; return 1
        fi
        PIDS=$SRV_PID MAIN_PID=$SRV_PID URL=ws://127.0.0.1:$BP_PORT/
        ;;
    floor|floor-proto|floor-sig)  # bench/kfloor and sfloor fork their own relay, on the server's CPUs
        PIDS=- MAIN_PID=- URL=-
        ;;
    ref)
        local out
        if ! out=$(REF_FRESH=1 taskset -c "$aff" "$REFSH" start "$REF_DIR" 2>&1); then
            log "reference did not start: $out"
            REF_UP=1; stop_reference; return 1
        fi
        REF_UP=1
        MAIN_PID=$(echo "$out" | tail -1)
        local all p
        all=$(descendants "$MAIN_PID")
        for p in $all; do taskset -a -p -c "$aff" "$p" >/dev/null 2>&1 || log "taskset failed on pid $p"; done
        PIDS=$(echo $all | tr ' ' ,)
        URL=ws://127.0.0.1:$REF_WS_PORT/
        ;;
    *) die "unknown variant $v" ;;
    esac
}
descendants() {
    local p=$1 c
    echo "$p"
    for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do descendants "$c"; done
}
stop_server() {
    case $1 in
    ref) stop_reference
         cp "$REF_DIR/.reference.log" "$OUT/raw/$2.server.log" 2>/dev/null || true ;;
    floor*) rm -rf "${TMP:?}/$2" ;;   # floor-proto's and floor-sig's log directory
    *) stop_blindpad; rm -rf "${TMP:?}/$2" ;;
    esac
}

# ---------------------------------------------------------------- runs
# applies VARIANT CASE: the S1 floors exist for s1a only, the signature floor for s4 only
applies() {
    case $1 in
    floor-sig) [ "${2#s4-}" != "$2" ] ;;
    floor*) [ "${2#s1a-}" != "$2" ] ;;
    *) true ;;
    esac
}
NRUNS=0
for n in "${CASE_NAMES[@]}"; do
    for v in $VARIANTS; do applies "$v" "$n" && NRUNS=$((NRUNS + REPS)); done
done
I=0 FAILED=0 T0=$(date +%s)
log "output: $OUT"
log "$NRUNS runs: ${#CASE_NAMES[*]} cases x $REPS reps x variants ($VARIANTS)"
for n in "${CASE_NAMES[@]}"; do
    if [ "${CASE_PIN[$n]}" = pinned ]; then AFF_SRV=$PIN_SRV; else AFF_SRV=$ALL_CPUS; fi
    limit=$(( ${CASE_DUR[$n]} + TIMEOUT_SLACK ))
    for rep in $(seq 1 "$REPS"); do
        # the order rotates with the repetition (rep 1: a b c, rep 2: b c a, ...): a variant
        # that always ran first, right after the previous repetition's reference (and the memory
        # node freed, which this VM hands back to the host: PERFORMANCE.md), would carry that
        # bias in every repetition
        set -- $VARIANTS
        k=$(( (rep - 1) % $# ))
        ORDER="${*:k+1} ${*:1:k}"
        for v in $ORDER; do
            applies "$v" "$n" || continue
            I=$((I + 1))
            id=$n.$v.r$rep
            json=json/$id.json
            log "($I/$NRUNS) $id: ${CASE_TITLE[$n]}"
            if ! start_server "$v" "$AFF_SRV" "$id"; then
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$v" "$rep" "-" "server-start-failed" "" "" "" \
                    "$AFF_SRV" "$PIN_LG" "" >>"$OUT/runs.tsv"
                FAILED=$((FAILED + 1)); continue
            fi
            if [ "$v" = floor-sig ]; then
                mkdir -p "$TMP/$id"
                cmd=(taskset -c "$PIN_LG" "$SF_BIN" --relay-cpus "$AFF_SRV" --client-cpu "$PIN_LG" ${CASE_ARGS[$n]}
                     --append "$TMP/$id")
            elif [ "${v#floor}" != "$v" ]; then
                cmd=(taskset -c "$PIN_LG" "$KF_BIN" --relay-cpu "${AFF_SRV%%,*}" --client-cpu "$PIN_LG" ${CASE_ARGS[$n]})
                if [ "$v" = floor-proto ]; then
                    mkdir -p "$TMP/$id"
                    cmd+=(--ack --append "$TMP/$id")
                fi
            else
                cmd=(taskset -c "$PIN_LG" "$LG_BIN" --url "$URL" --server-pid "$PIDS" --seed "$SEED" ${CASE_ARGS[$n]})
                taskset -c "$PIN_LG" python3 "$BENCH/compare.py" sample "$OUT/json/$id.procs.json" "$PIDS" "$MAIN_PID" &
                SAMPLER_PID=$!
                for _ in $(seq 1 250); do    # loadgen starts after the sampler's first sample
                    [ -e "$OUT/json/$id.procs.json.ready" ] && break
                    kill -0 "$SAMPLER_PID" 2>/dev/null || break
                    sleep 0.02
                done
                rm -f "$OUT/json/$id.procs.json.ready"
            fi
            rc=0
            # in the background + wait, so that a signal to this script is handled at once
            timeout --kill-after=10 "$limit" "${cmd[@]}" >"$OUT/$json" 2>"$OUT/raw/$id.loadgen.err" </dev/null &
            LG_PID=$!
            wait "$LG_PID" || rc=$?
            LG_PID=""
            stop_sampler
            stop_server "$v" "$id"
            status=ok
            if [ ! -s "$OUT/$json" ] || ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$OUT/$json" 2>/dev/null; then
                status=no-json; rm -f "$OUT/$json"; json=""
            elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status=timeout
            elif [ "$rc" != 0 ]; then status=rc$rc
            fi
            [ "$status" = ok ] || { FAILED=$((FAILED + 1)); log "  $id: $status (loadgen rc $rc; see raw/$id.loadgen.err)"; }
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$v" "$rep" "$rc" "$status" "$json" "$PIDS" \
                "$MAIN_PID" "$AFF_SRV" "$PIN_LG" "${cmd[*]}" >>"$OUT/runs.tsv"
            [ -n "$json" ] && python3 "$BENCH/compare.py" oneline "$OUT/$json" >&2 || true
        done
    done
done
log "all runs done in $(( $(date +%s) - T0 ))s, $FAILED failed"

# ---------------------------------------------------------------- summary and plot
python3 "$BENCH/compare.py" summarize "$OUT" || die "summarize failed"
if command -v gnuplot >/dev/null && [ -s "$OUT/s1a.dat" ]; then
    gnuplot -e "datafile='$OUT/s1a.dat'; outfile='$OUT/latency_vs_load.png'; cpufile='$OUT/cpu_vs_load.png'; s1desc='$S1_CHANNELS channels x $S1_USERS users, $MSG_SIZE B'" \
        "$BENCH/plot.gp" 2>"$OUT/raw/gnuplot.log" || log "gnuplot failed; see $OUT/raw/gnuplot.log"
fi
log "summary: $OUT/summary.md"
cat "$OUT/summary.md" >&2
exit 0
