#!/bin/sh
# `make run`: start MeshHook on :8080 (MESHHOOK_PORT to change), with a private PostgreSQL under
# ./.meshhook/pg unless MESHHOOK_DATABASE_URL names a database. Reuses the cluster on later
# runs; Ctrl-C stops the server, then the cluster.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/build/release/meshhook"
STATE="$ROOT/.meshhook"
mkdir -p "$STATE"

started_pg=""
if [ -z "${MESHHOOK_DATABASE_URL:-}" ]; then
    pgdir="$STATE/pg"
    if [ "$(id -u)" -eq 0 ] && [ ! -e "$pgdir" ] && ! runuser -u postgres -- test -x "$STATE" 2>/dev/null; then
        # As root the cluster runs as `postgres`, which cannot enter a private home directory:
        # keep the data where it can and link it here.
        alt="/var/lib/meshhook/$(printf '%s' "$ROOT" | sha256sum | cut -c1-16)/pg"
        mkdir -p "$alt"
        ln -s "$alt" "$pgdir"
    fi
    mkdir -p "$pgdir"
    if [ -f "$STATE/pg.port" ]; then
        port=$(cat "$STATE/pg.port")
    else
        port=$(sh "$ROOT/scripts/free-port.sh" 54329)
        echo "$port" >"$STATE/pg.port"
    fi
    sh "$ROOT/scripts/pg.sh" start "$pgdir" "$port"
    # Only what is unset comes from the private cluster (as in src/core/config.c).
    given_admin=${MESHHOOK_ADMIN_DATABASE_URL:-}
    eval "$(sh "$ROOT/scripts/pg.sh" urls "$pgdir" "$port")"
    if [ -n "$given_admin" ]; then
        MESHHOOK_ADMIN_DATABASE_URL=$given_admin
        echo "meshhook: warning: MESHHOOK_ADMIN_DATABASE_URL is set but MESHHOOK_DATABASE_URL is not:" \
            "migrating the database it names, serving from the private cluster" >&2
    fi
    export MESHHOOK_DATABASE_URL MESHHOOK_ADMIN_DATABASE_URL
    started_pg="$pgdir"
    echo "meshhook: private PostgreSQL running in $pgdir (port $port)"
fi

stop_pg() {
    if [ -n "$started_pg" ]; then
        sh "$ROOT/scripts/pg.sh" stop "$started_pg"
    fi
}
trap stop_pg EXIT
trap 'exit 130' INT TERM

# Secrets need a key-encryption key. Without one configured, generate a development key once
# (32 random bytes as hex, mode 0600); production brings its own (docs/secrets.md).
if [ -z "${MESHHOOK_KEK_FILE:-}" ] && [ -z "${MESHHOOK_KEK:-}" ]; then
    if [ ! -f "$STATE/kek" ]; then
        (umask 077 && head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n' >"$STATE/kek.tmp")
        chmod 600 "$STATE/kek.tmp"
        mv "$STATE/kek.tmp" "$STATE/kek"
        echo "meshhook: generated a development key-encryption key in $STATE/kek (mode 0600, key id dev-1);"
        echo "          secrets stored now can only be read with it: keep it, or configure your own (docs/secrets.md)"
    fi
    export MESHHOOK_KEK_FILE="$STATE/kek"
    export MESHHOOK_KEK_ID="${MESHHOOK_KEK_ID:-dev-1}"
fi

# http_call refuses loopback and private addresses by default (docs/workflows.md). On a
# developer's machine the services a workflow calls usually are local, so `make run` allows them
# unless told otherwise; the server warns about it at start. Never copy this to production: name
# internal targets in MESHHOOK_OUTBOUND_ALLOWLIST or a project's allow-list instead.
if [ -z "${MESHHOOK_ALLOW_PRIVATE_TARGETS:-}" ]; then
    export MESHHOOK_ALLOW_PRIVATE_TARGETS=true
    echo "meshhook: development default: http_call may reach loopback and private addresses"
    echo "          (MESHHOOK_ALLOW_PRIVATE_TARGETS=false to refuse them as production does)"
fi

"$BIN" migrate
if ! "$BIN" user count >/dev/null 2>&1; then
    echo "meshhook: no users yet. In another terminal, from this directory, create the first:"
    echo "    ./build/release/meshhook user create --email you@example.com"
    echo "  then sign in at http://127.0.0.1:${MESHHOOK_PORT:-8080}/ (docs/ui.md)"
fi
port=${MESHHOOK_PORT:-8080}
echo "meshhook: serving on http://127.0.0.1:$port — open it in a browser (Ctrl-C to stop)"
"$BIN" serve --port "$port" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit 0' INT TERM
wait $pid
