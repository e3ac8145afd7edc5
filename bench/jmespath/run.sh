#!/bin/sh
# SPDX-License-Identifier: MIT
# The JMESPath benchmark: builds the release library and bench_jp, installs the reference
# JavaScript implementation from package-lock.json (npm ci) when missing, and runs bench.js,
# which prints MeshHook and jmespath.js side by side. Needs ../shared (the benchmark cases).
#
#   sh bench/jmespath/run.sh [MS_PER_MEASUREMENT]    (default 300; 3 rounds take about 2 minutes)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
MS=${1:-300}
CASES=${MH_SHARED_DIR:-$ROOT/../shared}/suites/jmespath-official/from-jmespath.py/benchmarks.json
if [ ! -f "$CASES" ]; then
    echo "bench jmespath: skipped ($CASES is absent)"
    exit 0
fi
command -v node >/dev/null 2>&1 || { echo "bench jmespath: node is required" >&2; exit 1; }

make -s -j2 build/release/libmeshhook.a
mkdir -p build/release/bench
# shellcheck disable=SC2046
cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Isrc $(pkg-config --cflags jansson) \
    bench/jmespath/bench_jp.c build/release/libmeshhook.a \
    $(pkg-config --libs libmicrohttpd libpq libcurl jansson openssl libargon2 libpcre2-8) -lm \
    -pthread -o build/release/bench/bench_jp

if [ ! -d bench/jmespath/node_modules/jmespath ]; then
    (cd bench/jmespath && npm ci --no-audit --no-fund --silent)
fi
node bench/jmespath/bench.js --c build/release/bench/bench_jp --cases "$CASES" --ms "$MS"
