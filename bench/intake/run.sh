#!/bin/sh
# SPDX-License-Identifier: MIT
# The webhook intake benchmark (docs/BENCHMARKS.md, "Webhook intake"). In one run, on one
# private PostgreSQL cluster with durable settings (fsync on, synchronous_commit on):
#
#   1. pgbench, 64 clients, one INSERT of a 1 KiB row per transaction: the commit rate the
#      database itself reaches on this machine;
#   2. the release `meshhook serve`, an HMAC-SHA256-verified endpoint, and wrk with 64
#      connections POSTing a signed 1 KiB JSON body: every 202 is a committed run, first event,
#      job and delivery row.
#
# Before each phase the cluster is brought to the same state: ~1 GB of WAL written and
# checkpointed first (so segments are recycled, as on a cluster that has been running), and a
# CHECKPOINT between the phases (so the intake does not write out pgbench's dirty pages).
#
# Prints both rates and wrk's latency percentiles side by side. Needs wrk, pgbench, openssl,
# curl. Settings through the environment: DURATION (seconds per measurement, default 20),
# CONNECTIONS (64), WORKERS (run workers in the server during the measurement, default 0:
# runs queue durably and are executed later, so the figure is the intake's own), HTTP_THREADS
# (default: the server's own, http_threads),
# SERVER_ARGS (more flags for `meshhook serve`), SERVER_ENV (NAME=value pairs for the server's
# environment only, e.g. GLIBC_TUNABLES=...), PG_SETTINGS (space-separated name=value
# PostgreSQL settings applied before both phases), KEEP_LOGS (a directory to copy the
# server's and PostgreSQL's logs, and perf.data, to), PERF=1 or PERF=pg (record the server, or
# the whole machine, with perf during the measurement and print the hottest symbols: of the
# server, or of PostgreSQL unless PERF_ALL=1; PERF_SORT, PERF_LINES, PERF_CHILDREN and PERF_CG
# shape the report), PG_SQL (SQL run as the superuser after the migrations: schema
# experiments), PG_STATS=1 (also print who wrote shared buffers out during the measurement,
# the WAL written per delivery and by record type, and each hot table's bytes per row),
# FSYNC_PROBE=1 (beside the intake, time an 8 KiB write + fdatasync every 2 ms on the cluster's
# filesystem: bench/intake/fsync_probe.c), MH_PG_SHARED_BUFFERS (the cluster's shared_buffers,
# default 512MB; scripts/pg.sh), APP_LOAD=1 (at the end, measure the intake a second time while
# a second wrk fetches the web app from the same server: index.html and its largest JS asset,
# gzip accepted, APP_CONNECTIONS (default 4) connections each pausing between requests so that
# together they stay under APP_RATE requests per second (default 200); prints both intake rates,
# their ratio, and the app requests actually served).
#
#   sh bench/intake/run.sh
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-64}
WORKERS=${WORKERS:-0}
HTTP_THREADS=${HTTP_THREADS:-}
for tool in wrk pgbench openssl curl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench intake: $tool is required" >&2; exit 1; }
done

# TREE: another built checkout to measure instead (its release binary and migrations; only read).
TREE=${TREE:-$ROOT}
[ "$TREE" != "$ROOT" ] || make -s -j2 build/release/meshhook
BIN="$TREE/build/release/meshhook"

. bench/lib.sh
DIR=$BENCH_TMP
bench_on_exit 'if [ -n "${KEEP_LOGS:-}" ]; then
    mkdir -p "$KEEP_LOGS"
    cp "$DIR/server.log" "$DIR/pg/postgres.log" "$DIR/perf.data" "$KEEP_LOGS/" 2>/dev/null || true
fi'
bench_cluster_start
pg_port=$PORT
"$BIN" migrate >/dev/null
# PG_SETTINGS="max_wal_size=8GB checkpoint_timeout=30min": server settings for both phases.
for setting in ${PG_SETTINGS:-}; do
    psql_su -c "ALTER SYSTEM SET ${setting%%=*} = '${setting#*=}'" >/dev/null
done
# PG_SQL="...": SQL run as the superuser after the migrations (experiments on the schema).
[ -z "${PG_SQL:-}" ] || psql_su -c "$PG_SQL" >/dev/null
[ -z "${PG_SETTINGS:-}" ] || psql_su -c "SELECT pg_reload_conf()" >/dev/null

# A cluster that has run for a while reuses its WAL segments; a fresh one creates and zero-fills
# a 16 MB file for every segment it writes. About 1 GB of WAL, then a checkpoint, leaves
# min_wal_size's worth of segments to recycle, for both phases alike.
psql_su -c "CREATE TABLE wal_warm AS SELECT repeat('x', 1000) AS pad FROM generate_series(1, 900000)" \
    -c "DROP TABLE wal_warm" -c "CHECKPOINT" >/dev/null

