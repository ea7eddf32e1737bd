#!/usr/bin/env bash
# Start-to-ready time and idle memory of `faena serve` on an empty SQLite
# database. Usage: bench/startup.sh [runs]   (needs a release build:
# cargo build --release --bin faena)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
bin=target/release/faena
port=18080
[ -x "$bin" ] || { echo "build first: cargo build --release --bin faena" >&2; exit 1; }

times=()
for i in $(seq 1 "$runs"); do
  dir=$(mktemp -d)
  start=$(date +%s%N)
  # First start on an empty database: includes creating the administrator.
  FAENA_LOG__FILTER=warn FAENA_ADMIN_EMAIL=admin@bench.test FAENA_ADMIN_PASSWORD='Banco-de-pruebas-2026!' \
    "$bin" serve --bind 127.0.0.1:$port --data-dir "$dir" 2>/dev/null &
  pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/api/health/ready"; do :; done
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000000 )))
  if [ "$i" -eq "$runs" ]; then
    # Idle memory after a handful of requests to every kind of route.
    for path in / /api/health /api/system/info /api/openapi.json /metrics /api/nope; do
      curl -s -o /dev/null "http://127.0.0.1:$port$path"
    done
    sleep 1
    rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
    split=$(awk '/RssAnon|RssFile/ {printf "%s %d MiB, ", $1, $2 / 1024}' /proc/$pid/status)
  fi
  kill -INT $pid; wait $pid || true
  rm -rf "$dir"
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "start to ready (ms) over $runs runs: min ${sorted[0]}, median ${sorted[$((runs / 2))]}, max ${sorted[$((runs - 1))]}"
echo "idle RSS: $((rss / 1024)) MiB ($rss KiB; ${split%, })"
