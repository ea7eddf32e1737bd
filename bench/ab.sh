#!/usr/bin/env bash
# Two builds of Faena, A and B, against each other on the same machine:
# each gets its own copy of the same demo data (10,000 clients, 100,000
# orders), then they take turns, ROUNDS times, under
# wrk -t2 -c64 -d15s --latency on one route (default: an order by key),
# authenticated as a real user. Interleaving spreads the machine's drift
# (frequency, caches, other work) over both; the medians are what to
# compare.
# With PIN=1 the server runs on CPU 0 and wrk (one thread) on CPU 1, so
# the two do not take turns on the same cores: lower figures, much less
# spread between runs.
# Usage: [PIN=1] bench/ab.sh BINARY_A BINARY_B [ROUNDS] [PATH]
#   e.g. PIN=1 bench/ab.sh /tmp/faena-before target/release/faena 8
set -euo pipefail
cd "$(dirname "$0")/.."
a=$(realpath "$1")
b=$(realpath "$2")
rounds=${3:-5}
path=${4:-/api/orders/ORD-050000}
port=18110
base="http://127.0.0.1:$port"
for bin in "$a" "$b"; do [ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 1; }; done
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -INT $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
export FAENA_LOG__FILTER=warn FAENA_ADMIN_EMAIL=admin@bench.test FAENA_ADMIN_PASSWORD='Banco-de-pruebas-2026!'
unset FAENA_DATABASE_URL

login() {
  curl -s -X POST "$base/api/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"Banco-de-pruebas-2026!\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
server_cpu=() load=(wrk -t2)
if [ "${PIN:-0}" = 1 ]; then server_cpu=(taskset -c 0); load=(taskset -c 1 wrk -t1); fi
start() { # BINARY DIR
  "${server_cpu[@]}" "$1" serve --bind 127.0.0.1:$port --data-dir "$2" 2>/dev/null &
  pid=$!
  until curl -sf -o /dev/null "$base/api/health/ready"; do sleep 0.05; done
}
stop() { kill -INT "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

for side in a b; do
  bin=${!side}
  mkdir -p "$work/$side"
  "$bin" demo --clients 10000 --orders 100000 --data-dir "$work/$side" >/dev/null
  start "$bin" "$work/$side"
  admin=$(login admin@bench.test)
  curl -s -o /dev/null -X POST "$base/api/users" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
    -d '{"email":"jefa@bench.test","name":"Jefa de bodega","role":"manager","password":"Banco-de-pruebas-2026!"}'
  stop
done

# One unmeasured turn each first: the first minutes after the data is made
# run slower for both (the page cache fills), which would favour whichever
# went last.
for side in a b; do
  start "${!side}" "$work/$side"
  "${load[@]}" -c64 -d20s -H "Authorization: Bearer $(login jefa@bench.test)" "$base$path" >/dev/null
  stop
done

declare -A results
for round in $(seq 1 "$rounds"); do
  for side in a b; do
    bin=${!side}
    start "$bin" "$work/$side"
    token=$(login jefa@bench.test)
    # A short warm-up, then the measured run.
    "${load[@]}" -c64 -d3s -H "Authorization: Bearer $token" "$base$path" >/dev/null
    out=$("${load[@]}" -c64 -d15s --latency -H "Authorization: Bearer $token" "$base$path")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" || true)
    stop
    printf 'round %d %s: %s req/s, p99 %s %s\n' "$round" "$side" "$rps" "$p99" "$errors"
    results[$side]+="$rps "
  done
done
for side in a b; do
  printf '%s (%s): median %s req/s of %s\n' "$side" "${!side}" \
    "$(tr ' ' '\n' <<<"${results[$side]}" | grep . | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}')" \
    "${results[$side]}"
done
