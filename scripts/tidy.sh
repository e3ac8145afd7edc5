#!/bin/sh
# clang-tidy over src/ with the checks of .clang-tidy (every finding is an error there) and the
# build's own flags. Exits non-zero on any finding, or when a file does not even parse. Two files
# at a time (the machine is shared): `sh scripts/tidy.sh [FILE...]`; the web assets' generated
# header is not needed (only src/ is analysed).
set -u
cd "$(dirname "$0")/.."
PKGS="libmicrohttpd libpq libcurl jansson openssl libargon2 libpcre2-8"
FLAGS="-std=c17 -D_GNU_SOURCE -pthread -Isrc $(pkg-config --cflags $PKGS)"
if [ $# -gt 0 ]; then
    FILES="$*"
else
    FILES=$(git ls-files 'src/*.c')
fi
LOG=$(mktemp /tmp/meshhook-tidy.XXXXXX)
# shellcheck disable=SC2086
printf '%s\n' $FILES | xargs -P 2 -I{} clang-tidy --quiet {} -- $FLAGS >"$LOG" 2>&1
rc=$?
grep -E ': (warning|error): ' "$LOG"
n=$(printf '%s\n' $FILES | wc -l)
rm -f "$LOG"
if [ $rc -ne 0 ]; then
    echo "clang-tidy: findings (or a file that does not parse) in $n files"
    exit 1
fi
echo "clang-tidy: $n files, no findings"
