#!/bin/sh
# Prints a TCP port on 127.0.0.1 that nothing listens on, searching upward from $1 (default
# 20000 plus a pid-derived offset, so parallel runs rarely collide).
port=${1:-$((20000 + $$ % 20000))}
while [ "$port" -lt 65000 ]; do
    if ! ss -Htan "( sport = :$port )" 2>/dev/null | grep -q .; then
        echo "$port"
        exit 0
    fi
    port=$((port + 1))
done
echo "free-port.sh: no free port" >&2
exit 1
