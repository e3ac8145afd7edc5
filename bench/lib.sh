# SPDX-License-Identifier: MIT
# What every bench/*/run.sh shares, sourced from the repository's root:
#
#   . bench/lib.sh
#   BENCH_TMP          a private directory, removed at exit (with the cluster in it)
#   bench_on_exit CMD  runs CMD (a shell command) at exit, before the cluster stops
#   bench_cluster_start
#                      starts a throwaway PostgreSQL (scripts/pg.sh) in $BENCH_TMP/pg on a free
#                      port and sets PGDIR, PORT and the MESHHOOK_*DATABASE_URL variables (exported)
#   as_postgres CMD..  runs CMD as the cluster's owner (postgres when we are root)
#   run_psql ARGS..    psql of the cluster's version, as its owner
#   run_pgbench ARGS.. pgbench of the cluster's version, as its owner
#
# The pg binaries are the newest installed (/usr/lib/postgresql/*/bin), as scripts/pg.sh uses.
BENCH_TMP=$(mktemp -d /tmp/meshhook-bench.XXXXXX)
chmod 755 "$BENCH_TMP"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
PGDIR=""
PORT=""
BENCH_ON_EXIT=""

bench_on_exit() {
    BENCH_ON_EXIT="$BENCH_ON_EXIT
$1"
}

bench_cleanup() {
    eval "$BENCH_ON_EXIT" || true
    [ -z "$PGDIR" ] || sh scripts/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true
    rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
run_psql() { as_postgres "$PGBIN/psql" "$@"; }
run_pgbench() { as_postgres "$PGBIN/pgbench" "$@"; }

bench_cluster_start() {
    PGDIR=$BENCH_TMP/pg
    PORT=$(sh scripts/free-port.sh)
    sh scripts/pg.sh start "$PGDIR" "$PORT" >/dev/null
    eval "$(sh scripts/pg.sh urls "$PGDIR" "$PORT")"
    export MESHHOOK_DATABASE_URL MESHHOOK_ADMIN_DATABASE_URL
}
