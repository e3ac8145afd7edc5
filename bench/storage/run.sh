#!/bin/sh
# SPDX-License-Identifier: MIT
# Bytes stored per webhook delivery and per run (docs/operations.md, "Disk growth"), measured
# on the real schema: the release `meshhook serve` with workers, a published five-node workflow
# (transform -> branch -> transform | transform -> transform), an endpoint without
# verification, and N deliveries of a 1 KiB JSON body, each starting a run that then executes.
# Once every run has finished, prints the size of each table (pg_total_relation_size: heap,
# TOAST, indexes, free-space and visibility maps) divided by N, and the average row and payload
# widths (pg_column_size). Settings: N (default 2000).
#
#   sh bench/storage/run.sh
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
N=${N:-2000}
. bench/lib.sh
bench_require storage curl python3
make -s -j2 build/release/meshhook
BIN="$ROOT/build/release/meshhook"
DIR=$BENCH_TMP
bench_on_exit '[ -z "${KEEP_LOG:-}" ] || cp "$DIR/server.log" "$KEEP_LOG" 2>/dev/null || true'
bench_cluster_start
"$BIN" migrate >/dev/null

http_port=$(sh scripts/free-port.sh $((PORT + 1)))
bench_user_create
BASE="http://127.0.0.1:$http_port"
bench_serve "$BASE" "$DIR/server.log" "$BIN" serve --port "$http_port" --bind-address 127.0.0.1 \
    --kek "bench:$(python3 -c 'import os; print(os.urandom(32).hex())')" \
    --workers 2 --retention-interval-s 0 --log-level warn

python3 - "$BASE" "$N" <<'PY'
import http.client, json, sys, urllib.parse
base, n = sys.argv[1], int(sys.argv[2])
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port)
def call(method, path, body=None, headers=None):
    h = {'Content-Type': 'application/json'}
    h.update(headers or {})
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = conn.getresponse()
    data = r.read()
    return r.status, (json.loads(data) if data else None), r.getheader('Set-Cookie')
st, login, cookie = call('POST', '/api/auth/login',
                         {'email': 'bench@example.com', 'password': 'bench-password-0123456789'})
auth = {'Cookie': cookie.split(';')[0], 'X-CSRF-Token': login['csrf_token']}
st, tok, _ = call('POST', '/api/tokens', {'name': 'bench'}, auth)
auth = {'Authorization': 'Bearer ' + tok['token']}
st, p, _ = call('POST', '/api/projects', {'name': 'storage'}, auth)
pid = p['id']
definition = {'nodes': [
    {'id': 'pick', 'type': 'transform', 'config': {'expression': '{id: trigger.body.id, n: length(trigger.body.data.items)}'}},
    {'id': 'big', 'type': 'branch', 'config': {'condition': 'steps.pick.output.n > `10`'}},
    {'id': 'many', 'type': 'transform', 'config': {'expression': 'trigger.body.data.items[:5]'}},
    {'id': 'few', 'type': 'transform', 'config': {'expression': 'trigger.body.data.items'}},
    {'id': 'done', 'type': 'transform', 'config': {'expression': '{id: steps.pick.output.id, ok: `true`}'}}],
  'edges': [{'from': 'pick', 'to': 'big'}, {'from': 'big', 'to': 'many', 'port': 'true'},
            {'from': 'big', 'to': 'few', 'port': 'false'}, {'from': 'many', 'to': 'done'},
            {'from': 'few', 'to': 'done'}]}
st, w, _ = call('POST', '/api/projects/%s/workflows' % pid, {'name': 'storage', 'definition': definition}, auth)
assert st == 201, (st, w)
st, _, _ = call('POST', '/api/projects/%s/workflows/%s/publish' % (pid, w['id']), None, auth)
st, ep, _ = call('POST', '/api/projects/%s/workflows/%s/endpoints' % (pid, w['id']),
                 {'name': 'storage', 'rate_capacity': 1000000, 'rate_per_second': 1000000}, auth)
assert st == 201, (st, ep)
doc = {'id': 'evt_0000000', 'type': 'order.created', 'data': {'items': []}}
i = 0
while len(json.dumps(doc)) < 980:
    doc['data']['items'].append({'sku': 'SKU-%04d' % i, 'qty': i % 7 + 1})
    i += 1
for k in range(n):
    doc['id'] = 'evt_%07d' % k
    s = json.dumps(doc)
    s = s[:-1] + ', "pad": "' + 'x' * (1024 - len(s) - 11) + '"}'
    assert len(s) == 1024
    conn.request('POST', '/hooks/' + ep['public_id'], body=s,
                 headers={'Content-Type': 'application/json', 'X-Request-Id': 'r%d' % k})
    r = conn.getresponse()
    body = r.read()
    assert r.status == 202, (k, r.status, body)
PY

# Every run finished (they run on the server's two workers).
for _ in $(seq 1 600); do
    left=$(psql_su -c "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')")
    [ "$left" = 0 ] && break
    sleep 0.5
done
[ "$left" = 0 ] || { echo "bench storage: $left runs unfinished" >&2; exit 1; }
psql_su -c "VACUUM ANALYZE" >/dev/null
echo "deliveries and runs: $N, body 1024 bytes, 5-node workflow (4 steps run)"
psql_su -F ' ' <<SQL
SELECT 'events per run', round(count(*)::numeric / $N, 1) FROM events;
SELECT 'table', 'total_bytes_per_row', 'avg_row_bytes';
SELECT 'runs', pg_total_relation_size('runs') / $N,
       (SELECT round(avg(pg_column_size(r.*))) FROM runs r);
SELECT 'events (all partitions)',
       (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits
         WHERE inhparent = 'events'::regclass)::bigint / $N,
       (SELECT round(avg(pg_column_size(e.*)) * count(*) / $N) FROM events e);
SELECT 'webhook_deliveries', pg_total_relation_size('webhook_deliveries') / $N,
       (SELECT round(avg(pg_column_size(d.*))) FROM webhook_deliveries d);
SELECT 'jobs', pg_total_relation_size('jobs') / $N, (SELECT count(*) FROM jobs);
SELECT 'idempotency_keys', pg_total_relation_size('idempotency_keys') / $N,
       (SELECT count(*) FROM idempotency_keys);
SELECT 'first event payload avg bytes', round(avg(pg_column_size(payload))) FROM events WHERE seq = 1;
SELECT 'other events payload avg bytes', round(avg(pg_column_size(payload))) FROM events WHERE seq > 1;
SQL
