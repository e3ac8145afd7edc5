#!/bin/sh
# SPDX-License-Identifier: MIT
# Run statistics with many runs in the database (docs/observability.md "Statistics",
# docs/BENCHMARKS.md): generates RUNS finished runs spread over 30 days across 10 workflows of
# one project into the real schema of a throwaway cluster (generate_series), then measures
#   - the rollup: the backfill of every run in passes of BATCH (the server's stats_batch), and
#     one incremental pass over 10 000 new runs, the steady state;
#   - the statistics query (mh_stats_series, as the app role under row-level security, as the
#     API runs it): 30 days by hour for the project and for one workflow, 24 hours by minute;
#   - for comparison: REFRESH of a materialized view holding the same hourly figures, and the
#     exact 30-day percentiles computed from the runs table (what the rollup replaces).
# Each query is run 5 times; the median is printed.
#
#   sh bench/stats/run.sh [RUNS] [BATCH]     defaults 10000000 5000
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
RUNS=${1:-10000000}
BATCH=${2:-5000}
make -s -j2 build/release/meshhook

. bench/lib.sh
bench_cluster_start
MESHHOOK_ADMIN_DATABASE_URL=$MESHHOOK_ADMIN_DATABASE_URL build/release/meshhook migrate >/dev/null

psql_as() { # ROLE [psql args...]
    role=$1
    shift
    run_psql -X -q -v ON_ERROR_STOP=1 -h "$PGDIR/run" -p "$PORT" -U "$role" -d meshhook "$@"
}
# Milliseconds of wall time of a psql script run as ROLE (stdin).
timed_ms() {
    t0=$(date +%s%N)
    psql_as "$1" >/dev/null
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}
# Median server-side time (psql \timing) of the last statement of a script, over 5 runs.
median_ms() { # ROLE SQL
    for _ in 1 2 3 4 5; do
        printf '%s\n\\timing on\n%s\n' "$PRE" "$2" | psql_as "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1
    done | sort -n | sed -n 3p
}

P=11111111-1111-1111-1111-111111111111
U=22222222-2222-2222-2222-222222222222
W=aaaaaaaa-0000-0000-0000-000000000001
echo "generating $RUNS runs over 30 days (10 workflows)..."
t0=$(date +%s)
psql_as meshhook <<SQL
INSERT INTO users (id, email, password_hash) VALUES ('$U', 'bench@example.com', 'x');
INSERT INTO projects (id, name) VALUES ('$P', 'bench');
INSERT INTO memberships (project_id, user_id, role) VALUES ('$P', '$U', 'viewer');
INSERT INTO workflows (id, project_id, name)
SELECT ('aaaaaaaa-0000-0000-0000-00000000000' || w)::uuid, '$P', 'w' || w FROM generate_series(0, 9) w;
INSERT INTO workflow_versions (id, project_id, workflow_id, version, state, definition)
SELECT ('bbbbbbbb-0000-0000-0000-00000000000' || w)::uuid, '$P',
       ('aaaaaaaa-0000-0000-0000-00000000000' || w)::uuid, 1, 'published', '{"nodes": [], "edges": []}'
  FROM generate_series(0, 9) w;
-- Durations: log-normal around 80 ms; 90 % succeeded, 8 % failed, 2 % canceled.
INSERT INTO runs (project_id, workflow_id, version_id, version, status, created_at, started_at,
                  finished_at, last_seq)
SELECT '$P', ('aaaaaaaa-0000-0000-0000-00000000000' || (i % 10))::uuid,
       ('bbbbbbbb-0000-0000-0000-00000000000' || (i % 10))::uuid, 1,
       CASE WHEN i % 50 = 7 THEN 'canceled' WHEN i % 100 < 8 THEN 'failed' ELSE 'succeeded' END,
       c, c, c + (80 * exp(random() * 2 - 1 + (random() - 0.5))) * interval '1 ms', 4
  FROM generate_series(1, $RUNS) i,
       LATERAL (SELECT now() - interval '30 days' + (i::double precision / $RUNS) * (interval '30 days' - interval '1 minute') AS c) x;
