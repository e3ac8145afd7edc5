#!/bin/sh
# SPDX-License-Identifier: MIT
# What collecting metrics costs (docs/BENCHMARKS.md, "Metrics on and off"): in ONE run, on one
# private PostgreSQL cluster, the same measurement with metrics on and off (MESHHOOK_METRICS),
# alternated ROUNDS times so that the machine's drift hits both alike:
#
#   1. the intake: the release `meshhook serve` (no workers), an HMAC-SHA256 endpoint, and wrk
#      with CONNECTIONS connections POSTing a signed 1 KiB body for DURATION seconds: 202s/s;
#   2. the engine: bench_engine's pure 4-node workflow, RUNS runs with WORKERS workers: runs/s.
#
# Prints every measurement, each round's on/off ratio and the median ratio per workload (goal
# >= 0.97), and the same for the server's CPU time per webhook or run (read from /proc: less
# sensitive than throughput to other load on the machine). First, the recording's own cost per
# webhook, measured in isolation (record.c). Needs wrk, openssl, curl, python3. Settings: ROUNDS (3), DURATION (10),
# CONNECTIONS (64), RUNS (10000), WORKERS (4).
#
#   sh bench/metrics/run.sh
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
RUNS=${RUNS:-10000}
WORKERS=${WORKERS:-4}
. bench/lib.sh
bench_require metrics wrk openssl curl python3
make -s -j2 build/release/meshhook build/release/libmeshhook.a
BIN="$ROOT/build/release/meshhook"
mkdir -p build/release/bench
bench_build_engine build/release/bench/bench_engine
# shellcheck disable=SC2046,SC2086
cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Isrc bench/metrics/record.c \
    build/release/libmeshhook.a $(pkg-config --libs $BENCH_PKGS) -lm -pthread \
    -o build/release/bench/record
# The recording itself, in isolation (bench/metrics/record.c).
build/release/bench/record 2 5000000

DIR=$BENCH_TMP
bench_cluster_start
"$BIN" migrate >/dev/null
bench_user_create
KEK="bench:$(openssl rand -hex 32)"
http_port=$(sh scripts/free-port.sh $((PORT + 1)))
BASE="http://127.0.0.1:$http_port"
BENCH_BASE=$BASE

start_server() { # METRICS(true|false)
    bench_serve "$BASE" "$DIR/server.log" env MESHHOOK_METRICS="$1" "$BIN" serve \
        --port "$http_port" --bind-address 127.0.0.1 --kek "$KEK" --workers 0 --pool-size 16 \
        --log-level warn
    server_pid=$BENCH_SERVER_PID
}

# The endpoint, made once through the API.
start_server true
bench_api_token
bench_hmac_endpoint
bench_serve_stop
bench_hmac_load

cpu_ticks() { # PID -> utime + stime, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

intake_rate() { # METRICS -> "202s-per-second server-CPU-microseconds-per-202"
    start_server "$1"
    wrk -t2 -c"$CONNECTIONS" -d2s -s "$DIR/post.lua" "$BASE/hooks/$BENCH_PUBLIC_ID" >/dev/null
    t0=$(cpu_ticks "$server_pid")
    out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s "$DIR/post.lua" "$BASE/hooks/$BENCH_PUBLIC_ID")
    t1=$(cpu_ticks "$server_pid")
    bench_serve_stop
    if echo "$out" | grep -q 'Non-2xx'; then
        echo "bench metrics: non-2xx answers: $out" >&2
        exit 1
    fi
    rate=$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
    n=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
    echo "$rate $(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$n" \
        'BEGIN { printf "%.1f", t / hz * 1e6 / n }')"
}

engine_rate() { # METRICS -> "runs-per-second server-CPU-microseconds-per-run"
    # The KEK too: the intake's endpoint key is a secret the engine's server must be able to read.
    MESHHOOK_METRICS=$1 MESHHOOK_KEK=$KEK build/release/bench/bench_engine "$BIN" \
        "$MESHHOOK_ADMIN_DATABASE_URL" "$MESHHOOK_DATABASE_URL" pure "$RUNS" "$WORKERS" |
        sed -n 's/.*runs_per_s=\([0-9.]*\).*server_cpu_s=\([0-9.]*\).*/\1 \2/p' |
        awk -v n="$RUNS" '{ printf "%s %.1f\n", $1, $2 * 1e6 / n }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: >"$DIR/intake.ratios"
: >"$DIR/engine.ratios"
: >"$DIR/intake.cpu"
: >"$DIR/engine.cpu"
measure() { # WORKLOAD ROUND FIRST SECOND: one pair, printed and appended to the ratio files
    if [ "$1" = intake ]; then a=$(intake_rate "$3"); b=$(intake_rate "$4"); unit=/s
    else a=$(engine_rate "$3"); b=$(engine_rate "$4"); unit=" runs/s"; fi
    if [ "$3" = true ]; then on=$a; off=$b; else on=$b; off=$a; fi
    set -- "$1" "$2" "$3" "${on% *}" "${off% *}" "${on#* }" "${off#* }"
    r=$(awk -v a="$4" -v b="$5" 'BEGIN { printf "%.3f", a / b }')
    c=$(awk -v a="$6" -v b="$7" 'BEGIN { printf "%.3f", b / a }')
    echo "round $2 $1: on $4$unit ($6 us CPU each) off $5$unit ($7 us CPU each)" \
        "throughput ratio $r, CPU ratio off/on $c (first: metrics=$3)"
    echo "$r" >>"$DIR/$1.ratios"
    echo "$c" >>"$DIR/$1.cpu"
}
for round in $(seq 1 "$ROUNDS"); do
    # The order flips every round, so neither setting always runs first.
    if [ $((round % 2)) -eq 1 ]; then first=true; second=false; else first=false; second=true; fi
    measure intake "$round" $first $second
    measure engine "$round" $first $second
done
echo "median on/off throughput ratio: intake $(median <"$DIR/intake.ratios"), engine" \
    "$(median <"$DIR/engine.ratios") (goal >= 0.97)"
echo "median server CPU per item, off/on: intake $(median <"$DIR/intake.cpu"), engine" \
    "$(median <"$DIR/engine.cpu")"