# ---- 1. pgbench ------------------------------------------------------------------------------
cat >"$DIR/insert.sql" <<'SQL'
INSERT INTO bench_insert (payload) VALUES (repeat('x', 1024));
SQL
chmod 644 "$DIR/insert.sql"
psql_su -c "CREATE TABLE bench_insert (id bigserial PRIMARY KEY, payload text NOT NULL)"
mkdir -p "$DIR/pglog"
[ "$(id -u)" -eq 0 ] && chown postgres "$DIR/pglog"
pgbench_out=$(as_postgres pgbench -h "$DIR/pg/run" -p "$pg_port" -U postgres -n \
    -c "$CONNECTIONS" -j 2 -T "$DURATION" -f "$DIR/insert.sql" \
    --log --log-prefix="$DIR/pglog/tx" meshhook 2>&1)
pg_tps=$(echo "$pgbench_out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
# Per-transaction latencies (third field, microseconds) -> p50, p99.
pg_pct=$(cat "$DIR"/pglog/tx* | awk '{ print $3 }' | sort -n |
    awk '{ v[NR] = $1 } END { printf "p50 %.2fms  p99 %.2fms", v[int(NR * 0.5)] / 1000, v[int(NR * 0.99)] / 1000 }')

# ---- 2. the intake ---------------------------------------------------------------------------
http_port=$(sh scripts/free-port.sh $((pg_port + 1)))
KEK="bench:$(openssl rand -hex 32)"
bench_user_create
BASE="http://127.0.0.1:$http_port"
BENCH_BASE=$BASE
# shellcheck disable=SC2086
bench_serve "$BASE" "$DIR/server.log" env ${SERVER_ENV:-} "$BIN" serve --port "$http_port" \
    --bind-address 127.0.0.1 --kek "$KEK" ${HTTP_THREADS:+--http-threads "$HTTP_THREADS"} \
    --workers "$WORKERS" --pool-size 16 --log-level warn ${SERVER_ARGS:-}
server_pid=$BENCH_SERVER_PID
bench_api_token
bench_hmac_endpoint

# A 1 KiB JSON body and its signature, by openssl.
bench_hmac_load
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "X-Signature: $BENCH_SIG" --data-binary "@$DIR/body.json" "$BASE/hooks/$BENCH_PUBLIC_ID")
[ "$status" = 202 ] || { echo "bench intake: a signed delivery got $status" >&2; exit 1; }

# Each phase starts from the same clean state: pgbench left ~400 MB of dirty buffers and dirty
# page cache, which the intake's backends would otherwise have to write out themselves once the
# buffer pool fills. Without this and the WAL warm-up, the p99 of 20 s runs was 64-78 ms; with
# them, 13-15 ms (docs/BENCHMARKS.md, which also says what runs longer than ~30 s meet).
# pgbench's table goes too: its autovacuum (~30 s of reads and writes, throttled) otherwise
# started during the intake's measurement.
sync
psql_su -c "DROP TABLE bench_insert" -c "CHECKPOINT" >/dev/null

# Warm up (caches, prepared statements), then measure.
wrk -t2 -c"$CONNECTIONS" -d3s -s "$DIR/post.lua" "$BASE/hooks/$BENCH_PUBLIC_ID" >/dev/null
runs_before=$(psql_su -c "SELECT count(*) FROM runs")
wal0=""
[ -z "${PG_STATS:-}" ] || wal0=$(psql_su -c "SELECT pg_stat_reset_shared('bgwriter'), pg_stat_reset()" \
    -c "SELECT pg_current_wal_insert_lsn()" | tail -n 1)
# FSYNC_PROBE=1: the disk's own commit latency over the measurement, on the cluster's filesystem.
probe_pid=""
if [ -n "${FSYNC_PROBE:-}" ]; then
    cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$DIR/fsync_probe" \
        bench/intake/fsync_probe.c
    "$DIR/fsync_probe" "$DURATION" "$DIR/pg/fsync_probe.dat" >"$DIR/probe.out" 2>&1 &
    probe_pid=$!
fi
case "${PERF:-0}" in
1) perf record -F 499 ${PERF_CG:--g} -p "$server_pid" -o "$DIR/perf.data" -- sleep "$DURATION" \
       >/dev/null 2>&1 & ;;
pg) perf record -F 999 -g -a -o "$DIR/perf.data" -- sleep "$DURATION" >/dev/null 2>&1 & ;;
esac
cpu_ticks() { # PID...: user+system clock ticks of the processes
    for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null; done |
        awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}
