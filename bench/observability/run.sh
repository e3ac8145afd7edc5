#!/bin/sh
# SPDX-License-Identifier: MIT
# What observability costs the hot paths (issue #16; docs/BENCHMARKS.md, "Observability on and
# off"): in ONE run, on one private PostgreSQL cluster, the same measurements with everything off
# and with everything on, alternated ROUNDS times (the order flipped every round) so that the
# machine's drift hits both sides alike:
#
#   off: MESHHOOK_METRICS=false, stats_interval_ms=0 (no rollup), alert_eval_interval_ms=0;
#   on:  metrics on; the statistics rollup every STATS_INTERVAL_MS (1000) with a lag of
#        STATS_LAG_MS (1000), so that its passes fold the very runs and deliveries being
#        measured; ALERT_RULES (60) alert rules, every kind in turn, evaluated every
#        ALERT_EVAL_MS (5000, the server's default alert_eval_interval_ms; 1000 is the stress
#        case of the first measurements, docs/BENCHMARKS.md).
#
#   1. the intake: the release `meshhook serve` with no workers, an HMAC-verified endpoint, wrk
#      with CONNECTIONS connections POSTing a signed 1 KiB body for DURATION seconds. A server
#      without workers runs neither the rollup nor the alert evaluator, so on the "on" side a
#      companion session issues the statements those threads issue (mh_stats_rollup, again at
#      once while it reports more; mh_alerts_evaluate) at the same pace, on one connection
#      whose database CPU is counted;
#   2. the engine: bench_engine's pure 4-node workflow, RUNS runs with WORKERS workers (its own
#      server: metrics, rollup and evaluator switched through the environment and its flags).
#
# Per round it prints each side's throughput and CPU per webhook or run (the server's, from
# /proc, and PostgreSQL's: the postmaster and all its children), the throughput ratio on/off and
# the CPU ratio off/on (server + PostgreSQL: less sensitive than throughput to other load on
# the machine); then the medians (goal >= 0.97). Needs wrk, openssl, curl, python3, psql.
#
# ON ("metrics stats alerts") chooses what the "on" side switches on, to attribute a difference
# to a part (the "off" side has none of them); ON=none makes both sides the same, an A/A
# comparison: how far two identical sides differ on this machine. WORKLOADS ("intake engine")
# chooses what is measured. STATEMENTS=1 loads pg_stat_statements and, after each side, writes
# its most expensive statements (calls, total and mean time) to
# statements.<workload>.<round>.<on|off> in BENCH_KEEP (default: the current directory), to find
# what the "on" side costs PostgreSQL (both sides pay the extension alike).
# bench/observability/count.sh counts instructions instead of timing.
#
#   [ROUNDS=5] [DURATION=8] [CONNECTIONS=64] [RUNS=10000] [WORKERS=4] [WORKLOADS="intake engine"]
#   [ON="metrics stats alerts"] [STATEMENTS=0] sh bench/observability/run.sh
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-64}
RUNS=${RUNS:-10000}
WORKERS=${WORKERS:-4}
STATS_INTERVAL_MS=${STATS_INTERVAL_MS:-1000}
STATS_LAG_MS=${STATS_LAG_MS:-1000}
ALERT_RULES=${ALERT_RULES:-60}
ALERT_EVAL_MS=${ALERT_EVAL_MS:-5000}
WORKLOADS=${WORKLOADS:-intake engine}
ON=${ON:-metrics stats alerts}
has() { # PART: whether the "on" side has PART
    case " $ON " in *" $1 "*) return 0 ;; *) return 1 ;; esac
}
STATEMENTS=${STATEMENTS:-0}
BENCH_KEEP=${BENCH_KEEP:-.}
. bench/lib.sh
bench_require observability wrk openssl curl python3
make -s -j2 build/release/meshhook build/release/libmeshhook.a
BIN="$ROOT/build/release/meshhook"
mkdir -p build/release/bench
bench_build_engine build/release/bench/bench_engine

DIR=$BENCH_TMP
companion_pid=""
stop_companion() {
    if [ -n "$companion_pid" ]; then
        kill -TERM "$companion_pid" 2>/dev/null || true
        wait "$companion_pid" 2>/dev/null || true
        companion_pid=""
    fi
}
bench_on_exit stop_companion

bench_cluster_start
if [ "$STATEMENTS" = 1 ]; then
    psql_su -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
    sh scripts/pg.sh stop "$PGDIR" >/dev/null
    sh scripts/pg.sh start "$PGDIR" "$PORT" >/dev/null
fi
"$BIN" migrate >/dev/null
# After the migrations, in a schema of its own (0001 revokes what public holds).
[ "$STATEMENTS" != 1 ] ||
    psql_su -c "CREATE SCHEMA pgss" -c "CREATE EXTENSION pg_stat_statements SCHEMA pgss" >/dev/null
bench_user_create
KEK="bench:$(openssl rand -hex 32)"
http_port=$(sh scripts/free-port.sh $((PORT + 1)))
BASE="http://127.0.0.1:$http_port"
BENCH_BASE=$BASE

