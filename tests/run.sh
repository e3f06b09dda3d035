#!/usr/bin/env bash
# The whole test suite (what `make test` and .ci/run run):
#   1. build (gcc, -Werror), unit tests (cmocka), integration tests
#      (tests/integration/*.sh and the Node conformance suite against the real
#      server on loopback);
#   2. the same unit and integration tests again in an ASan+UBSan build;
#   3. the fuzz targets replayed over their committed corpora (clang);
#   4. with BLINDPAD_CLIENT_TREE=<CryptPad client tree>, CryptPad's real web
#      client driven in headless Chromium against the gcc build
#      (tests/browser/run.sh; skipped, with the reason printed, otherwise).
# Every step's counts are added up; the last line is "N passed, N failed".
#
#   tests/run.sh [--unit-only] [--build DIR] [--no-sanitizers] [--no-conformance]
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
UNIT_ONLY=0; SAN=1; CONF=1; BUILD_DIRS=()
while [ $# -gt 0 ]; do
    case "$1" in
    --unit-only) UNIT_ONLY=1; SAN=0 ;;
    --build) BUILD_DIRS+=("$2"); shift ;;
    --no-sanitizers) SAN=0 ;;
    --no-conformance) CONF=0 ;;
    *) echo "usage: $0 [--unit-only] [--build DIR] [--no-sanitizers] [--no-conformance]" >&2; exit 2 ;;
    esac
    shift
done
export BP_VECTORS="${BP_VECTORS:-$ROOT/../shared/vectors}"
PASSED=0; FAILED=0; FAILS=()
LOGDIR=$(mktemp -d /tmp/blindpad-tests.XXXXXX)
JOBS=$(nproc 2>/dev/null || echo 2)

count() { # name passed failed
    PASSED=$((PASSED + $2)); FAILED=$((FAILED + $3))
    [ "$3" -gt 0 ] && FAILS+=("$1")
    printf '%-58s %4d passed, %d failed\n' "$1" "$2" "$3"
}

# cmocka: "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s), listed below:"
run_unit() { # build-dir label
    local b=$1 label=$2
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] || continue
        local log="$LOGDIR/$(basename "$t")-$label.log"
        timeout 300 "$t" >"$log" 2>&1
        local rc=$?
        local p f
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
        p=${p:-0}; f=${f:-0}
        if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed, sanitizer report, timeout
        [ "$f" -gt 0 ] && { echo "---- $log"; tail -40 "$log"; }
        count "unit $(basename "$t") [$label]" "$p" "$f"
    done
}

# Integration scripts print "N passed, N failed" as their last line.
run_integration() { # server-binary label
    local bin=$1 label=$2
    for s in tests/integration/*.sh; do
        [ -f "$s" ] || continue
        local log="$LOGDIR/$(basename "$s" .sh)-$label.log"
        BLINDPAD_BIN="$bin" timeout 600 bash "$s" >"$log" 2>&1
        local rc=$?
        local line p f
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
        p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p'); p=${p:-0}
        f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p'); f=${f:-0}
        if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
        [ "$f" -gt 0 ] && { echo "---- $log"; tail -40 "$log"; }
        count "integration $(basename "$s") [$label]" "$p" "$f"
    done
    if [ $CONF -eq 1 ] && [ -f tests/conformance/run.sh ]; then
        local log="$LOGDIR/conformance-$label.log"
        BLINDPAD_BIN="$bin" timeout 900 bash tests/conformance/run.sh >"$log" 2>&1
        local rc=$?
        local p f
        p=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$log" | tail -1); p=${p:-0}
        f=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$log" | tail -1); f=${f:-0}
        if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
        [ "$f" -gt 0 ] && { echo "---- $log"; grep -E '^not ok|# (pass|fail)' "$log" | head -40; tail -60 "$log"; }
        count "conformance (real CryptPad JS clients) [$label]" "$p" "$f"
    fi
}

run_browser() { # server-binary
    [ -f tests/browser/run.sh ] || return 0
    local log="$LOGDIR/browser.log"
    BLINDPAD_BIN="$1" timeout 900 bash tests/browser/run.sh "${BLINDPAD_CLIENT_TREE:-}" >"$log" 2>&1
    local rc=$?
    local skip line p f
    skip=$(grep -m1 '^skipped:' "$log")
    if [ -n "$skip" ] && [ $rc -eq 0 ]; then
        echo "browser flow (real CryptPad web client): $skip"
        return 0
    fi
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p'); p=${p:-0}
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p'); f=${f:-0}
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    [ "$f" -gt 0 ] && { echo "---- $log"; tail -60 "$log"; }
    count "browser flow (real CryptPad web client) [gcc]" "$p" "$f"
}

build() { # make args...
    local name="build${*:+-$*}"
    name=${name//[ \/=]/_}
    local log="$LOGDIR/$name.log"
    if ! make -j"$JOBS" "$@" all >"$log" 2>&1; then
        tail -40 "$log"; count "build $*" 0 1; return 1
    fi
    count "build $*" 1 0
}

if [ ${#BUILD_DIRS[@]} -gt 0 ]; then
    for b in "${BUILD_DIRS[@]}"; do run_unit "$b" "$(basename "$b")"; done
else
    if build; then
        run_unit build gcc
        [ $UNIT_ONLY -eq 0 ] && run_integration "$ROOT/build/blindpad-server" gcc
        [ $UNIT_ONLY -eq 0 ] && run_browser "$ROOT/build/blindpad-server"
    fi
    if command -v clang >/dev/null 2>&1; then
        build CC=clang BUILD=build/clang
    fi
    if [ $SAN -eq 1 ]; then
        if build SANITIZER=address; then
            export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
            export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
            run_unit build/address asan+ubsan
            run_integration "$ROOT/build/address/blindpad-server" asan+ubsan
            unset ASAN_OPTIONS UBSAN_OPTIONS
        fi
    fi
    if [ $UNIT_ONLY -eq 0 ] && command -v clang >/dev/null 2>&1 && ls fuzz/fuzz_*.c >/dev/null 2>&1; then
        log="$LOGDIR/fuzz-build.log"
        if make -j"$JOBS" $(ls fuzz/fuzz_*.c | sed 's#fuzz/\(.*\)\.c#build/fuzz/\1#') >"$log" 2>&1; then
            for f in build/fuzz/fuzz_*; do
                [ -x "$f" ] || continue
                n=$(basename "$f")
                flog="$LOGDIR/$n-replay.log"
                if [ -d "fuzz/corpus/$n" ]; then
                    "$f" -runs=0 "fuzz/corpus/$n" >"$flog" 2>&1 && count "fuzz replay $n" 1 0 || { tail -30 "$flog"; count "fuzz replay $n" 0 1; }
                fi
                # a short bounded run on top, to catch regressions early (make fuzz runs long)
                mkdir -p "$LOGDIR/corpus-$n"
                "$f" -max_total_time=15 -timeout=10 -rss_limit_mb=2048 "$LOGDIR/corpus-$n" "fuzz/corpus/$n" >"$flog" 2>&1 \
                    && count "fuzz 15s $n" 1 0 || { tail -30 "$flog"; count "fuzz 15s $n" 0 1; }
            done
        else
            tail -30 "$log"; count "fuzz build" 0 1
        fi
    fi
fi
echo
[ ${#FAILS[@]} -gt 0 ] && printf 'failed: %s\n' "${FAILS[@]}"
echo "logs: $LOGDIR"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
