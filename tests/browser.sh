#!/bin/bash
# SPDX-License-Identifier: MIT
# The web app's test suites, run by tests/run.sh (suite "browser"):
#
#   tests/browser.sh check        svelte-check: the app's TypeScript and Svelte diagnostics
#   tests/browser.sh vitest       the unit tests of web/src (Vitest)
#   tests/browser.sh playwright   the browser tests of web/tests/e2e against a real server
#
# For Playwright it makes a fresh database in the test cluster that tests/run.sh started
# (MESHHOOK_SUPER_DATABASE_URL...), migrates it, starts `meshhook serve` on a free port with
# sign-up enabled (tests make their own users) and a throwaway key-encryption key, runs the
# tests in Debian's Chromium, stops the server (a sanitizer report or a non-zero exit fails the
# suite) and prints the harness's summary line: `browser/<suite>: N passed, N failed, N skipped`.
# Screenshots are written to build/screenshots/ (docs/ui.md). Beside it, an API-only instance
# (`--workers 0`) on a second database, whose runs stay queued until a test starts workers on it
# (MH_API_ONLY_*; run-detail.spec.ts).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
what=${1:?vitest or playwright}
# Reports and logs go to tests/run.sh's log directory; run alone, to one removed on exit.
own_tmp=""
if [ -n "${MH_IT_TMP:-}" ]; then
    TMP=$MH_IT_TMP
else
    TMP=$(mktemp -d /tmp/meshhook-browser.XXXXXX)
    own_tmp=$TMP
fi
server=""
split_server=""
cleanup() {
    for pid in "$server" "$split_server"; do
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            wait "$pid"
        fi
    done
    [ -n "$own_tmp" ] && rm -rf "$own_tmp"
}
trap cleanup EXIT

summary() { # label passed failed skipped
    echo "browser/$1: $2 passed, $3 failed, $4 skipped"
}

# Counts from a reporter's JSON with node: prints "passed failed skipped".
counts() { # kind file
    node -e '
        const fs = require("fs");
        const [kind, file] = process.argv.slice(1);
        let r;
        try { r = JSON.parse(fs.readFileSync(file, "utf8")); } catch { console.log("0 1 0"); process.exit(0); }
        if (kind === "vitest") {
            console.log(r.numPassedTests, r.numFailedTests, (r.numPendingTests || 0) + (r.numTodoTests || 0));
        } else {
            const s = r.stats || {};
            const errors = (r.errors || []).length;
            console.log(s.expected || 0, (s.unexpected || 0) + (s.flaky || 0) + errors, s.skipped || 0);
        }' "$1" "$2"
}

if [ ! -x web/node_modules/.bin/vitest ]; then
    echo "web/node_modules is missing: run make first"
    summary "$what" 0 1 0
    exit 1
fi

if [ "$what" = check ]; then
    # One case: no error and no warning anywhere in the app.
    (cd web && npx --no-install svelte-kit sync && npx --no-install svelte-check \
        --tsconfig ./tsconfig.json --threshold warning --output human)
    rc=$?
    if [ "$rc" -eq 0 ]; then summary svelte-check 1 0 0; else summary svelte-check 0 1 0; fi
    exit "$rc"
fi

if [ "$what" = vitest ]; then
    (cd web && npx --no-install vitest run --reporter=default --reporter=json \
        --outputFile.json="$TMP/vitest.json")
    rc=$?
    read -r p f s < <(counts vitest "$TMP/vitest.json")
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    summary vitest "$p" "$f" "$s"
    exit "$rc"
fi

[ "$what" = playwright ] || { echo "usage: tests/browser.sh check|vitest|playwright" >&2; exit 2; }
BIN=${MH_MESHHOOK_BIN:-$ROOT/build/asan/meshhook}
CHROMIUM=${MH_CHROMIUM:-/usr/bin/chromium}
if [ -z "${MESHHOOK_SUPER_DATABASE_URL:-}" ]; then
    echo "no test PostgreSQL cluster: run through tests/run.sh browser"
    summary playwright 0 0 1
    exit 0
fi
if [ ! -x "$CHROMIUM" ]; then
    echo "$CHROMIUM is missing (apt-get install chromium; make test installs it)"
    summary playwright 0 1 0
    exit 1
fi

db="browser_$$_$(date +%s)"
with_db() { # URL -> the same URL naming database $db
    echo "$1" | sed -E "s|^postgresql:///[^?]*|postgresql:///$db|"
}
psql -q -X -v ON_ERROR_STOP=1 "$MESHHOOK_SUPER_DATABASE_URL" -c "CREATE DATABASE $db OWNER meshhook" ||
    { summary playwright 0 1 0; exit 1; }