pg_pids() { pgrep -P "$(head -n 1 "$DIR/pg/data/postmaster.pid")"; }
srv0=$(cpu_ticks "$server_pid")
# shellcheck disable=SC2046
pg0=$(cpu_ticks $(pg_pids))
wrk_out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$DIR/post.lua" \
    "$BASE/hooks/$BENCH_PUBLIC_ID")
srv1=$(cpu_ticks "$server_pid")
# shellcheck disable=SC2046
pg1=$(cpu_ticks $(pg_pids))
runs_after=$(psql_su -c "SELECT count(*) FROM runs")
rps=$(echo "$wrk_out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
p50=$(echo "$wrk_out" | sed -n 's/^ *50% *\([0-9.]*[mun]*s\).*/\1/p')
p90=$(echo "$wrk_out" | sed -n 's/^ *90% *\([0-9.]*[mun]*s\).*/\1/p')
p99=$(echo "$wrk_out" | sed -n 's/^ *99% *\([0-9.]*[mun]*s\).*/\1/p')
non2xx=$(echo "$wrk_out" | sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p')
errors=$(echo "$wrk_out" | sed -n 's/^ *Socket errors: *\(.*\)/\1/p')
committed=$((runs_after - runs_before))

echo
echo "webhook intake, $(nproc) cores, $CONNECTIONS connections, ${DURATION}s, 1 KiB JSON, HMAC-SHA256${PG_SETTINGS:+, $PG_SETTINGS}"
printf '  %-44s %10s/s  %s\n' "pgbench, 1 INSERT per transaction" "$pg_tps" "$pg_pct"
printf '  %-44s %10s/s  p50 %s  p90 %s  p99 %s\n' "meshhook durable 202s (wrk)" "$rps" "$p50" \
    "$p90" "$p99"
printf '  %-44s %10s   (goal: 1.00, p99 under 25 ms)\n' "ratio to pgbench" \
    "$(awk -v a="$rps" -v b="$pg_tps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
printf '  %-44s %10s\n' "runs committed during the measurement" "$committed"
printf '  %-44s %10s\n' "non-202 responses" "${non2xx:-0}"
hz=$(getconf CLK_TCK)
if [ "$committed" -gt 0 ]; then
    printf '  %-44s %10s\n' "CPU per delivery: meshhook / PostgreSQL" \
        "$(awk -v s=$((srv1 - srv0)) -v p=$((pg1 - pg0)) -v n="$committed" -v hz="$hz" \
            'BEGIN { printf "%.0f us / %.0f us", s * 1e6 / hz / n, p * 1e6 / hz / n }')"
fi
[ -z "$errors" ] || printf '  %-44s %s\n' "socket errors" "$errors"
if [ -n "$probe_pid" ]; then
    wait "$probe_pid" || true
    cat "$DIR/probe.out"
fi
if [ -n "${PG_STATS:-}" ]; then
    # Who wrote shared buffers out during the measurement (MB), and the tables' size now.
    psql_su -F ' ' -c "SELECT buffers_checkpoint * 8 / 1024, buffers_clean * 8 / 1024,
            buffers_backend * 8 / 1024, buffers_backend_fsync,
            (SELECT sum(pg_total_relation_size(c.oid)) / 1048576 FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind = 'r')::bigint
            FROM pg_stat_bgwriter" |
        awk '{ printf "  %-44s %s / %s / %s MB (%s backend fsyncs); tables %s MB\n",
            "buffers written: checkpoint / bgwriter / backends", $1, $2, $3, $4, $5 }'
    # Group commit: transactions of the database during the measurement (the committers' and
    # a few of the server's own), and deliveries per transaction.
    psql_su -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'meshhook'" |
        awk -v n="$committed" '{ printf "  %-44s %s (%.1f deliveries each)\n",
            "transactions committed", $1, ($1 > 0 ? n / $1 : 0) }'
    # Bytes per delivery: WAL written during the measurement, and each table's heap and indexes
    # over its rows (all rows, warm-up included).
    psql_su -F ' ' -c "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$wal0')" |
        awk -v n="$committed" '{ printf "  %-44s %.0f bytes\n", "WAL per delivery", $1 / n }'
    # What those WAL bytes are, by record type (the largest first).
    wal1=$(psql_su -c "SELECT pg_current_wal_insert_lsn()")
    as_postgres "$PGBIN/pg_waldump" --stats=record -p "$DIR/pg/data/pg_wal" -s "$wal0" \
        -e "$wal1" 2>/dev/null | sed 's/( *[0-9.]*)//g' | awk -v n="$committed" '
            $2 ~ /^[0-9]+$/ && $1 != "Total" { printf "%d\t  %-44s %5.0f bytes in %.2f records\n",
            $5, "WAL per delivery: " $1, $5 / n, $2 / n }' | sort -rn | cut -f 2- | head -n 8
    psql_su -F ' ' -c "ANALYZE" -c "SELECT c.relname, c.reltuples::bigint,
            pg_relation_size(c.oid) + coalesce(pg_total_relation_size(c.reltoastrelid), 0),
            pg_indexes_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.reltuples > 1000
            AND c.relname ~ '^(runs|events_.*|jobs|webhook_deliveries)$' ORDER BY 1" |
        awk '{ printf "  %-44s %.0f + %.0f bytes\n", "per row of " $1 ": heap + indexes",
            $3 / $2, $4 / $2 }'
