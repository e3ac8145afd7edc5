#!/bin/sh
# SPDX-License-Identifier: MIT
# Two instances versus one (docs/BENCHMARKS.md, "Two instances versus one"). In one run, on one
# private PostgreSQL cluster with durable settings:
#
#   1. one release `meshhook serve --workers 0`, wrk with CONNECTIONS connections POSTing a
#      signed 1 KiB JSON body to an HMAC-SHA256 endpoint (every 202 is a committed run);
#   2. a second server on the same database, and two wrk processes with CONNECTIONS/2
#      connections each, one per server, at the same time.
#
# Prints both rates, their ratio, and where the machine's CPU went during each phase (the
# servers, PostgreSQL, wrk, the rest and idle, from /proc), with CPU per delivery. Phases are
# separated by a CHECKPOINT; the order alternates with ORDER=21 (two first) to see drift.
# Needs wrk, openssl, curl. Environment: DURATION (seconds per phase, 15), CONNECTIONS (64),
# SERVER_ARGS (more flags for both servers).
#
#   sh bench/multi/run.sh
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-64}
ORDER=${ORDER:-12}
. bench/lib.sh
bench_require multi wrk openssl curl
make -s -j2 build/release/meshhook
BIN="$ROOT/build/release/meshhook"

DIR=$BENCH_TMP
bench_cluster_start
pg_port=$PORT
"$BIN" migrate >/dev/null 2>&1
# Recycled WAL segments, as on a cluster that has run a while (bench/intake/run.sh).
psql_su -c "CREATE TABLE wal_warm AS SELECT repeat('x', 1000) AS pad FROM generate_series(1, 900000)" \
    -c "DROP TABLE wal_warm" -c "CHECKPOINT" >/dev/null

KEK="bench:$(openssl rand -hex 32)"
start_server() { # PORT -> pid in $server_pid
    bench_serve "http://127.0.0.1:$1" "$DIR/server-$1.log" "$BIN" serve --port "$1" \
        --bind-address 127.0.0.1 --kek "$KEK" --workers 0 --pool-size 16 --log-level warn \
        ${SERVER_ARGS:-}
    server_pid=$BENCH_SERVER_PID
}
port_a=$(sh scripts/free-port.sh $((pg_port + 1)))
port_b=$(sh scripts/free-port.sh $((port_a + 1)))
start_server "$port_a"
pid_a=$server_pid
start_server "$port_b"
pid_b=$server_pid
A="http://127.0.0.1:$port_a"
B="http://127.0.0.1:$port_b"

bench_user_create
BENCH_BASE=$A
bench_api_token
bench_hmac_endpoint
python3 -c "
head = '{\"id\": \"evt_bench\", \"type\": \"order.created\", \"pad\": \"'
open('$DIR/body.json', 'w').write(head + 'x' * (1024 - len(head) - 2) + '\"}')
"
sig=$(openssl dgst -sha256 -hmac "$BENCH_SECRET" -r "$DIR/body.json" | cut -d' ' -f1)
bench_wrk_post "$DIR/body.json" "$sig" "$DIR/post.lua"
for base in "$A" "$B"; do
    st=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
        -H "X-Signature: $sig" --data-binary "@$DIR/body.json" "$base/hooks/$BENCH_PUBLIC_ID")
    [ "$st" = 202 ] || { echo "bench multi: a signed delivery to $base got $st" >&2; exit 1; }
done

cpu_ticks() { # PID...: user+system clock ticks
    for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null; done |
        awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}
