#!/bin/bash
# The test command behind `make test` and .ci/run. Runs the static checks (clang-format, banned
# functions, clang-tidy, the clang static analyzer), the unit tests of both builds (release, and
# ASan+UBSan+LSan), then the integration tests against the sanitizer binary and a throwaway
# PostgreSQL cluster that this script starts in a temporary directory and
# removes on exit, whatever happens; with them, the tests of the queue, the workers and the
# intake's group commit again against a ThreadSanitizer server (build/tsan/meshhook), which exits
# 66 on any report and so fails its test, and the pool's test (itest_db_pool: more committers than
# connections, in-process) built with ThreadSanitizer itself; MH_TEST_JOBS (default 2) of these
# harnesses run at a time. Then the web app's Vitest and Playwright suites (tests/browser.sh).
# Ends with the slowest cases and one line: `N passed, N failed, N skipped`.
#
#   tests/run.sh [all|checks|unit|integration|browser] [test-binary-name-filter]
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SUITE=${1:-all}
FILTER=${2:-}
export MH_REPO_DIR="$ROOT"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"

passed=0
failed=0
skipped=0
failures=()
LOGDIR=$(mktemp -d /tmp/meshhook-test-logs.XXXXXX)

record() { # name status
    case "$2" in
    pass) passed=$((passed + 1)) ;;
    skip) skipped=$((skipped + 1)) ;;
    *) failed=$((failed + 1)); failures+=("$1") ;;
    esac
}

log_of() { echo "$LOGDIR/$(echo "$1" | tr '/ ' '__').log"; }

# Runs a harness (`command...`) into `log`; then writes `log`.rc: its exit status and seconds.
exec_harness() {
    local log=$1
    shift
    local t0=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$?
    echo "$rc $((SECONDS - t0))" >"$log.rc.tmp" && mv "$log.rc.tmp" "$log.rc"
}

# Prints what a finished harness said and adds its own summary line to the totals; false when
# it failed.
report_harness() {
    local label=$1 log
    log=$(log_of "$label")
    local rc took
    read -r rc took <"$log.rc"
    echo "== $label"
    grep -vE '^ok   ' "$log" | grep -vE ': [0-9]+ passed, [0-9]+ failed' | head -n 200
    local line
    line=$(grep -E ': [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL $label: exited $rc without a summary"
        tail -n 30 "$log"
        record "$label" fail
        return 1
    fi
    echo "$line (${took} s)"
    local p f s
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -E 's/.* ([0-9]+) skipped$/\1/')
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    if [ "$f" -gt 0 ] || [ "$rc" -ne 0 ]; then
        failures+=("$label")
        if [ "$f" -eq 0 ]; then
            failed=$((failed + 1))
            echo "FAIL $label: exit status $rc"
            tail -n 30 "$log"
        fi
        return 1
    fi
}

# Runs one harness binary now and reports it.
run_harness() {
    local label=$1
    shift
    exec_harness "$(log_of "$label")" "$@"
    report_harness "$label"
}

