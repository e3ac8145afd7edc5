#!/bin/sh
# A private PostgreSQL cluster for `make run` and for the tests (docs/architecture.md §1).
#
#   pg.sh start DIR PORT   create (first time) and start a cluster with its data in DIR/data,
#                          its socket in DIR/run, listening on 127.0.0.1:PORT only
#   pg.sh stop DIR         fast shutdown
#   pg.sh urls DIR PORT    print the three connection URLs as shell assignments
#
# initdb and postgres refuse to run as root, so as root the cluster runs as Debian's `postgres`
# user, which then owns DIR. Roles: `postgres` (bootstrap superuser), `meshhook` (owns the
# database and runs migrations), `meshhook_app` (what the server connects as: no ownership, no
# BYPASSRLS, so row-level security always applies to it). Local socket connections are trusted
# and the socket directory is private (0700); TCP on loopback requires a password.
#
# Settings of a new cluster from the environment: MH_PG_FAST=1 (no fsync: the tests' clusters),
# MH_PG_SHARED_BUFFERS (default 512MB; the benchmarks' experiments), MH_PG_ARCHIVE=DIR (continuous
# archiving: every finished WAL segment is copied to DIR, never overwriting one already there;
# docs/operations.md, "Backups").
set -eu

BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$BINDIR" ] || { echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pg.sh start|stop|urls DIR [PORT]" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$cmd" in
start)
    port=${3:?port}
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$dir"
        # postgres must be able to reach DIR; refuse clearly rather than fail obscurely.
        if ! runuser -u postgres -- test -x "$dir"; then
            echo "pg.sh: user postgres cannot reach $dir (a parent directory is private)" >&2
            exit 1
        fi
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$BINDIR/initdb" -D "$dir/data" -U postgres --auth-local=trust \
            --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
            cat "$dir/initdb.log" >&2
            exit 1
        }
        as_owner mkdir -p "$dir/run"
        as_owner chmod 700 "$dir/run"
        {
            echo "listen_addresses = '127.0.0.1'"
            echo "port = $port"
            echo "unix_socket_directories = '$dir/run'"
            echo "max_connections = 200"
            # Sized for a webhook workload rather than PostgreSQL's conservative defaults: a
            # buffer pool that holds the hot tables, so backends do not write out dirty pages
            # themselves; enough WAL between checkpoints that they come from the timeout, not
            # from the write rate, and kept for recycling; full-page images compressed
            # (docs/BENCHMARKS.md, "Webhook intake").
            echo "shared_buffers = ${MH_PG_SHARED_BUFFERS:-512MB}"
            echo "max_wal_size = 4GB"
            echo "min_wal_size = 1GB"
            echo "checkpoint_timeout = 15min"
            echo "wal_compression = lz4"
            echo "logging_collector = off"
            echo "log_min_messages = warning"
            [ -n "${MH_PG_FAST:-}" ] && echo "fsync = off" && echo "full_page_writes = off"
            if [ -n "${MH_PG_ARCHIVE:-}" ]; then
                echo "archive_mode = on"
                echo "archive_command = 'test ! -f ${MH_PG_ARCHIVE}/%f && cp %p ${MH_PG_ARCHIVE}/%f'"
            fi
        } | as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
        fresh=1
    else
        fresh=0
    fi
    if ! as_owner "$BINDIR/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_owner "$BINDIR/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
            -o "-p $port -k $dir/run" start >/dev/null || {
            tail -n 20 "$dir/postgres.log" >&2
            exit 1
        }
    fi
    if [ "$fresh" -eq 1 ]; then
        as_owner "$BINDIR/psql" -q -h "$dir/run" -p "$port" -U postgres -d postgres \
            -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE ROLE meshhook LOGIN CREATEDB CREATEROLE;
CREATE ROLE meshhook_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE DATABASE meshhook OWNER meshhook;
SQL
    fi
    ;;
stop)
    if [ -f "$dir/data/PG_VERSION" ]; then
        as_owner "$BINDIR/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
urls)
    port=${3:?port}
    echo "MESHHOOK_DATABASE_URL='postgresql:///meshhook?host=$dir/run&port=$port&user=meshhook_app'"
    echo "MESHHOOK_ADMIN_DATABASE_URL='postgresql:///meshhook?host=$dir/run&port=$port&user=meshhook'"
    echo "MESHHOOK_SUPER_DATABASE_URL='postgresql:///postgres?host=$dir/run&port=$port&user=postgres'"
    ;;
*)
    echo "usage: pg.sh start|stop|urls DIR [PORT]" >&2
    exit 2
    ;;
esac