VACUUM ANALYZE runs;
SQL
echo "  generated in $(($(date +%s) - t0)) s; runs table: $(psql_as meshhook -t -A -c "SELECT pg_size_pretty(pg_total_relation_size('runs'))")"

echo "rollup backfill (batch $BATCH)..."
t0=$(date +%s%N)
passes=0
while :; do
    more=$(psql_as meshhook -t -A -c "SELECT mh_stats_rollup(60000, $BATCH)->>'more'")
    passes=$((passes + 1))
    [ "$more" = true ] || break
done
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "  rollup backfill: $ms ms for $RUNS runs in $passes passes ($(awk -v a="$ms" -v b="$passes" 'BEGIN { printf "%.1f", a / b }') ms per pass, $(awk -v a="$ms" -v r="$RUNS" 'BEGIN { printf "%.0f", r / (a / 1000) }') runs/s)"
psql_as meshhook -c "VACUUM ANALYZE run_stats" >/dev/null
echo "  run_stats: $(psql_as meshhook -t -A -c "SELECT count(*) || ' rows, ' || pg_size_pretty(pg_total_relation_size('run_stats')) FROM run_stats")"

# The steady state: 10 000 runs arrive (older than the lag), one pass folds them.
psql_as meshhook >/dev/null <<SQL
INSERT INTO runs (project_id, workflow_id, version_id, version, status, created_at, finished_at, last_seq)
SELECT '$P', ('aaaaaaaa-0000-0000-0000-00000000000' || (i % 10))::uuid,
       ('bbbbbbbb-0000-0000-0000-00000000000' || (i % 10))::uuid, 1, 'succeeded',
       now() - interval '50 s' + i * interval '1 ms', now() - interval '50 s' + i * interval '1 ms' + interval '120 ms', 4
  FROM generate_series(1, 10000) i;
SQL
ms=$(echo "SELECT mh_stats_rollup(30000, 10000);" | timed_ms meshhook)
echo "  incremental pass, 10000 new runs: $ms ms"
ms=$(echo "SELECT mh_stats_rollup(30000, 10000);" | timed_ms meshhook)
echo "  incremental pass, nothing new: $ms ms"

PRE="BEGIN; SELECT set_config('meshhook.user_id', '$U', true);"
echo "statistics query (median of 5, as meshhook_app under RLS):"
echo "  project, 30 days by hour (720 points): $(median_ms meshhook_app "SELECT length(mh_stats_series('$P', NULL, 'hour', 720)::text);") ms"
echo "  workflow, 30 days by hour:              $(median_ms meshhook_app "SELECT length(mh_stats_series('$P', '$W', 'hour', 720)::text);") ms"
echo "  project, 30 days by day (30 points):    $(median_ms meshhook_app "SELECT length(mh_stats_series('$P', NULL, 'day', 30)::text);") ms"
echo "  project, 24 hours by minute (1440):     $(median_ms meshhook_app "SELECT length(mh_stats_series('$P', NULL, 'minute', 1440)::text);") ms"

PRE=""
echo "for comparison (schema owner, no RLS):"
echo "  exact 30-day p50/p95/p99 and counts from runs: $(median_ms meshhook "SELECT count(*), percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY finished_at - created_at) FROM runs WHERE project_id = '$P' AND created_at >= now() - interval '30 days';") ms"
psql_as meshhook >/dev/null <<SQL
CREATE MATERIALIZED VIEW bench_hourly AS
SELECT project_id, workflow_id, date_trunc('hour', created_at) AS h, count(*) AS started,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY finished_at - created_at) AS p
  FROM runs GROUP BY 1, 2, 3;
SQL
ms=$(echo "REFRESH MATERIALIZED VIEW bench_hourly;" | timed_ms meshhook)
echo "  REFRESH MATERIALIZED VIEW (hourly counts and percentiles per workflow): $ms ms"