# The integration harnesses mostly wait (on servers, timers, the database: a third of two cores
# busy when run one at a time), so they run MH_TEST_JOBS at a time (default 2), each test in its
# own database and on its own ports, and are reported in the order they were queued as each
# finishes. pool_add LABEL [VAR=value...] COMMAND...; pool_finish waits for the rest.
POOL_JOBS=${MH_TEST_JOBS:-2}
pool_labels=()
pool_next=0
pool_report_ready() {
    while [ "$pool_next" -lt "${#pool_labels[@]}" ]; do
        local label=${pool_labels[$pool_next]}
        [ -f "$(log_of "$label").rc" ] || return 0
        report_harness "$label" || pool_failed "$label"
        pool_next=$((pool_next + 1))
    done
}
pool_add() {
    local label=$1
    shift
    while [ "$(jobs -rp | wc -l)" -ge "$POOL_JOBS" ]; do
        wait -n
        pool_report_ready
    done
    (exec_harness "$(log_of "$label")" env "$@") &
    pool_labels+=("$label")
    pool_report_ready
}
pool_finish() {
    while [ "$pool_next" -lt "${#pool_labels[@]}" ]; do
        wait -n 2>/dev/null || sleep 0.2
        pool_report_ready
    done
}
# What a failed harness of the pool leaves to show: a ThreadSanitizer server's reports, written
# to tsan/<name>/r.* in the log directory.
pool_failed() {
    case "$1" in
    tsan/*) cat "$LOGDIR/tsan/${1#tsan/}"/r.* 2>/dev/null | head -n 80 ;;
    esac
}

want() { [ -z "$FILTER" ] || [[ "$1" == *"$FILTER"* ]]; }

if [ "$SUITE" = all ] || [ "$SUITE" = checks ]; then
    echo "== checks"
    if clang-format --dry-run -Werror $(git ls-files '*.c' '*.h') >"$LOGDIR/format.log" 2>&1; then
        echo "ok   clang-format"
        record format pass
    else
        head -n 40 "$LOGDIR/format.log"
        echo "FAIL clang-format (run: make format)"
        record format fail
    fi
    banned='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|rand|system)[[:space:]]*\('
    if git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c' |
        xargs grep -nE "$banned" >"$LOGDIR/banned.log" 2>/dev/null; then
        cat "$LOGDIR/banned.log"
        echo "FAIL banned functions"
        record banned fail
    else
        echo "ok   banned functions"
        record banned pass
    fi
    # The systemd unit as `make install` writes it (packaging/): staged with DESTDIR (the unit
    # names $(PREFIX)/bin/meshhook, not the staging path), then installed under a temporary
    # PREFIX and checked by systemd itself, which also requires the binary it names to exist.
    if command -v systemd-analyze >/dev/null 2>&1 && [ -x build/release/meshhook ]; then
        inst=$(mktemp -d /tmp/meshhook-install.XXXXXX)
        if make -s install DESTDIR="$inst/stage" PREFIX=/usr >"$LOGDIR/install.log" 2>&1 &&
            [ -x "$inst/stage/usr/bin/meshhook" ] &&
            grep -qx 'ExecStart=/usr/bin/meshhook serve' \
                "$inst/stage/usr/lib/systemd/system/meshhook.service" &&
            make -s install PREFIX="$inst/prefix" >>"$LOGDIR/install.log" 2>&1 &&
            SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
                "$inst/prefix/lib/systemd/system/meshhook.service" >>"$LOGDIR/install.log" 2>&1 &&
            ! grep -q . "$LOGDIR/install.log"; then
            echo "ok   systemd unit (make install, systemd-analyze verify)"
            record systemd-unit pass
        else
            cat "$LOGDIR/install.log"
            echo "FAIL systemd unit (make install, systemd-analyze verify)"
            record systemd-unit fail
        fi
        rm -rf "$inst"
    else
        echo "FAIL systemd unit: systemd-analyze and a release build (make) are needed"
        record systemd-unit fail
    fi
    # clang-tidy with the checks of .clang-tidy (chosen and justified there); any finding fails.
    if command -v clang-tidy >/dev/null 2>&1; then
        if sh scripts/tidy.sh >"$LOGDIR/tidy.log" 2>&1; then
            echo "ok   clang-tidy"
            record clang-tidy pass
        else
            head -n 60 "$LOGDIR/tidy.log"
            echo "FAIL clang-tidy"
            record clang-tidy fail
        fi
    else
        echo "FAIL clang-tidy: clang-tidy is needed (make test installs it)"
        record clang-tidy fail
    fi
    # The clang static analyzer over the whole library, from scratch (an incremental build would
    # analyze only what changed). Any report fails the check; the HTML reports stay in the log
    # directory while the run lasts, and their one-line summaries are printed.
    if command -v scan-build >/dev/null 2>&1 && command -v clang >/dev/null 2>&1; then
        rm -rf build/scan
        if scan-build -o "$LOGDIR/scan" --status-bugs make -s -j2 VARIANT=scan CC=clang \
            EXTRA_CFLAGS=-Wno-error build/scan/libmeshhook.a >"$LOGDIR/scan.log" 2>&1; then
            echo "ok   scan-build"
            record scan-build pass
        else
            tail -n 5 "$LOGDIR/scan.log"
            for f in "$LOGDIR"/scan/*/report-*.html; do
                [ -f "$f" ] || continue
                grep -o '<!-- BUG\(FILE\|LINE\|DESC\) [^>]*-->' "$f" | sed 's/<!-- BUG//; s/ -->//' |
                    tr '\n' ' '
                echo
            done
            echo "FAIL scan-build"
            record scan-build fail
        fi
    else
        echo "FAIL scan-build: clang and clang-tools are needed (make test installs them)"
        record scan-build fail
    fi
fi

if [ "$SUITE" = all ] || [ "$SUITE" = unit ]; then
    for variant in release asan; do
        for t in build/$variant/tests/unit/test_*; do
            [ -x "$t" ] || continue
            want "$t" || continue
            run_harness "$variant/$(basename "$t")" "$t"
        done
    done
fi

PGDIR=""
cleanup() {
    if [ -n "$PGDIR" ]; then
        sh "$ROOT/scripts/pg.sh" stop "$PGDIR"
        rm -rf "$PGDIR"
    fi
    rm -rf "$LOGDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts the throwaway cluster once, for the integration and browser suites; false (with the
# failure recorded) when it cannot start.
pg_started=""
start_pg() {
    [ -n "$pg_started" ] && return "$pg_started"
    PGDIR=$(mktemp -d /tmp/meshhook-test-pg.XXXXXX)
    chmod 755 "$PGDIR"
    local port
    port=$(sh scripts/free-port.sh)
    if MH_PG_FAST=1 sh scripts/pg.sh start "$PGDIR" "$port" >"$LOGDIR/pg.log" 2>&1; then
        eval "$(sh scripts/pg.sh urls "$PGDIR" "$port")"
        export MESHHOOK_DATABASE_URL MESHHOOK_ADMIN_DATABASE_URL MESHHOOK_SUPER_DATABASE_URL
        export MH_PG_DIR="$PGDIR" MH_PG_PORT="$port" MH_IT_TMP="$LOGDIR"
        export MH_MESHHOOK_BIN="${MH_MESHHOOK_BIN:-$ROOT/build/asan/meshhook}"
        # A migrated template that each test's database is copied from (tests/integration/
        # itest.c); nobody connects to it afterwards, as CREATE DATABASE ... TEMPLATE requires.
        # Without it, each test migrates its own database.
        if psql -q "$MESHHOOK_SUPER_DATABASE_URL" -c "CREATE DATABASE mh_template OWNER meshhook" \
            >>"$LOGDIR/pg.log" 2>&1 &&
            MESHHOOK_ADMIN_DATABASE_URL=${MESHHOOK_ADMIN_DATABASE_URL/\/\/\/meshhook\?/\/\/\/mh_template?} \
                "$MH_MESHHOOK_BIN" migrate >>"$LOGDIR/pg.log" 2>&1; then
            export MH_IT_TEMPLATE_DB=mh_template
        else
            echo "note: no template database (each test migrates its own): $(tail -n 1 "$LOGDIR/pg.log")"
        fi
        pg_started=0
    else
        cat "$LOGDIR/pg.log"
        echo "FAIL could not start the test PostgreSQL cluster"
        record postgres fail
        pg_started=1
    fi
    return "$pg_started"
}

if [ "$SUITE" = all ] || [ "$SUITE" = integration ]; then
    if start_pg; then
        # Integration cases drive a real server (the crash test restarts it three times): give
        # each up to five minutes before the harness calls it hung.
        export MH_T_TIMEOUT=${MH_T_TIMEOUT:-300}
        # itest_restart restarts the cluster itself: alone, before the others.
        t=build/asan/tests/integration/itest_restart
        if [ -x "$t" ] && want "$t"; then
            run_harness "integration/itest_restart" "$t"
        fi
        tsan_opts() { echo "exitcode=66:halt_on_error=0:suppressions=$ROOT/tests/tsan.supp:log_path=$LOGDIR/tsan/$1/r"; }
        if [ -z "${MH_NO_TSAN:-}" ]; then
            # The threaded parts once more, against a ThreadSanitizer server (queued first: the
            # longest).
            if [ -x build/tsan/meshhook ]; then
                for name in itest_engine itest_intake_async itest_intake_crash; do
                    t=build/asan/tests/integration/$name
                    [ -x "$t" ] && want "$t" || continue
                    mkdir -p "$LOGDIR/tsan/$name"
                    pool_add "tsan/$name" MH_MESHHOOK_BIN="$ROOT/build/tsan/meshhook" \
                        TSAN_OPTIONS="$(tsan_opts "$name")" "$t"
                done
            fi
            # The pool's ownership rule and the intake's group commit with more committers than
            # connections run inside the test process itself: that binary is built with TSan.
            t=build/tsan/tests/integration/itest_db_pool
            if [ -x "$t" ] && want "$t"; then
                mkdir -p "$LOGDIR/tsan/itest_db_pool"
                pool_add "tsan/itest_db_pool" TSAN_OPTIONS="$(tsan_opts itest_db_pool)" "$t"
            fi
        fi
        for t in build/asan/tests/integration/itest_*; do
            [ -x "$t" ] && want "$t" || continue
            [ "$(basename "$t")" = itest_restart ] && continue
            pool_add "integration/$(basename "$t")" "$t"
        done
        pool_finish
    fi
fi

# The web app: svelte-check (types), Vitest for its pure code, then Playwright in Debian's Chromium against the
# sanitizer binary and a database of the same throwaway cluster (tests/browser.sh).
if [ "$SUITE" = all ] || [ "$SUITE" = browser ]; then
    export MH_IT_TMP="$LOGDIR"
    if want svelte-check; then
        run_harness "browser/svelte-check" bash tests/browser.sh check
    fi
    if want vitest; then
        run_harness "browser/vitest" bash tests/browser.sh vitest
    fi
    if want playwright && start_pg; then
        run_harness "browser/playwright" bash tests/browser.sh playwright
    fi
fi

# The slowest cases (the harness prints each one's time), for whoever keeps the suite quick.
slowest=$(grep -H '^ok   .* s)$' "$LOGDIR"/*.log 2>/dev/null |
    sed -E -e 's|^.*/([^/]*)\.log:ok   (.*) \(([0-9.]+) s\)$|\3 \1 \2|' -e 's|^([0-9.]+ [a-z]+)_|\1/|' |
    sort -rn | head -n "${MH_SLOWEST:-8}")
if [ -n "$slowest" ]; then
    echo "slowest cases (s):"
    echo "$slowest" | sed 's/^/  /'
fi
if [ ${#failures[@]} -gt 0 ]; then
    echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
