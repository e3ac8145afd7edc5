#!/bin/sh
# SPDX-License-Identifier: MIT
# Engine throughput beside PostgreSQL's own commit rate, measured in the same run on the same
# throwaway cluster: pgbench with one insert per transaction (8 clients), then bench_engine for
# the pure 4-node workflow, for one http_call per run, and for the same call with a header
# naming a project secret (http_secret). Prints each figure and the ratios. The http workloads
# run HTTP_RUNS runs each (5,000 by default: 1,000 lasted a third of a second, too short to tell
# a change from this machine's noise).
#
#   [HTTP_RUNS=N] [KINDS="pure http http_secret"] [TREE=DIR] sh bench/engine/run.sh [RUNS] [WORKERS]
#
# KINDS may also name foreach (a for_each over FOREACH_ITEMS (20) items whose body is two
# transforms) and foreach_http (its body one http_call, 8 items at once): HTTP_RUNS runs each,
# reported as items per second too.
#
# TREE: another built checkout to measure (its build/release/meshhook and libmeshhook.a, its
# migrations), with this tree's bench_engine; it is only read (a baseline for before/after).
#
# With ALERTS=1, the pure workload again, alternately with the alert evaluator off and with
# ALERT_RULES (default 60) rules evaluated every second, ROUNDS (default 3) times each; prints
# the best of each side and their ratio (docs/BENCHMARKS.md, "Alert evaluation").
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
RUNS=${1:-20000}
WORKERS=${2:-4}
TREE=${TREE:-$ROOT}
if [ "$TREE" = "$ROOT" ]; then
    make -s -j2 build/release/meshhook build/release/libmeshhook.a
fi
. bench/lib.sh
BIN=$TREE/build/release/meshhook
BENCH=$BENCH_TMP/bench_engine
# A tree from before src/runtime/ has the run store at engine/store.h.
SHIM=$BENCH_TMP/shim
mkdir -p "$SHIM/runtime"
[ -f "$TREE/src/runtime/store.h" ] || echo '#include "engine/store.h"' >"$SHIM/runtime/store.h"
# shellcheck disable=SC2046,SC2086
cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I"$TREE/src" -I"$SHIM" -Itests/integration \
    $(pkg-config --cflags jansson libpq) bench/engine/bench_engine.c tests/integration/mock_http.c \
    "$TREE/build/release/libmeshhook.a" $(pkg-config --libs $BENCH_PKGS) -lm -pthread -o "$BENCH"

bench_cluster_start
MESHHOOK_ADMIN_DATABASE_URL=$MESHHOOK_ADMIN_DATABASE_URL "$BIN" migrate >/dev/null

cat >"$PGDIR/insert.sql" <<SQL
INSERT INTO pgbench_events (run_id, seq, payload) VALUES (gen_random_uuid(), 1, '{"type": "step_succeeded", "node": "prep", "output": {"order": 1, "amount": 150}}');
SQL
run_psql -q -h "$PGDIR/run" -p "$PORT" -U postgres -d meshhook \
    -c "CREATE TABLE pgbench_events (run_id uuid, seq int, payload jsonb, at timestamptz DEFAULT now())" \
    -c "GRANT pg_checkpoint TO meshhook"
TPS=$(run_pgbench -n -h "$PGDIR/run" -p "$PORT" -U postgres -c 8 -j 2 -T 10 -f "$PGDIR/insert.sql" meshhook 2>/dev/null |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
echo "pgbench one-insert transactions: tps=$TPS (8 clients, 10 s)"

for kind in ${KINDS:-pure http http_secret}; do
    n=$RUNS
    [ "$kind" != pure ] && n=${HTTP_RUNS:-5000}
    line=$("$BENCH" "$BIN" "$MESHHOOK_ADMIN_DATABASE_URL" \
        "$MESHHOOK_DATABASE_URL" "$kind" "$n" "$WORKERS")
    echo "$line"
    rate=$(echo "$line" | sed -n 's/.*runs_per_s=\([0-9.]*\).*/\1/p')
    echo "  ratio to pgbench: $(awk -v a="$rate" -v b="$TPS" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
done

if [ "${ALERTS:-0}" = 1 ]; then
    best_off=0
    best_on=0
    i=0
    while [ "$i" -lt "${ROUNDS:-3}" ]; do
        for rules in 0 "${ALERT_RULES:-60}"; do
            line=$(MH_BENCH_ALERT_RULES=$rules "$BENCH" "$BIN" \
                "$MESHHOOK_ADMIN_DATABASE_URL" "$MESHHOOK_DATABASE_URL" pure "$RUNS" "$WORKERS")
            echo "alert rules=$rules: $line"
            rate=$(echo "$line" | sed -n 's/.*runs_per_s=\([0-9.]*\).*/\1/p')
            if [ "$rules" = 0 ]; then
                best_off=$(awk -v a="$rate" -v b="$best_off" 'BEGIN { print (a > b ? a : b) }')
            else
                best_on=$(awk -v a="$rate" -v b="$best_on" 'BEGIN { print (a > b ? a : b) }')
            fi
        done
        i=$((i + 1))
    done
    echo "alert evaluation: best off $best_off runs/s, best on $best_on runs/s, ratio $(awk -v a="$best_on" -v b="$best_off" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
fi