pg_pids() { pgrep -P "$(head -n 1 "$DIR/pg/data/postmaster.pid")" | tr '\n' ' '; }
machine() { awk '/^cpu / { print $2 + $3 + $4 + $6 + $7 + $8, $5 }' /proc/stat; } # busy idle
runs() { psql_su -c "SELECT count(*) FROM runs"; }
xacts() { psql_su -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'meshhook'"; }
rps_of() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
p99_of() { sed -n 's/^ *99% *\([0-9.]*[mun]*s\).*/\1/p' "$1"; }

# PHASE N: one server (A) or two (A and B), DURATION seconds; prints one result line.
phase() {
    sync
    psql_su -c "CHECKPOINT" >/dev/null
    if [ "$1" = 1 ]; then
        wrk -t2 -c"$CONNECTIONS" -d3s -s "$DIR/post.lua" "$A/hooks/$BENCH_PUBLIC_ID" >/dev/null
    else
        wrk -t1 -c$((CONNECTIONS / 2)) -d3s -s "$DIR/post.lua" "$A/hooks/$BENCH_PUBLIC_ID" >/dev/null &
        wrk_pid=$!
        wrk -t1 -c$((CONNECTIONS / 2)) -d3s -s "$DIR/post.lua" "$B/hooks/$BENCH_PUBLIC_ID" >/dev/null
        wait "$wrk_pid" # not a bare wait: the servers are children too
    fi
    r0=$(runs)
    x0=$(xacts)
    # shellcheck disable=SC2046
    s0=$(cpu_ticks $pid_a $pid_b); p0=$(cpu_ticks $(pg_pids)); m0=$(machine)
    if [ "$1" = 1 ]; then
        wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$DIR/post.lua" \
            "$A/hooks/$BENCH_PUBLIC_ID" >"$DIR/wrk-a.out"
        rps=$(rps_of "$DIR/wrk-a.out")
        p99=$(p99_of "$DIR/wrk-a.out")
    else
        wrk -t1 -c$((CONNECTIONS / 2)) -d"${DURATION}s" --latency -s "$DIR/post.lua" \
            "$A/hooks/$BENCH_PUBLIC_ID" >"$DIR/wrk-a.out" &
        wrk_pid=$!
        wrk -t1 -c$((CONNECTIONS / 2)) -d"${DURATION}s" --latency -s "$DIR/post.lua" \
            "$B/hooks/$BENCH_PUBLIC_ID" >"$DIR/wrk-b.out"
        wait "$wrk_pid"
        rps=$(awk -v a="$(rps_of "$DIR/wrk-a.out")" -v b="$(rps_of "$DIR/wrk-b.out")" \
            'BEGIN { printf "%.2f", a + b }')
        p99="$(p99_of "$DIR/wrk-a.out") / $(p99_of "$DIR/wrk-b.out")"
    fi
    # shellcheck disable=SC2046
    s1=$(cpu_ticks $pid_a $pid_b); p1=$(cpu_ticks $(pg_pids)); m1=$(machine)
    n=$(($(runs) - r0))
    x=$(($(xacts) - x0))
    hz=$(getconf CLK_TCK)
    echo "$m0 $m1" | awk -v label="$1" -v rps="$rps" -v p99="$p99" -v n="$n" -v hz="$hz" \
        -v s=$((s1 - s0)) -v p=$((p1 - p0)) -v d="$DURATION" -v cores="$(nproc)" -v x="$x" '{
        busy = $3 - $1; idle = $4 - $2; total = busy + idle
        other = busy - s - p
        printf "  %s server%s %9.0f/s  p99 %-17s CPU: meshhook %3.0f%%, PostgreSQL %3.0f%%, wrk and the rest %3.0f%%, idle %3.0f%% of %d cores;  per delivery: meshhook %.0f us, PostgreSQL %.0f us;  %.1f deliveries per transaction\n",
            label, (label == 1 ? " " : "s"), rps, p99, 100 * s / total, 100 * p / total,
            100 * other / total, 100 * idle / total, cores, s * 1e6 / hz / n, p * 1e6 / hz / n,
            (x > 0 ? n / x : 0)
    }'
    echo "$rps" >"$DIR/rps-$1"
}

echo
echo "two instances versus one, $(nproc) cores, $CONNECTIONS connections in all, ${DURATION}s each, 1 KiB JSON, HMAC-SHA256, --workers 0"
case "$ORDER" in
21) phase 2; phase 1 ;;
*) phase 1; phase 2 ;;
esac
printf '  %-20s %s\n' "ratio two / one" \
    "$(awk -v a="$(cat "$DIR/rps-2")" -v b="$(cat "$DIR/rps-1")" 'BEGIN { printf "%.2f", a / b }')"
