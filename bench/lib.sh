# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2034
# What every bench/*/run.sh shares, sourced from the repository's root:
#
#   . bench/lib.sh
#   BENCH_TMP          a private directory, removed at exit (with the cluster in it)
#   bench_on_exit CMD  runs CMD (a shell command) at exit, after the servers stop, before the cluster
#   bench_require NAME TOOL..
#                      exits with "bench NAME: TOOL is required" unless every TOOL is installed
#   bench_cluster_start
#                      starts a throwaway PostgreSQL (scripts/pg.sh) in $BENCH_TMP/pg on a free
#                      port and sets PGDIR, PORT and the MESHHOOK_*DATABASE_URL variables (exported)
#   as_postgres CMD..  runs CMD as the cluster's owner (postgres when we are root)
#   run_psql ARGS..    psql of the cluster's version, as its owner
#   run_pgbench ARGS.. pgbench of the cluster's version, as its owner
#   psql_su ARGS..     run_psql -X -Atq as the superuser on the cluster's meshhook database
#   bench_build_engine OUT
#                      compiles bench/engine/bench_engine.c against build/release/libmeshhook.a
#                      and the libraries it needs (BENCH_PKGS, pkg-config names)
#
# A server (BIN: the meshhook binary to run, set by the script):
#   bench_serve BASE LOG CMD..
#                      starts CMD (e.g. "$BIN" serve --port ...) in the background, its output
#                      appended to LOG, and waits until BASE/healthz answers (exits when it does
#                      not within BENCH_SERVE_WAIT_S seconds, default 10); its pid in
#                      BENCH_SERVER_PID. Every server still running is stopped at exit.
#   bench_serve_stop [PID]
#                      stops the server PID (default: BENCH_SERVER_PID) and waits for it
#
# Through the API of a running server at BENCH_BASE:
#   bench_user_create  the user bench@example.com (the CLI, before or after a server starts)
#   bench_api_token    signs that user in and sets BENCH_TOKEN to a new API token
#   bench_api METHOD PATH [BODY]
#                      curl -sf with the token, a JSON body, the answer on stdout
#   bench_json_field FIELD
#                      reads JSON on stdin, prints field FIELD (a.b for a nested one)
#   bench_hmac_endpoint
#                      a project "bench", a published one-transform workflow and an endpoint
#                      verifying HMAC-SHA256 with no rate limit to speak of: sets
#                      BENCH_PROJECT_ID, BENCH_PUBLIC_ID and BENCH_SECRET (its signing key)
#
#   bench_alert_rules COUNT
#                      COUNT alert rules on BENCH_PROJECT_ID, every kind in turn, none of them
#                      firing (their thresholds are out of reach), as the admin
#
# Load for wrk:
#   bench_wrk_post FILE SIG OUT
#                      writes a wrk script to OUT that POSTs FILE with X-Signature: SIG
#   bench_hmac_load    after bench_hmac_endpoint: a 1 KiB JSON order (an object with a list of
#                      items) in $BENCH_TMP/body.json, its signature in BENCH_SIG, and the wrk
#                      script POSTing it signed in $BENCH_TMP/post.lua
#   bench_hmac_deliver COUNT PARALLEL
#                      after bench_hmac_load: POSTs that body signed COUNT times to BENCH_BASE,
#                      PARALLEL at a time (curl's own parallelism: no process per request), and
#                      prints the answers' statuses counted ("2000 x 202")
#
# The pg binaries are the newest installed (/usr/lib/postgresql/*/bin), as scripts/pg.sh uses.
BENCH_TMP=$(mktemp -d /tmp/meshhook-bench.XXXXXX)
chmod 755 "$BENCH_TMP"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
PGDIR=""
PORT=""
BENCH_ON_EXIT=""
BENCH_SERVERS=""
BENCH_SERVER_PID=""
BENCH_BASE=""
BENCH_TOKEN=""
BENCH_PASSWORD=bench-password-0123456789

bench_on_exit() {
    BENCH_ON_EXIT="$BENCH_ON_EXIT
$1"
}

