#!/bin/sh
# SPDX-License-Identifier: MIT
# How fast a draft is tested against past deliveries (POST .../draft-test, docs/api.md "Testing a
# draft against past deliveries"): on a private PostgreSQL cluster, the release server runs a
# published 5-node workflow (transform, branch, transform, terminate, terminate) for DELIVERIES
# webhooks; then a draft whose branch threshold moved is tested against the last DELIVERIES (at
# most 500) ROUNDS times. Prints each round's time, the median and deliveries tested per second.
# Needs curl, openssl, python3.
#
#   [DELIVERIES=500] [ROUNDS=5] sh bench/drafttest/run.sh
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
DELIVERIES=${DELIVERIES:-500}
ROUNDS=${ROUNDS:-5}
. bench/lib.sh
bench_require drafttest curl openssl python3
make -s -j2 build/release/meshhook
BIN="$ROOT/build/release/meshhook"
DIR=$BENCH_TMP
bench_cluster_start
"$BIN" migrate >/dev/null
bench_user_create
http_port=$(sh scripts/free-port.sh $((PORT + 1)))
BASE="http://127.0.0.1:$http_port"
bench_serve "$BASE" "$DIR/server.log" "$BIN" serve --port "$http_port" --bind-address 127.0.0.1 \
    --kek "bench:$(openssl rand -hex 32)" --log-level warn

# Everything else (the API calls, the webhooks, the timing) in one Python process over one
# keep-alive connection.
python3 - "$BASE" "$DELIVERIES" "$ROUNDS" <<'PY'
import http.client, json, statistics, sys, time, urllib.parse
base, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
u = urllib.parse.urlparse(base)
c = http.client.HTTPConnection(u.hostname, u.port)
def call(method, path, body=None, headers=None):
    h = {'Content-Type': 'application/json', **(headers or {})}
    c.request(method, path, json.dumps(body) if body is not None else None, h)
    r = c.getresponse()
    data = r.read()
    if r.status >= 300 and r.status != 202:
        raise SystemExit('%s %s: %d %s' % (method, path, r.status, data[:300]))
    return r, json.loads(data) if data else None
r, login = call('POST', '/api/auth/login', {'email': 'bench@example.com', 'password': 'bench-password-0123456789'})
cookie = r.getheader('Set-Cookie').split(';')[0]
auth = {'Cookie': cookie, 'X-CSRF-Token': login['csrf_token']}
_, tok = call('POST', '/api/tokens', {'name': 'bench'}, auth)
auth = {'Authorization': 'Bearer ' + tok['token']}
_, p = call('POST', '/api/projects', {'name': 'bench'}, auth)
pid = p['id']
def definition(threshold):
    return {'nodes': [
        {'id': 'prepare', 'type': 'transform', 'config': {'expression': '{id: trigger.body.id, total: trigger.body.total, items: length(trigger.body.items)}'}},
        {'id': 'big', 'type': 'branch', 'config': {'condition': 'steps.prepare.output.total > `%d`' % threshold}},
        {'id': 'label', 'type': 'transform', 'config': {'expression': '{order: steps.prepare.output.id, tier: `"review"`}'}},
        {'id': 'review', 'type': 'terminate', 'config': {'status': 'succeeded', 'output': 'steps.label.output'}},
        {'id': 'pass', 'type': 'terminate', 'config': {'status': 'succeeded', 'output': 'steps.prepare.output'}}],
        'edges': [{'from': 'prepare', 'to': 'big'}, {'from': 'big', 'to': 'label', 'port': 'true'},
                  {'from': 'label', 'to': 'review'}, {'from': 'big', 'to': 'pass', 'port': 'false'}]}
_, wf = call('POST', '/api/projects/%s/workflows' % pid, {'name': 'bench', 'definition': definition(500)}, auth)
wid = wf['id']
call('POST', '/api/projects/%s/workflows/%s/publish' % (pid, wid), None, auth)
_, ep = call('POST', '/api/projects/%s/workflows/%s/endpoints' % (pid, wid),
             {'name': 'bench', 'verification': {'scheme': 'none'}, 'rate_capacity': 1000000, 'rate_per_second': 1000000}, auth)
for i in range(n):
    call('POST', ep['path'], {'id': i, 'total': (i * 37) % 1000, 'items': [{'sku': 'A'}, {'sku': 'B'}]})
deadline = time.time() + 120
while True:
    _, runs = call('GET', '/api/projects/%s/runs?limit=200&status=succeeded' % pid, None, auth)
    _, all_runs = call('GET', '/api/projects/%s/runs?limit=200' % pid, None, auth)
    if all(x['status'] not in ('queued', 'running') for x in all_runs['items']) or time.time() > deadline:
        break
    time.sleep(0.2)
call('PUT', '/api/projects/%s/workflows/%s/draft' % (pid, wid), {'definition': definition(700)}, auth)
last = min(n, 500)
times = []
for k in range(rounds):
    t0 = time.perf_counter()
    _, a = call('POST', '/api/projects/%s/workflows/%s/draft-test' % (pid, wid), {'last': last}, auth)
    dt = time.perf_counter() - t0
    times.append(dt)
    s = a['summary']
    print('round %d: %d deliveries tested, %d differ, in %.3f s' % (k + 1, s['tested'], s['differing'], dt))
med = statistics.median(times)
print('draft test: %d deliveries of a 5-node workflow, median %.3f s, %.0f deliveries/s' % (last, med, last / med))
PY
