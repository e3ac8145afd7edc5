#!/bin/sh
# SPDX-License-Identifier: MIT
# What observability costs, counted rather than timed (issue #16; docs/BENCHMARKS.md,
# "Observability on and off: an A/A test, and everything counted"): the instructions the server
# AND PostgreSQL execute (valgrind --tool=callgrind on the meshhook server and on the postmaster
# with every process it forks), with metrics, statistics and alert evaluation off and then on,
# for the intake and the engine. On this VM two identical timed sides (run.sh with ON=none)
# differ by 6 % in the median of six rounds; what this counts moves by well under 1 %.
#
# Each measurement is a window of its own: the cluster starts under callgrind, the server starts
# under callgrind, a warm-up, the counted work, the server and the cluster stop, and the
# instructions of every process are summed from the files they write at exit. A window's fixed
# costs (starting PostgreSQL and the server, warming caches, planning the rollup's statements in
# a new session) are removed by measuring two amounts of work and taking the difference: the
# cost per item is (T(N2) - T(N1)) / (N2 - N1).
#
# PostgreSQL's total for the same work moves by a few per cent between two windows (how the
# deliveries fall into group-commit batches, which backend builds which cache: AA=1 counts both
# sides off), as much as what is being measured. So "off" is every process's count per item,
# and what "on" adds is counted where it happens: the server's instructions (batching barely
# moves them), the session that folds the items into the statistics, and what runs by the clock.
#
#   intake: the release `meshhook serve` without workers, the intake bench's HMAC endpoint and
#           signed 1 KiB body, N1 and N2 deliveries, PARALLEL at a time; "on": metrics on, and
#           a session folding the deliveries into the statistics (mh_stats_rollup, lag 0)
#           afterwards, as the rollup thread does a second after they arrive (their runs are
#           folded once finished: the engine's part);
#   engine: bench_engine's pure 4-node workflow, RUNS1 and RUNS2 runs with WORKERS workers;
#           "on": metrics on, the rollup thread on, and a session folding the burst's runs.
#
# What runs by the clock rather than per item is counted per call, in a session that has
# planned it, and charged at the rate the timed bench reaches (RATE_INTAKE deliveries/s,
# RATE_ENGINE runs/s): the evaluator's round of ALERT_RULES rules (one every ALERT_EVAL_S
# seconds, the server's default 5) and a rollup pass with nothing to fold (one a second).
# Under valgrind everything is ~50 times slower: run by the clock inside the windows, they
# would be charged 50 times over.
#
#   [N1=500] [N2=2500] [RUNS1=500] [RUNS2=2500] [WORKLOADS="intake engine"] [PARALLEL=16]
#   [WORKERS=4] [ALERT_RULES=60] [ALERT_EVAL_S=5] [RATE_INTAKE=6000] [RATE_ENGINE=5000]
#   [AA=1: both sides off, to see how far two counts of the same thing differ]
#   [KEEP_CG=FILE: each window's processes and their counts appended to FILE]
#   sh bench/observability/count.sh
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
N1=${N1:-500}
N2=${N2:-2500}
RUNS1=${RUNS1:-500}
RUNS2=${RUNS2:-2500}
WORKLOADS=${WORKLOADS:-intake engine}
PARALLEL=${PARALLEL:-16}
WORKERS=${WORKERS:-4}
ALERT_RULES=${ALERT_RULES:-60}
ALERT_EVAL_S=${ALERT_EVAL_S:-5}
RATE_INTAKE=${RATE_INTAKE:-6000}
RATE_ENGINE=${RATE_ENGINE:-5000}
. bench/lib.sh
bench_require observability-count valgrind curl openssl python3
make -s -j2 build/release/meshhook build/release/libmeshhook.a
mkdir -p build/release/bench
bench_build_engine build/release/bench/bench_engine
BIN="$ROOT/build/release/meshhook"
DIR=$BENCH_TMP
CG=$DIR/cg
mkdir -p "$CG"
chmod 777 "$CG"