fi
if [ "${PERF:-0}" != 0 ]; then
    sleep 1
    comm=""
    [ "$PERF" = pg ] && [ -z "${PERF_ALL:-}" ] && comm="--comm postgres"
    # shellcheck disable=SC2086
    perf report -i "$DIR/perf.data" $comm ${PERF_CHILDREN:---no-children} --sort ${PERF_SORT:-sym} \
        --stdio -g none 2>/dev/null |
        grep -v '^#' | grep -v '^$' | head -n ${PERF_LINES:-40}
fi

# ---- 3. APP_LOAD=1: the intake again, while people use the web app ---------------------------
if [ "${APP_LOAD:-0}" != 0 ]; then
    APP_RATE=${APP_RATE:-200}
    APP_CONNECTIONS=${APP_CONNECTIONS:-4}
    # The largest JS file of the built app (embedded in the binary, served at the same path).
    asset=$(cd build/web/dist && find _app/immutable -name '*.js' -printf '%s %p\n' |
        sort -rn | head -n 1 | cut -d' ' -f2)
    [ -n "$asset" ] || { echo "bench intake: no JS asset under build/web/dist" >&2; exit 1; }
    for path in / "/$asset"; do
        enc=$(curl -s -o /dev/null -H 'Accept-Encoding: gzip' \
            -w '%{http_code} %header{content-encoding}' "$BASE$path")
        [ "$enc" = "200 gzip" ] || { echo "bench intake: GET $path got '$enc'" >&2; exit 1; }
    done
    # Each connection waits delay_ms before each request: at most APP_CONNECTIONS / delay_ms
    # requests per millisecond, whatever the server's speed (Debian's wrk has no -R).
    delay_ms=$(awk -v c="$APP_CONNECTIONS" -v r="$APP_RATE" 'BEGIN { printf "%d", c * 1000 / r + 0.999 }')
    cat >"$DIR/app.lua" <<LUA
wrk.headers["Accept-Encoding"] = "gzip"
local paths = { "/", "/$asset" }
local i = 0
function request()
    i = i + 1
    return wrk.format("GET", paths[i % 2 + 1])
end
function delay()
    return $delay_ms
end
LUA
    sync
    psql_su -c "CHECKPOINT" >/dev/null
    # The app load starts a second before the intake's measurement and ends a second after it.
    wrk -t1 -c"$APP_CONNECTIONS" -d"$((DURATION + 2))s" -s "$DIR/app.lua" "$BASE" \
        >"$DIR/app.out" 2>&1 &
    app_pid=$!
    sleep 1
    wrk2_out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$DIR/post.lua" \
        "$BASE/hooks/$BENCH_PUBLIC_ID")
    wait "$app_pid" || { echo "bench intake: the app load failed:" >&2; cat "$DIR/app.out" >&2; exit 1; }
    rps2=$(echo "$wrk2_out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
    p99b=$(echo "$wrk2_out" | sed -n 's/^ *99% *\([0-9.]*[mun]*s\).*/\1/p')
    non2xx2=$(echo "$wrk2_out" | sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p')
    app_rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$DIR/app.out")
    app_non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$DIR/app.out")
    echo
    echo "webhook intake while the web app is fetched (index.html + $asset, gzip, at most $APP_RATE/s)"
    printf '  %-44s %10s/s\n' "meshhook durable 202s, alone" "$rps"
    printf '  %-44s %10s/s  p99 %s\n' "meshhook durable 202s, with the app load" "$rps2" "$p99b"
    printf '  %-44s %10s\n' "ratio (with / alone)" \
        "$(awk -v a="$rps2" -v b="$rps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
    printf '  %-44s %10s/s\n' "app requests served" "$app_rps"
    printf '  %-44s %10s\n' "non-2xx: intake / app" "${non2xx2:-0} / ${app_non2xx:-0}"
fi
