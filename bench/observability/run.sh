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
#   [ROUNDS=5] [DURATION=8] [CONNECTIONS=64] [RUNS=10000] [WORKERS=4] sh bench/observability/run.sh
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
for tool in wrk openssl curl python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench observability: $tool is required" >&2; exit 1; }
done
make -s -j2 build/release/meshhook build/release/libmeshhook.a
BIN="$ROOT/build/release/meshhook"
mkdir -p build/release/bench
# shellcheck disable=SC2046
cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Isrc -Itests/integration \
    $(pkg-config --cflags jansson libpq) bench/engine/bench_engine.c tests/integration/mock_http.c \
    build/release/libmeshhook.a \
    $(pkg-config --libs libmicrohttpd libpq libcurl jansson openssl libargon2 libpcre2-8) -lm \
    -pthread -o build/release/bench/bench_engine

DIR=$(mktemp -d /tmp/meshhook-bench-obs.XXXXXX)
chmod 755 "$DIR"
server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
companion_pid=""
stop_companion() {
    if [ -n "$companion_pid" ]; then
        kill -TERM "$companion_pid" 2>/dev/null || true
        wait "$companion_pid" 2>/dev/null || true
        companion_pid=""
    fi
}
cleanup() {
    stop_companion
    stop_server
    sh "$ROOT/scripts/pg.sh" stop "$DIR/pg" >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_port=$(sh scripts/free-port.sh)
sh scripts/pg.sh start "$DIR/pg" "$pg_port" >/dev/null
eval "$(sh scripts/pg.sh urls "$DIR/pg" "$pg_port")"
export MESHHOOK_DATABASE_URL MESHHOOK_ADMIN_DATABASE_URL
"$BIN" migrate >/dev/null
printf 'bench-password-0123456789\n' | "$BIN" user create --email bench@example.com >/dev/null
KEK="bench:$(openssl rand -hex 32)"
http_port=$(sh scripts/free-port.sh $((pg_port + 1)))
BASE="http://127.0.0.1:$http_port"

start_server() { # on|off
    if [ "$1" = on ]; then m=true; else m=false; fi
    MESHHOOK_METRICS=$m "$BIN" serve --port "$http_port" --bind-address 127.0.0.1 --kek "$KEK" \
        --workers 0 --pool-size 16 --log-level warn >>"$DIR/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        curl -sf "$BASE/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "bench observability: the server did not start" >&2
    exit 1
}

json_field() {
    python3 -c "import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split('.'): v=v[k]
print(v)" "$1"
}

# The endpoint, made once through the API.
start_server on
login=$(curl -sf -c "$DIR/cookies" -H 'Content-Type: application/json' \
    -d '{"email": "bench@example.com", "password": "bench-password-0123456789"}' \
    "$BASE/api/auth/login")
csrf=$(printf "%s\n" "$login" | json_field csrf_token)
TOKEN=$(curl -sf -b "$DIR/cookies" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
    -d '{"name": "bench"}' "$BASE/api/tokens" | json_field token)
api() {
    curl -sf -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        ${3:+-d "$3"} "$BASE$2"
}
project=$(api POST /api/projects '{"name": "bench"}' | json_field id)
workflow=$(api POST "/api/projects/$project/workflows" \
    '{"name": "bench", "definition": {"nodes": [{"id": "echo", "type": "transform", "config": {"expression": "trigger.body.id"}}], "edges": []}}' |
    json_field id)
api POST "/api/projects/$project/workflows/$workflow/publish" >/dev/null
endpoint=$(api POST "/api/projects/$project/workflows/$workflow/endpoints" \
    '{"name": "bench", "verification": {"scheme": "hmac"}, "rate_capacity": 1000000, "rate_per_second": 1000000}')
public_id=$(printf "%s\n" "$endpoint" | json_field public_id)
secret=$(printf "%s\n" "$endpoint" | json_field key.secret)
stop_server
python3 -c "
import json
doc = {'id': 'evt_bench', 'type': 'order.created', 'data': {'items': []}}
i = 0
while len(json.dumps(doc)) < 980:
    doc['data']['items'].append({'sku': 'SKU-%04d' % i, 'qty': i % 7 + 1})
    i += 1
s = json.dumps(doc)
s = s[:-1] + ', \"pad\": \"' + 'x' * (1024 - len(s) - 11) + '\"}'
open('$DIR/body.json', 'w').write(s)
"
sig=$(openssl dgst -sha256 -hmac "$secret" -r "$DIR/body.json" | cut -d' ' -f1)
python3 -c "
import json
body = open('$DIR/body.json').read()
print('wrk.method = \"POST\"')
print('wrk.body = ' + json.dumps(body))
print('wrk.headers[\"Content-Type\"] = \"application/json\"')
print('wrk.headers[\"X-Signature\"] = \"$sig\"')
" >"$DIR/post.lua"


# The alert rules, on the intake's project (bench_engine makes its own on its project).
psql -X -q -v ON_ERROR_STOP=1 "$MESHHOOK_ADMIN_DATABASE_URL" -c \
    "INSERT INTO alert_rules (project_id, name, kind, window_s, threshold)
     SELECT '$project', 'bench ' || i, (ARRAY['run_failed', 'failure_count', 'failure_rate',
            'dead_letter', 'queue_age', 'refusals'])[1 + i % 6], 300,
            CASE WHEN i % 6 IN (0, 3) THEN 1 WHEN i % 6 = 2 THEN 99.99 ELSE 1000000 END
       FROM generate_series(0, $ALERT_RULES - 1) i"

cpu_ticks() { # PID -> utime + stime, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}
PM=$(head -n 1 "$DIR/pg/data/postmaster.pid")
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
su_psql() { as_postgres "$PGBIN/psql" -X -q -h "$DIR/pg/run" -p "$pg_port" -d meshhook "$@"; }
# The cluster's background work is not what is measured, and it lands on whichever side happens
# to be running (an autovacuum of the growing delivery table, a checkpoint): autovacuum is off,
# and before each measurement the tables are vacuumed and a checkpoint is taken, outside the
# measured CPU, alike for both sides.
su_psql -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
settle() {
    su_psql -c "VACUUM (ANALYZE)" -c "CHECKPOINT" >/dev/null
}
pg_ticks() { # the postmaster, its reaped children and its living ones, in clock ticks
    t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$PM/stat")
    for f in /proc/[0-9]*/stat; do
        awk -v pm="$PM" '$4 == pm { print $14 + $15 }' "$f" 2>/dev/null || true
    done | awk -v t="$t" '{ t += $1 } END { print t }'
}

# The rollup thread's and the alert thread's statements, paced as they pace them, on one
# session (its database CPU is the postmaster's child's, counted by pg_ticks).
start_companion() {
    every=$(awk -v ms="$STATS_INTERVAL_MS" 'BEGIN { printf "%.3f", ms / 1000 }')
    # The evaluator's round every ALERT_EVAL_MS, counted in rollup intervals (at least one).
    k=$(awk -v a="$ALERT_EVAL_MS" -v s="$STATS_INTERVAL_MS" 'BEGIN { k = int(a / s + 0.5); print k < 1 ? 1 : k }')
    i=0
    while :; do
        printf '%s\n' "DO \$\$ BEGIN LOOP EXIT WHEN NOT (mh_stats_rollup($STATS_LAG_MS, 5000)->>'more')::boolean; END LOOP; END \$\$;"
        [ $((i % k)) -ne 0 ] || printf '%s\n' "SELECT mh_alerts_evaluate(200, $ALERT_EVAL_MS);"
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
    [ "$1" = on ] && start_companion
    wrk -t2 -c"$CONNECTIONS" -d2s -s "$DIR/post.lua" "$BASE/hooks/$public_id" >/dev/null
    # What came before (the warm-up, an "off" round) is folded outside the measured CPU.
    [ "$1" != on ] || catch_up
    settle
    t0=$(cpu_ticks "$server_pid")
    p0=$(pg_ticks)
    out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s "$DIR/post.lua" "$BASE/hooks/$public_id")
    t1=$(cpu_ticks "$server_pid")
    if [ "$1" = on ]; then stop_companion; catch_up; fi
    p1=$(pg_ticks)
    stop_companion
    stop_server
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
    if [ "$1" = on ]; then
        m=true; si=$STATS_INTERVAL_MS; rules=$ALERT_RULES
        fold="DO \$\$ BEGIN LOOP EXIT WHEN NOT (mh_stats_rollup(0, 5000)->>'more')::boolean; END LOOP; END \$\$"
    else
        m=false; si=0; rules=0; fold=""
    fi
    settle
    # The KEK too: the intake's endpoint key is a secret the engine's server must be able to
    # read. Pending runs of an earlier round (their runs truncated) would only be probed in vain.
    MESHHOOK_METRICS=$m MESHHOOK_STATS_INTERVAL_MS=$si MESHHOOK_STATS_LAG_MS=$STATS_LAG_MS \
        MH_BENCH_ALERT_RULES=$rules MH_BENCH_ALERT_EVAL_MS=$ALERT_EVAL_MS \
        MH_BENCH_CATCH_UP_SQL=$fold MH_BENCH_SQL="TRUNCATE stats_pending_runs" MESHHOOK_KEK=$KEK \
        build/release/bench/bench_engine "$BIN" "$MESHHOOK_ADMIN_DATABASE_URL" \
        "$MESHHOOK_DATABASE_URL" pure "$RUNS" "$WORKERS" |
        sed -n 's/.*runs_per_s=\([0-9.]*\).*cpu_us_per_run=\([0-9.]*\)\/\([0-9.]*\).*/\1 \2 \3/p'
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

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
    echo "$r" >>"$DIR/$1.ratios"
    echo "$c" >>"$DIR/$1.cpu"
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then first=on; second=off; else first=off; second=on; fi
    measure intake "$round" $first $second
    measure engine "$round" $first $second
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median throughput on/off: intake $(median <"$DIR/intake.ratios"), engine" \
    "$(median <"$DIR/engine.ratios") (goal >= 0.97)"
echo "median CPU per item (server + PostgreSQL) off/on: intake $(median <"$DIR/intake.cpu")," \
    "engine $(median <"$DIR/engine.cpu")"
if [ -s "$DIR/companion.log" ]; then
    echo "bench observability: the companion session reported errors:" >&2
    cat "$DIR/companion.log" >&2
    exit 1
fi
