#!/bin/sh
# SPDX-License-Identifier: MIT
# The live-stream benchmark (docs/BENCHMARKS.md, "Live streams"): a private PostgreSQL cluster,
# the release server, and bench_streams.c (memory per subscriber, commit-to-arrival latency,
# intake rate with and without subscribers attached).
#
#   sh bench/streams/run.sh [SUBS [FEEDS [RATE [SECONDS]]]]    (defaults 1000 10 250 10)
#
# SUBS run-stream subscribers (all on one long-running run) and FEEDS project-feed subscribers
# (at most 256); webhooks paced at RATE/s for the latency; SECONDS per load phase.
# MESHHOOK_BENCH_BIN=path measures another build of the server (say, the previous commit's)
# against the same benchmark client.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SUBS=${1:-1000}
FEEDS=${2:-10}
RATE=${3:-250}
SECONDS_=${4:-10}
make -s -j2 build/release/meshhook build/release/libmeshhook.a
. bench/lib.sh
mkdir -p build/release/bench
# shellcheck disable=SC2046,SC2086
cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Isrc -Itests/integration \
    $(pkg-config --cflags jansson libpq) bench/streams/bench_streams.c tests/integration/sse_client.c \
    build/release/libmeshhook.a $(pkg-config --libs $BENCH_PKGS) -lm -pthread \
    -o build/release/bench/bench_streams
bench_cluster_start
MESHHOOK_ADMIN_DATABASE_URL=$MESHHOOK_ADMIN_DATABASE_URL build/release/meshhook migrate >/dev/null
ulimit -n 8192 2>/dev/null || true
build/release/bench/bench_streams "${MESHHOOK_BENCH_BIN:-build/release/meshhook}" \
    "$MESHHOOK_ADMIN_DATABASE_URL" \
    "$MESHHOOK_DATABASE_URL" "$SUBS" "$FEEDS" "$RATE" "$SECONDS_"