bench_cleanup() {
    for p in $BENCH_SERVERS; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $BENCH_SERVERS; do wait "$p" 2>/dev/null || true; done
    eval "$BENCH_ON_EXIT" || true
    [ -z "$PGDIR" ] || sh scripts/pg.sh stop "$PGDIR" >/dev/null 2>&1 || true
    rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

bench_require() { # NAME TOOL..
    name=$1
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || { echo "bench $name: $tool is required" >&2; exit 1; }
    done
}

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
run_psql() { as_postgres "$PGBIN/psql" "$@"; }
run_pgbench() { as_postgres "$PGBIN/pgbench" "$@"; }
psql_su() { run_psql -X -Atq -h "$PGDIR/run" -p "$PORT" -U postgres -d meshhook "$@"; }

bench_cluster_start() {
    PGDIR=$BENCH_TMP/pg
    PORT=$(sh scripts/free-port.sh)
    sh scripts/pg.sh start "$PGDIR" "$PORT" >/dev/null
    eval "$(sh scripts/pg.sh urls "$PGDIR" "$PORT")"
    export MESHHOOK_DATABASE_URL MESHHOOK_ADMIN_DATABASE_URL
}

# What a program linked with build/release/libmeshhook.a links too.
BENCH_PKGS="libmicrohttpd libpq libcurl jansson openssl libargon2 libpcre2-8"

bench_build_engine() { # OUT
    # shellcheck disable=SC2046,SC2086
    cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Isrc -Itests/integration \
        $(pkg-config --cflags jansson libpq) bench/engine/bench_engine.c tests/integration/mock_http.c \
        build/release/libmeshhook.a $(pkg-config --libs $BENCH_PKGS) -lm -pthread -o "$1"
}

bench_serve() { # BASE LOG CMD..
    base=$1
    log=$2
    shift 2
    "$@" >>"$log" 2>&1 &
    BENCH_SERVER_PID=$!
    BENCH_SERVERS="$BENCH_SERVERS $BENCH_SERVER_PID"
    for _ in $(seq 1 $((${BENCH_SERVE_WAIT_S:-10} * 10))); do
        curl -sf "$base/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "bench: the server at $base did not start (log: $log)" >&2
    tail -n 20 "$log" >&2
    exit 1
}

bench_serve_stop() { # [PID]
    pid=${1:-$BENCH_SERVER_PID}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rest=""
    for p in $BENCH_SERVERS; do [ "$p" = "$pid" ] || rest="$rest $p"; done
    BENCH_SERVERS=$rest
    [ "$pid" != "$BENCH_SERVER_PID" ] || BENCH_SERVER_PID=""
}

bench_user_create() {
    printf '%s\n' "$BENCH_PASSWORD" | "$BIN" user create --email bench@example.com >/dev/null
}

bench_json_field() { # FIELD
    python3 -c "import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split('.'): v=v[k]
print(v)" "$1"
}

bench_api_token() {
    login=$(curl -sf -c "$BENCH_TMP/cookies" -H 'Content-Type: application/json' \
        -d "{\"email\": \"bench@example.com\", \"password\": \"$BENCH_PASSWORD\"}" \
        "$BENCH_BASE/api/auth/login")
    csrf=$(printf '%s\n' "$login" | bench_json_field csrf_token)
    BENCH_TOKEN=$(curl -sf -b "$BENCH_TMP/cookies" -H 'Content-Type: application/json' \
        -H "X-CSRF-Token: $csrf" -d '{"name": "bench"}' "$BENCH_BASE/api/tokens" |
        bench_json_field token)
}

bench_api() { # METHOD PATH [BODY]
    curl -sf -X "$1" -H "Authorization: Bearer $BENCH_TOKEN" -H 'Content-Type: application/json' \
        ${3:+-d "$3"} "$BENCH_BASE$2"
}

bench_hmac_endpoint() {
    BENCH_PROJECT_ID=$(bench_api POST /api/projects '{"name": "bench"}' | bench_json_field id)
    project=$BENCH_PROJECT_ID
    workflow=$(bench_api POST "/api/projects/$project/workflows" \
        '{"name": "bench", "definition": {"nodes": [{"id": "echo", "type": "transform", "config": {"expression": "trigger.body.id"}}], "edges": []}}' |
        bench_json_field id)
    bench_api POST "/api/projects/$project/workflows/$workflow/publish" >/dev/null
    endpoint=$(bench_api POST "/api/projects/$project/workflows/$workflow/endpoints" \
        '{"name": "bench", "verification": {"scheme": "hmac"}, "rate_capacity": 1000000, "rate_per_second": 1000000}')
    BENCH_PUBLIC_ID=$(printf '%s\n' "$endpoint" | bench_json_field public_id)
    BENCH_SECRET=$(printf '%s\n' "$endpoint" | bench_json_field key.secret)
}

bench_hmac_load() {
    python3 -c "
import json, sys
doc = {'id': 'evt_bench', 'type': 'order.created', 'data': {'items': []}}
i = 0
while len(json.dumps(doc)) < 980:
    doc['data']['items'].append({'sku': 'SKU-%04d' % i, 'qty': i % 7 + 1})
    i += 1
s = json.dumps(doc)
s = s[:-1] + ', \"pad\": \"' + 'x' * (1024 - len(s) - 11) + '\"}'
assert len(s) == 1024, len(s)
open(sys.argv[1], 'w').write(s)
" "$BENCH_TMP/body.json"
    BENCH_SIG=$(openssl dgst -sha256 -hmac "$BENCH_SECRET" -r "$BENCH_TMP/body.json" | cut -d' ' -f1)
    bench_wrk_post "$BENCH_TMP/body.json" "$BENCH_SIG" "$BENCH_TMP/post.lua"
}

bench_hmac_deliver() { # COUNT PARALLEL
    curl -s --no-progress-meter --parallel --parallel-max "$2" -o /dev/null -w '%{http_code}\n' \
        -H 'Content-Type: application/json' -H "X-Signature: $BENCH_SIG" \
        --data-binary "@$BENCH_TMP/body.json" "$BENCH_BASE/hooks/$BENCH_PUBLIC_ID?n=[1-$1]" |
        sort | uniq -c | awk '{ printf "%s%s x %s", (NR > 1 ? ", " : ""), $1, $2 }'
}

bench_alert_rules() { # COUNT
    psql -X -q -v ON_ERROR_STOP=1 "$MESHHOOK_ADMIN_DATABASE_URL" -c \
        "INSERT INTO alert_rules (project_id, name, kind, window_s, threshold)
         SELECT '$BENCH_PROJECT_ID', 'bench ' || i, (ARRAY['run_failed', 'failure_count',
                'failure_rate', 'dead_letter', 'queue_age', 'refusals'])[1 + i % 6], 300,
                CASE WHEN i % 6 IN (0, 3) THEN 1 WHEN i % 6 = 2 THEN 99.99 ELSE 1000000 END
           FROM generate_series(0, $1 - 1) i" >/dev/null
}

bench_wrk_post() { # FILE SIG OUT
    python3 -c "
import json, sys
body = open(sys.argv[1]).read()
print('wrk.method = \"POST\"')
print('wrk.body = ' + json.dumps(body))
print('wrk.headers[\"Content-Type\"] = \"application/json\"')
print('wrk.headers[\"X-Signature\"] = \"' + sys.argv[2] + '\"')
" "$1" "$2" >"$3"
}
