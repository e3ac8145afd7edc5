#!/bin/sh
# SPDX-License-Identifier: MIT
# The benchmarks behind `make bench`: runs every bench/<name>/run.sh in turn (each builds what
# it needs and prints its own table). A benchmark is added by creating its directory with a
# run.sh. Naming benchmarks runs only those:
#
#   sh bench/run.sh [NAME...]        e.g. sh bench/run.sh jmespath
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
status=0
if [ $# -gt 0 ]; then
    names="$*"
else
    names=$(for d in bench/*/run.sh; do [ -f "$d" ] && basename "$(dirname "$d")"; done)
fi
for name in $names; do
    echo "== bench: $name"
    sh "bench/$name/run.sh" || status=1
done
exit $status
