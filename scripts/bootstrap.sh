#!/bin/sh
# Installs the Debian packages MeshHook needs when they are missing. As root it runs apt-get;
# otherwise it prints the exact command and fails. Usage: bootstrap.sh [extra package ...]
# Node.js and npm build the web app (web/): Debian's `nodejs` and `npm` are installed only when
# no `node`/`npm` command exists, so a newer Node installed another way is kept.
set -eu

PKGS="gcc make pkg-config libc6-dev libmicrohttpd-dev libpq-dev libcurl4-openssl-dev \
libjansson-dev libssl-dev libargon2-dev libpcre2-dev postgresql postgresql-contrib \
clang-format curl ca-certificates iproute2 $*"

command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    echo "bootstrap: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q $missing >/dev/null 2>&1; then
        apt-get update -q >/dev/null
        apt-get install -y -q $missing
    fi
else
    echo "bootstrap: missing Debian packages:$missing" >&2
    echo "bootstrap: run: sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