start_server() { # on|off
    if [ "$1" = on ] && has metrics; then m=true; else m=false; fi
    bench_serve "$BASE" "$DIR/server.log" env MESHHOOK_METRICS=$m "$BIN" serve \
        --port "$http_port" --bind-address 127.0.0.1 --kek "$KEK" --workers 0 --pool-size 16 \
        --log-level warn
    server_pid=$BENCH_SERVER_PID
}

# The endpoint, made once through the API.
start_server on
bench_api_token
bench_hmac_endpoint
bench_serve_stop
bench_hmac_load

# The alert rules, on the intake's project (bench_engine makes its own on its project).
bench_alert_rules "$ALERT_RULES"

cpu_ticks() { # PID -> utime + stime, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}
PM=$(head -n 1 "$DIR/pg/data/postmaster.pid")
# The cluster's background work is not what is measured, and it lands on whichever side happens
# to be running (an autovacuum of the growing delivery table, a checkpoint): autovacuum is off,
# and before each measurement the tables are vacuumed and a checkpoint is taken, outside the
# measured CPU, alike for both sides.
psql_su -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
# Traffic of the side before (an "off" side's deliveries, which no rollup folded) is folded here
# too, outside the measured CPU: otherwise the next "on" side's rollup folds it and is charged for
# it (an "on" engine side that followed an "off" intake side paid ~15 us per run more).
settle() {
    catch_up
    psql_su -c "VACUUM (ANALYZE)" -c "CHECKPOINT" >/dev/null
}
pg_ticks() { # the postmaster, its reaped children and its living ones, in clock ticks
    t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$PM/stat")
    for f in /proc/[0-9]*/stat; do
        awk -v pm="$PM" '$4 == pm { print $14 + $15 }' "$f" 2>/dev/null || true
    done | awk -v t="$t" '{ t += $1 } END { print t }'
}

statements_reset() {
    [ "$STATEMENTS" != 1 ] || psql_su -c "SELECT pgss.pg_stat_statements_reset()" >/dev/null
}
statements_save() { # NAME
    [ "$STATEMENTS" = 1 ] || return 0
    psql_su -F ' | ' -c "SELECT calls, round(total_exec_time)::bigint AS total_ms,
                                round(mean_exec_time::numeric, 3) AS mean_ms,
                                left(regexp_replace(query, '\s+', ' ', 'g'), 160)
                           FROM pgss.pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25" \
        >"$BENCH_KEEP/statements.$1"
    # What only the "on" side runs: the rollup's and the evaluator's statements (and the
    # catch-up fold), in milliseconds of database time.
    psql_su -c "SELECT coalesce(round(sum(total_exec_time)), 0)::bigint FROM pgss.pg_stat_statements
                 WHERE query ~ 'mh_stats_rollup|mh_alerts_evaluate'" >"$BENCH_KEEP/statements.$1.own"
}

# The rollup thread's and the alert thread's statements, paced as they pace them, on one
# session (its database CPU is the postmaster's child's, counted by pg_ticks).
start_companion() {
    every=$(awk -v ms="$STATS_INTERVAL_MS" 'BEGIN { printf "%.3f", ms / 1000 }')
    # The evaluator's round every ALERT_EVAL_MS, counted in rollup intervals (at least one).
    k=$(awk -v a="$ALERT_EVAL_MS" -v s="$STATS_INTERVAL_MS" 'BEGIN { k = int(a / s + 0.5); print k < 1 ? 1 : k }')
    i=0
    while :; do
        ! has stats ||
            printf '%s\n' "DO \$\$ BEGIN LOOP EXIT WHEN NOT (mh_stats_rollup($STATS_LAG_MS, 5000)->>'more')::boolean; END LOOP; END \$\$;"
        ! has alerts || [ $((i % k)) -ne 0 ] || printf '%s\n' "SELECT mh_alerts_evaluate(200, $ALERT_EVAL_MS);"
        i=$((i + 1))
        sleep "$every"
    done | psql -X -q "$MESHHOOK_DATABASE_URL" >/dev/null 2>>"$DIR/companion.log" &
    companion_pid=$!
}

# After the measured traffic, the rollup folds what is left of it (lag 0), inside the measured
# CPU: every webhook of an "on" round is paid for, whether the last pass reached it or not.
catch_up() {
    psql -X -q "$MESHHOOK_DATABASE_URL" -c \
        "DO \$\$ BEGIN LOOP EXIT WHEN NOT (mh_stats_rollup(0, 5000)->>'more')::boolean; END LOOP; END \$\$;" \
        >/dev/null
}

intake_rate() { # on|off -> "202s-per-second server-us-per-202 pg-us-per-202"
    start_server "$1"
    if [ "$1" = on ] && { has stats || has alerts; }; then start_companion; fi
    wrk -t2 -c"$CONNECTIONS" -d2s -s "$DIR/post.lua" "$BASE/hooks/$BENCH_PUBLIC_ID" >/dev/null
    # What came before (the warm-up, an "off" round) is folded outside the measured CPU.
    [ "$1" != on ] || ! has stats || catch_up
    settle
    statements_reset
    t0=$(cpu_ticks "$server_pid")
    p0=$(pg_ticks)
    out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s "$DIR/post.lua" "$BASE/hooks/$BENCH_PUBLIC_ID")
    t1=$(cpu_ticks "$server_pid")
    if [ "$1" = on ]; then
        stop_companion
        ! has stats || catch_up
    fi
    p1=$(pg_ticks)
    statements_save "intake.$round.$1"
    stop_companion
    bench_serve_stop
    if echo "$out" | grep -q 'Non-2xx'; then
        echo "bench observability: non-2xx answers: $out" >&2
        exit 1
    fi
    rate=$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
    n=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
    echo "$rate $(awk -v t="$((t1 - t0))" -v p="$((p1 - p0))" -v hz="$(getconf CLK_TCK)" -v n="$n" \
        'BEGIN { printf "%.1f %.1f", t / hz * 1e6 / n, p / hz * 1e6 / n }')"
}

