#!/bin/sh
# SPDX-License-Identifier: MIT
# What one delivery costs, counted rather than timed (docs/BENCHMARKS.md, "The pure prefix on by
# default"): the intake bench's endpoint and 1 KiB signed body, a fixed number of deliveries, and
# for each server setting in turn, on one PostgreSQL cluster:
#
#   - the server's instructions per delivery (valgrind --tool=callgrind, counters zeroed after
#     the warm-up and dumped after the deliveries; the top functions, inclusive, are printed);
#   - PostgreSQL's work per delivery: WAL bytes and records (pg_waldump --stats, by record
#     type), rows inserted, updated and deleted (pg_stat_user_tables, per table), and the
#     transactions committed.
#
# A shared, noisy machine changes rates by a quarter between runs; these counts move by a few
# per cent at most (how deliveries fall into group-commit batches is the only nondeterminism).
#
#   MODES="--intake-pure-prefix=false --intake-pure-prefix=true" N=2000 sh bench/intake/count.sh
#
# Settings through the environment: N (deliveries, default 2000), PARALLEL (concurrent requests,
# default 16), MODES (space-separated; each is one server's extra flags, commas for several:
# "--a=1,--b=2"; "-" for none), TREE (another built checkout to measure), CALLGRIND=0 (skip
# valgrind: the database's counts only, much faster), TOP (functions printed per mode, 25).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
N=${N:-2000}
PARALLEL=${PARALLEL:-16}
MODES=${MODES:-"--intake-pure-prefix=false --intake-pure-prefix=true"}
CALLGRIND=${CALLGRIND:-1}
TOP=${TOP:-25}
bench_tools="curl openssl pgbench"
[ "$CALLGRIND" = 0 ] || bench_tools="$bench_tools valgrind callgrind_annotate callgrind_control"
TREE=${TREE:-$ROOT}
[ "$TREE" != "$ROOT" ] || make -s -j2 build/release/meshhook
BIN="$TREE/build/release/meshhook"

. bench/lib.sh
# shellcheck disable=SC2086
bench_require intake-count $bench_tools
DIR=$BENCH_TMP
bench_cluster_start
"$BIN" migrate >/dev/null
bench_user_create
KEK="bench:$(openssl rand -hex 32)"

db_counts() { # rows ins/upd/del, index tuples, WAL LSN, xacts
    psql_su -F ' ' -c "SELECT (SELECT sum(n_tup_ins) FROM pg_stat_user_tables),
        (SELECT sum(n_tup_upd) FROM pg_stat_user_tables),
        (SELECT sum(n_tup_del) FROM pg_stat_user_tables),
        pg_current_wal_insert_lsn(),
        (SELECT xact_commit FROM pg_stat_database WHERE datname = 'meshhook')"
}