export MESHHOOK_DATABASE_URL MESHHOOK_ADMIN_DATABASE_URL
MESHHOOK_DATABASE_URL=$(with_db "$MESHHOOK_DATABASE_URL")
MESHHOOK_ADMIN_DATABASE_URL=$(with_db "$MESHHOOK_ADMIN_DATABASE_URL")
if ! "$BIN" migrate >"$TMP/browser-migrate.log" 2>&1; then
    cat "$TMP/browser-migrate.log"
    summary playwright 0 1 0
    exit 1
fi

# A second database served by an API-only instance (`--workers 0`, and no pure prefix decided in
# the intake, so that a run waits queued for its first step; the split deployment of
# docs/operations.md): a run it accepts stays queued until the test starts a server with workers
# on that database (run-detail.spec.ts), so the run page's queued state can be seen.
split_db="${db}_split"
psql -q -X -v ON_ERROR_STOP=1 "$MESHHOOK_SUPER_DATABASE_URL" -c "CREATE DATABASE $split_db OWNER meshhook" ||
    { summary playwright 0 1 0; exit 1; }
SPLIT_DATABASE_URL=$(echo "$MESHHOOK_DATABASE_URL" | sed -E "s|^postgresql:///[^?]*|postgresql:///$split_db|")
SPLIT_ADMIN_URL=$(echo "$MESHHOOK_ADMIN_DATABASE_URL" | sed -E "s|^postgresql:///[^?]*|postgresql:///$split_db|")
if ! MESHHOOK_ADMIN_DATABASE_URL=$SPLIT_ADMIN_URL "$BIN" migrate >>"$TMP/browser-migrate.log" 2>&1; then
    cat "$TMP/browser-migrate.log"
    summary playwright 0 1 0
    exit 1
fi

# The targets of the tests' http_calls are small servers on loopback, which http_call refuses by
# default: loopback is allow-listed, as the integration tests do (tests/integration/itest.c).
export MESHHOOK_KEK MESHHOOK_KEK_ID=browser-1 MESHHOOK_OUTBOUND_ALLOWLIST=127.0.0.1/32
export MESHHOOK_LOG_FORMAT=text
MESHHOOK_KEK=$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')
port=$(sh scripts/free-port.sh)
log="$TMP/browser-server.log"
"$BIN" serve --port "$port" --bind-address 127.0.0.1 --allow-signup --workers 2 \
    --stats-interval-ms 300 --stats-lag-ms 1000 >"$log" 2>&1 &
server=$!
split_port=$(sh scripts/free-port.sh)
split_log="$TMP/browser-api-only-server.log"
MESHHOOK_DATABASE_URL=$SPLIT_DATABASE_URL MESHHOOK_ADMIN_DATABASE_URL=$SPLIT_ADMIN_URL "$BIN" serve --port "$split_port" \
    --bind-address 127.0.0.1 --allow-signup --workers 0 --intake-pure-prefix=false >"$split_log" 2>&1 &
split_server=$!
stop_server() {
    local rc=0
    for pid in "$server" "$split_server"; do
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            wait "$pid" || rc=$?
        fi
    done
    return $rc
}

ready=0
for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null &&
        curl -fsS -o /dev/null "http://127.0.0.1:$split_port/readyz" 2>/dev/null; then
        ready=1
        break
    fi
    kill -0 "$server" 2>/dev/null && kill -0 "$split_server" 2>/dev/null || break
    sleep 0.1
done
if [ "$ready" -ne 1 ]; then
    echo "the servers did not become ready:"
    tail -n 40 "$log" "$split_log"
    summary playwright 0 1 0
    exit 1
fi

export MH_BASE_URL="http://127.0.0.1:$port" MH_CHROMIUM="$CHROMIUM"
# What the queued-run test needs: the API-only server, its database, and the binary to start
# workers with.
export MH_API_ONLY_BASE_URL="http://127.0.0.1:$split_port" MH_API_ONLY_DATABASE_URL="$SPLIT_DATABASE_URL"
export MH_API_ONLY_ADMIN_DATABASE_URL="$SPLIT_ADMIN_URL"
export MH_MESHHOOK_BIN="$BIN"
export MH_PW_JSON="$TMP/playwright.json" MH_PW_OUTPUT="$TMP/playwright-output"
export MH_SCREENSHOTS="$ROOT/build/screenshots"
(cd web && npx --no-install playwright test ${MH_PW_FILTER:+"$MH_PW_FILTER"})
rc=$?
read -r p f s < <(counts playwright "$MH_PW_JSON")

stop_server
src=$?
server=""
split_server=""
if [ "$src" -ne 0 ] || grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" "$split_log"; then
    echo "FAIL a server exited with status $src or reported a sanitizer error:"
    grep -E -A30 'Sanitizer|runtime error:' "$log" "$split_log" | head -n 60
    f=$((f + 1))
fi
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1
fi
summary playwright "$p" "$f" "$s"
[ "$f" -eq 0 ]
