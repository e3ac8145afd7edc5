#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds and runs every libFuzzer target, for `make fuzz`:
#
#   sh tests/fuzz/run.sh SECONDS [TARGET...]
#
# Each tests/fuzz/fuzz_<name>.c is linked (clang, -fsanitize=fuzzer,address,undefined) against
# all of src/ except main.c, built into build/fuzz/ through the main Makefile, and run for
# SECONDS seconds on its committed corpus tests/fuzz/corpus/<name>/ (read only: new inputs go to
# build/fuzz/corpus/<name>/) with tests/fuzz/<name>.dict when present. A crash leaves its input
# in tests/fuzz/artifacts/ and makes the script fail; turn it into a regression case (copy it
# into the corpus, which the unit tests replay). Without arguments every target runs; naming
# targets (e.g. "jp") runs only those. A new target needs nothing but its fuzz_<name>.c file.
# With FUZZ_MERGE=1, a clean run's new inputs are merged into the committed corpus, keeping only
# those that add edge coverage (-merge=1 -use_counters=0), so that corpora stay small; commit
# them, and name any seed whose verdict matters accept-* or reject-* (see the replay tests).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SECONDS_EACH=${1:-60}
[ $# -gt 0 ] && shift
PKGS="libmicrohttpd libpq libcurl jansson openssl libargon2 libpcre2-8"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"

if ! command -v clang >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "fuzz: installing clang"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
    else
        echo "fuzz: clang is required (apt-get install clang)" >&2
        exit 1
    fi
fi

# libFuzzer's runtime ships in libclang-rt-<major>-dev on Debian; check that it links.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2>/dev/null; then
    major=$(clang -dumpversion | cut -d. -f1)
    if [ "$(id -u)" = 0 ]; then
        echo "fuzz: installing libclang-rt-$major-dev"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "libclang-rt-$major-dev" >/dev/null
    fi
    clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" || {
        echo "fuzz: clang cannot link libFuzzer" >&2
        exit 1
    }
fi

# The library, instrumented for coverage. -Wno-error: clang may warn where gcc does not, and a
# warning in another module must not stop fuzzing; -U_FORTIFY_SOURCE: ASan does that job.
make -s -j2 VARIANT=fuzz CC=clang \
    EXTRA_CFLAGS="-fsanitize=fuzzer-no-link $SAN -fno-omit-frame-pointer -Wno-error -U_FORTIFY_SOURCE" \
    EXTRA_LDFLAGS="$SAN" build/fuzz/libmeshhook.a

targets=""
if [ $# -gt 0 ]; then
    for t in "$@"; do targets="$targets tests/fuzz/fuzz_$t.c"; done
else
    targets=$(ls tests/fuzz/fuzz_*.c 2>/dev/null || true)
fi
[ -n "$targets" ] || { echo "fuzz: no targets"; exit 0; }

mkdir -p tests/fuzz/artifacts
status=0
for src in $targets; do
    name=$(basename "$src" .c)
    name=${name#fuzz_}
    bin=build/fuzz/fuzz_$name
    # shellcheck disable=SC2046
    clang -std=c17 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer $SAN -Isrc \
        $(pkg-config --cflags $PKGS) "$src" build/fuzz/libmeshhook.a \
        $(pkg-config --libs $PKGS) -lm -pthread -o "$bin"
    mkdir -p "build/fuzz/corpus/$name" "tests/fuzz/corpus/$name"
    dict=""
    [ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
    echo "fuzz: $name for ${SECONDS_EACH}s"
    # shellcheck disable=SC2086
    if ! "$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="tests/fuzz/artifacts/$name-" $dict \
        "build/fuzz/corpus/$name" "tests/fuzz/corpus/$name" 2>"build/fuzz/$name.log"; then
        echo "fuzz: $name FAILED; last lines of build/fuzz/$name.log:"
        tail -n 40 "build/fuzz/$name.log"
        status=1
    else
        grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|Done )' \
            "build/fuzz/$name.log" || true
        grep -E 'DONE +cov:' "build/fuzz/$name.log" | tail -n 1 || true
        if [ "${FUZZ_MERGE:-0}" = 1 ]; then
            "$bin" -merge=1 -use_counters=0 -timeout=10 -rss_limit_mb=2048 \
                "tests/fuzz/corpus/$name" "build/fuzz/corpus/$name" 2>"build/fuzz/$name.merge.log" &&
                echo "fuzz: $name corpus now $(ls "tests/fuzz/corpus/$name" | wc -l) files"
        fi
    fi
done
exit $status