engine_rate() { # on|off -> "runs-per-second server-us-per-run pg-us-per-run"
    m=false si=0 rules=0 fold=""
    if [ "$1" = on ]; then
        ! has metrics || m=true
        ! has alerts || rules=$ALERT_RULES
        if has stats; then
            si=$STATS_INTERVAL_MS
            fold="DO \$\$ BEGIN LOOP EXIT WHEN NOT (mh_stats_rollup(0, 5000)->>'more')::boolean; END LOOP; END \$\$"
        fi
    fi
    settle
    statements_reset
    # The KEK too: the intake's endpoint key is a secret the engine's server must be able to
    # read. Pending runs of an earlier round (their runs truncated) would only be probed in vain.
    MESHHOOK_METRICS=$m MESHHOOK_STATS_INTERVAL_MS=$si MESHHOOK_STATS_LAG_MS=$STATS_LAG_MS \
        MH_BENCH_ALERT_RULES=$rules MH_BENCH_ALERT_EVAL_MS=$ALERT_EVAL_MS \
        MH_BENCH_CATCH_UP_SQL=$fold MH_BENCH_SQL="TRUNCATE stats_pending_runs" MESHHOOK_KEK=$KEK \
        build/release/bench/bench_engine "$BIN" "$MESHHOOK_ADMIN_DATABASE_URL" \
        "$MESHHOOK_DATABASE_URL" pure "$RUNS" "$WORKERS" |
        sed -n 's/.*runs_per_s=\([0-9.]*\).*cpu_us_per_run=\([0-9.]*\)\/\([0-9.]*\).*/\1 \2 \3/p'
    statements_save "engine.$round.$1"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for w in intake engine; do : >"$DIR/$w.ratios"; : >"$DIR/$w.cpu"; done
measure() { # WORKLOAD ROUND FIRST SECOND
    if [ "$1" = intake ]; then a=$(intake_rate "$3"); b=$(intake_rate "$4"); unit=/s
    else a=$(engine_rate "$3"); b=$(engine_rate "$4"); unit=" runs/s"; fi
    if [ "$3" = on ]; then on=$a; off=$b; else on=$b; off=$a; fi
    # shellcheck disable=SC2086
    set -- "$1" "$2" "$3" $on $off
    # $4..$6: on rate, server us, pg us; $7..$9: off
    r=$(awk -v a="$4" -v b="$7" 'BEGIN { printf "%.3f", a / b }')
    c=$(awk -v a="$5" -v b="$6" -v x="$8" -v y="$9" 'BEGIN { printf "%.3f", (x + y) / (a + b) }')
    echo "round $2 $1: on $4$unit (CPU us each: server $5, PostgreSQL $6)" \
        "off $7$unit (server $8, PostgreSQL $9): throughput on/off $r, CPU off/on $c (first: $3)"
    if [ "$STATEMENTS" = 1 ]; then
        echo "round $2 $1: the \"on\" side's rollup and evaluator statements:" \
            "$(cat "$BENCH_KEEP/statements.$1.$2.on.own") ms of database time"
    fi
    echo "$r" >>"$DIR/$1.ratios"
    echo "$c" >>"$DIR/$1.cpu"
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then first=on; second=off; else first=off; second=on; fi
    for w in $WORKLOADS; do measure "$w" "$round" $first $second; done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -s "$DIR/companion.log" ]; then
    echo "bench observability: the companion session reported errors:" >&2
    cat "$DIR/companion.log" >&2
    exit 1
fi
echo "median throughput on/off: intake $(median <"$DIR/intake.ratios"), engine" \
    "$(median <"$DIR/engine.ratios") (goal >= 0.97)"
echo "median CPU per item (server + PostgreSQL) off/on: intake $(median <"$DIR/intake.cpu")," \
    "engine $(median <"$DIR/engine.cpu")"