mode_no=0
for mode in $MODES; do
    mode_no=$((mode_no + 1))
    args=$(printf '%s' "$mode" | tr ',' ' ')
    [ "$args" != "-" ] || args=""
    http_port=$(sh scripts/free-port.sh $((PORT + 1)))
    BENCH_BASE="http://127.0.0.1:$http_port"
    wrap=""
    [ "$CALLGRIND" = 0 ] || wrap="valgrind --tool=callgrind --callgrind-out-file=$DIR/cg.$mode_no.%p --dump-instr=no --collect-atstart=yes"
    log="$DIR/server.$mode_no.log"
    # shellcheck disable=SC2086
    $wrap "$BIN" serve --port "$http_port" --bind-address 127.0.0.1 --kek "$KEK" --workers 0 \
        --pool-size 16 --log-level warn $args >>"$log" 2>&1 &
    BENCH_SERVER_PID=$!
    BENCH_SERVERS="$BENCH_SERVERS $BENCH_SERVER_PID"
    i=0
    until curl -sf "$BENCH_BASE/healthz" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -lt 600 ] || { echo "bench intake-count: no server" >&2; tail "$log" >&2; exit 1; }
        sleep 0.1
    done
    if [ "$mode_no" = 1 ]; then
        bench_api_token
        bench_hmac_endpoint
        bench_hmac_load
    fi
    bench_hmac_deliver 200 "$PARALLEL" >/dev/null # warm-up: caches, prepared statements, the endpoint's workflow
    psql_su -c "CHECKPOINT" >/dev/null
    sleep 11 # idle backends flush their statistics after 10 s (PostgreSQL 15)
    set -- $(db_counts)
    ins0=$1 upd0=$2 del0=$3 lsn0=$4 x0=$5
    psql_su -F ' ' -c "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables
        " | LC_ALL=C sort >"$DIR/tables.before"
    [ "$CALLGRIND" = 0 ] || callgrind_control -z "$BENCH_SERVER_PID" >/dev/null
    answers=$(bench_hmac_deliver "$N" "$PARALLEL")
    [ "$CALLGRIND" = 0 ] || callgrind_control -d "$BENCH_SERVER_PID" >/dev/null
    lsn1=$(psql_su -c "SELECT pg_current_wal_insert_lsn()")
    bench_serve_stop "$BENCH_SERVER_PID" # its backends exit and flush their statistics
    sleep 1
    set -- $(db_counts)
    ins1=$1 upd1=$2 del1=$3 x1=$5
    echo
    echo "mode ${mode}: $N deliveries ($answers), $PARALLEL at a time"
    psql_su -F ' ' -c "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')" | awk -v n="$N" -v x=$((x1 - x0)) \
        '{ printf "  %-40s %8.0f bytes; transactions %d (%.1f deliveries each)\n", "WAL per delivery", $1 / n, x, (x > 0 ? n / x : 0) }'
    awk -v n="$N" -v i=$((ins1 - ins0)) -v u=$((upd1 - upd0)) -v d=$((del1 - del0)) \
        'BEGIN { printf "  %-40s %8.2f / %.2f / %.2f\n", "rows inserted / updated / deleted", i / n, u / n, d / n }'
    psql_su -F ' ' -c "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables
        " | LC_ALL=C sort >"$DIR/tables.$mode_no"
    LC_ALL=C join -a 2 -e 0 -o 0,1.2,1.3,1.4,2.2,2.3,2.4 "$DIR/tables.before" "$DIR/tables.$mode_no" |
        awk -v n="$N" '{ i = $5 - $2; u = $6 - $3; d = $7 - $4; if (i + u + d > 0)
            printf "    %-38s %8.2f / %.2f / %.2f\n", $1, i / n, u / n, d / n }'
    as_postgres "$PGBIN/pg_waldump" --stats=record -p "$DIR/pg/data/pg_wal" -s "$lsn0" -e "$lsn1" \
        2>/dev/null | sed 's/( *[0-9.]*)//g' | awk -v n="$N" '
        $2 ~ /^[0-9]+$/ && $1 != "Total" { printf "%d\t    %-38s %8.0f bytes in %.2f records\n",
        $5, "WAL " $1, $5 / n, $2 / n }' | sort -rn | cut -f 2- | head -n 10
    bench_serve_stop "$BENCH_SERVER_PID"
    if [ "$CALLGRIND" != 0 ]; then
        # The dump after the deliveries (the file with the highest part number), then the rest at
        # exit, which holds the shutdown only.
        f=$(ls "$DIR"/cg."$mode_no".*.[0-9]* 2>/dev/null | sort -t. -k4 -n | tail -n 1)
        [ -n "$f" ] || f=$(ls "$DIR"/cg."$mode_no".* | head -n 1)
        total=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
        awk -v t="$total" -v n="$N" 'BEGIN { printf "  %-40s %8.0f\n", "server instructions per delivery", t / n }'
        callgrind_annotate --inclusive=yes "$f" 2>/dev/null | awk -v n="$N" '
            /^-+$/ { sec++; next } sec >= 3 && $1 ~ /^[0-9,]+$/ { v = $1; gsub(",", "", v);
            $1 = ""; $2 = ""; sub(/^ +/, ""); printf "    %9.0f  %s\n", v / n, substr($0, 1, 90) }' |
            head -n "$TOP"
        [ -z "${KEEP_LOGS:-}" ] || { mkdir -p "$KEEP_LOGS"; cp "$f" "$KEEP_LOGS/cg.$mode_no"; }
    fi
done