bench_cluster_start
"$BIN" migrate >/dev/null
bench_user_create
KEK="bench:$(openssl rand -hex 32)"
http_port=$(sh scripts/free-port.sh $((PORT + 1)))
BENCH_BASE="http://127.0.0.1:$http_port"
bench_serve "$BENCH_BASE" "$DIR/server.log" "$BIN" serve --port "$http_port" \
    --bind-address 127.0.0.1 --kek "$KEK" --workers 0 --log-level warn
bench_api_token
bench_hmac_endpoint
bench_serve_stop
bench_hmac_load
bench_alert_rules "$ALERT_RULES"
# Autovacuum would count where it happens to run.
psql_su -c "ALTER SYSTEM SET autovacuum = off" >/dev/null
sh scripts/pg.sh stop "$PGDIR"

# The postmaster and the server, each under callgrind (a process forked by the postmaster is
# counted on its own and writes its file when it exits).
VG="valgrind --tool=callgrind --dump-instr=no --collect-atstart=yes"
cat >"$DIR/vg-postgres" <<EOF
#!/bin/sh
exec $VG --callgrind-out-file=$CG/pg.%p "$PGBIN/postgres" "\$@"
EOF
cat >"$DIR/vg-meshhook" <<EOF
#!/bin/sh
exec $VG --callgrind-out-file=$CG/mh.%p "$BIN" "\$@"
EOF
chmod 755 "$DIR/vg-postgres" "$DIR/vg-meshhook"
pg_up() {
    as_postgres "$PGBIN/pg_ctl" -p "$DIR/vg-postgres" -D "$PGDIR/data" -l "$PGDIR/postgres.log" \
        -w -t 600 -o "-p $PORT -k $PGDIR/run" start >/dev/null
}
pg_down() {
    as_postgres "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w -t 600 stop >/dev/null
}
# The instructions counted since the last call, as "ALL SERVER SESSION": every process, the
# server's, and the backend of the session csql_start opened (0 without one). Their files go.
COMP=""
window_total() {
    total=0 server=0 session=0
    for f in "$CG"/*; do
        [ -e "$f" ] || continue
        # (A forked process's file counts what its parent had counted before the fork too: the
        # same in the two windows of a difference, which removes it.)
        n=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$f" | head -n 1)
        n=${n:-0}
        total=$((total + n))
        case $(basename "$f") in
        mh.*) server=$((server + n)) ;;
        "pg.$COMP") session=$n ;;
        esac
        [ -z "${KEEP_CG:-}" ] || echo "$(basename "$f") $n" >>"$KEEP_CG"
        rm -f "$f"
    done
    COMP=""
    echo "$total $server $session"
}

# A session whose statements are sent one at a time (csql SQL waits for its end); its backend's
# pid in COMP, so that window_total tells its instructions apart.
csql_n=0
csql_start() {
    # (Each window runs in a subshell of its own: its markers start again from 1.)
    rm -f "$DIR"/csql.[0-9]* "$DIR/csql.pid"
    mkfifo "$DIR/csql"
    psql -X -q -At -v ON_ERROR_STOP=1 "$MESHHOOK_DATABASE_URL" <"$DIR/csql" >"$DIR/csql.out" 2>&1 &
    csql_pid=$!
    exec 3>"$DIR/csql"
    # (Into a file of its own, closed, and so written, before the next line.)
    csql "\\o $DIR/csql.pid
SELECT pg_backend_pid();
\\o"
    COMP=$(cat "$DIR/csql.pid")
}
csql() { # SQL
    csql_n=$((csql_n + 1))
    printf '%s\n\\! touch %s\n' "$1" "$DIR/csql.$csql_n" >&3
    i=0
    until [ -e "$DIR/csql.$csql_n" ]; do
        i=$((i + 1))
        if [ "$i" -gt 60000 ] || ! kill -0 "$csql_pid" 2>/dev/null; then
            echo "bench observability-count: the session failed: $(cat "$DIR/csql.out")" >&2
            exit 1
        fi
        sleep 0.01
    done
}
csql_stop() {
    exec 3>&-
    wait "$csql_pid"
    rm -f "$DIR/csql"
}
FOLD="DO \$\$ BEGIN LOOP EXIT WHEN NOT (mh_stats_rollup(0, 5000)->>'more')::boolean; END LOOP; END \$\$;"

deliver() { # COUNT: every one accepted
    out=$(bench_hmac_deliver "$1" "$PARALLEL")
    [ "$out" = "$1 x 202" ] || { echo "bench observability-count: answers $out" >&2; exit 1; }
}

# A window of the intake: N deliveries after a warm-up; "on": metrics on, and the deliveries
# folded afterwards by a session of their own.
intake_window() { # on|off N -> "ALL SERVER SESSION"
    [ "${AA:-0}" = 0 ] || set -- off "$2"
    pg_up
    if [ "$1" = on ]; then m=true; else m=false; fi
    # (A server without workers runs neither the rollup nor the evaluator; under valgrind it
    # takes longer to start.)
    BENCH_SERVE_WAIT_S=120 bench_serve "$BENCH_BASE" "$DIR/server.log" env MESHHOOK_METRICS=$m \
        "$DIR/vg-meshhook" serve --port "$http_port" --bind-address 127.0.0.1 --kek "$KEK" \
        --workers 0 --pool-size 16 --log-level warn
    deliver 100
    if [ "$1" = on ]; then csql_start; csql "$FOLD"; fi
    deliver "$2"
    if [ "$1" = on ]; then csql "$FOLD"; csql_stop; fi
    bench_serve_stop
    pg_down
    [ -z "${KEEP_CG:-}" ] || echo "-- intake $1 $2" >>"$KEEP_CG"
    window_total
    # Uncounted: what this window left unfolded (an "off" window's deliveries) is folded, or the
    # next "on" window's session would be charged for it; then the runs go with their jobs.
    # Their jobs, never taken by a server without workers, hold the rollup's walk of the runs
    # back (a run is folded once it has finished: the engine's windows count that); left for ten
    # minutes they would stop holding it, and the runs would be folded as pending.
    pg_up
    psql -X -q "$MESHHOOK_DATABASE_URL" -c "$FOLD" >/dev/null
    psql_su -c "SET client_min_messages = warning" \
        -c "TRUNCATE runs, jobs, dead_letters, stats_pending_runs CASCADE" >/dev/null
    pg_down
    rm -f "$CG"/*
}

# A window of the engine: bench_engine's burst of RUNS runs; "on": metrics and the rollup
# thread on (its first pass comes at the start, the next after ten minutes), and the burst's
# runs folded afterwards by a session of their own.
engine_window() { # on|off RUNS -> "ALL SERVER SESSION"
    [ "${AA:-0}" = 0 ] || set -- off "$2"
    pg_up
    if [ "$1" = on ]; then m=true si=600000; else m=false si=0; fi
    MESHHOOK_METRICS=$m MESHHOOK_STATS_INTERVAL_MS=$si MESHHOOK_STATS_LAG_MS=0 \
        MH_BENCH_ALERT_RULES=0 MH_BENCH_SQL="TRUNCATE stats_pending_runs" \
        MESHHOOK_KEK=$KEK build/release/bench/bench_engine "$DIR/vg-meshhook" \
        "$MESHHOOK_ADMIN_DATABASE_URL" "$MESHHOOK_DATABASE_URL" pure "$2" "$WORKERS" \
        >"$DIR/engine.out" 2>&1 || { cat "$DIR/engine.out" >&2; exit 1; }
    grep -q "succeeded=$2 " "$DIR/engine.out" || { cat "$DIR/engine.out" >&2; exit 1; }
    if [ "$1" = on ]; then csql_start; csql "$FOLD"; csql_stop; fi
    pg_down
    [ -z "${KEEP_CG:-}" ] || echo "-- engine $1 $2" >>"$KEEP_CG"
    window_total
}

# A session running SQL K times: its backend's instructions.
periodic_window() { # SQL K -> instructions
    pg_up
    csql_start
    for _ in $(seq 1 "$2"); do csql "$1"; done
    csql_stop
    pg_down
    window_total | cut -d' ' -f3
}

per() { # T1 T2 D -> (T2 - T1) / D
    awk -v a="$1" -v b="$2" -v d="$3" 'BEGIN { printf "%.0f", (b - a) / d }'
}
field() { echo "$1" | cut -d' ' -f"$2"; }

# What runs by the clock: the evaluator's round and an empty rollup pass (their cost in a
# session that has planned them: the difference between K and 2 calls), measured after the
# intake's windows (their runs in the rules' windows) and before the engine's (bench_engine
# starts by emptying the tables, the rules with them).
round="" pass=""
clock_costs() {
    [ -z "$round" ] || return 0
    e1=$(periodic_window "SELECT mh_alerts_evaluate(200, 0);" 2)
    e2=$(periodic_window "SELECT mh_alerts_evaluate(200, 0);" 7)
    round=$(per "$e1" "$e2" 5)
    p1=$(periodic_window "SELECT mh_stats_rollup(0, 5000);" 2)
    p2=$(periodic_window "SELECT mh_stats_rollup(0, 5000);" 52)
    pass=$(per "$p1" "$p2" 50)
    echo "the evaluator's round ($ALERT_RULES rules): $round instructions; a rollup pass with nothing to fold: $pass"
}

# Per item: "off" is every process's count; what "on" adds is counted where it happens (the
# server's count, which batching barely moves, and the folding session's), so that the
# difference is not lost in how PostgreSQL's work varies with the batches (+-5 % between two
# windows of the same work: AA=1).
for w in $WORKLOADS; do
    if [ "$w" = intake ]; then a=$N1 b=$N2 rate=$RATE_INTAKE unit=delivery
    else a=$RUNS1 b=$RUNS2 rate=$RATE_ENGINE unit=run; clock_costs; fi
    off1=$("${w}_window" off "$a")
    off2=$("${w}_window" off "$b")
    on1=$("${w}_window" on "$a")
    on2=$("${w}_window" on "$b")
    [ "$w" != intake ] || clock_costs
    d=$((b - a))
    all_off=$(per "$(field "$off1" 1)" "$(field "$off2" 1)" $d)
    all_on=$(per "$(field "$on1" 1)" "$(field "$on2" 1)" $d)
    srv_off=$(per "$(field "$off1" 2)" "$(field "$off2" 2)" $d)
    srv_on=$(per "$(field "$on1" 2)" "$(field "$on2" 2)" $d)
    fold=$(per "$(field "$on1" 3)" "$(field "$on2" 3)" $d)
    clock=$(awk -v r="$round" -v p="$pass" -v e="$ALERT_EVAL_S" -v rate="$rate" \
        'BEGIN { printf "%.0f", (r / e + p) / rate }')
    awk -v w="$w" -v u="$unit" -v off="$all_off" -v on="$all_on" -v so="$srv_off" -v sn="$srv_on" \
        -v f="$fold" -v c="$clock" -v rate="$rate" 'BEGIN {
        # (A server difference below zero is noise, +-2,000 a delivery with AA=1: taken as 0.)
        add = (sn > so ? sn - so : 0) + f + c
        printf "%s, instructions per %s: everything off %d (the server %d); on, every process: %d (the server %d)\n", w, u, off, so, on, sn
        printf "%s: what \"on\" adds per %s: the server %+d, the fold %d, by the clock at %d/s %d: %d in all, ratio off/on %.3f (goal >= 0.97)\n", w, u, sn - so, f, rate, c, add, off / (off + add)
    }'
done
