#!/usr/bin/env bash
# Soak: MINUTES (default 30) of mixed traffic against one `faena serve`,
# sampling every minute: RSS, open descriptors, database connections, the
# minute's p99 latency and its errors. Traffic: wrk at a steady rate
# (bench/soak.lua: order reads, list pages, HTML pages, client creation),
# SSE subscribers joining and leaving, and an image upload every 2 s (each
# enqueues a thumbnail job for the worker in the same process).
# Writes target/soak/<kind>.csv and target/soak/<kind>.svg (gnuplot).
# Usage: bench/soak.sh sqlite|postgres [BINARY] [MINUTES] [PORT]
#   needs wrk, curl, gnuplot and a release build
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-sqlite}
bin=${2:-target/release/faena}
minutes=${3:-30}
port=${4:-18200}
base="http://127.0.0.1:$port"
out=target/soak
mkdir -p "$out"
[ -x "$bin" ] || { echo "build first: cargo build --release --bin faena" >&2; exit 1; }
dir=$(mktemp -d)
db_name="faena_soak_$port"
export FAENA_LOG__FILTER=warn FAENA_ADMIN_EMAIL=admin@bench.test FAENA_ADMIN_PASSWORD='Banco-de-pruebas-2026!'
if [ "$kind" = postgres ]; then
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db_name" -c "CREATE DATABASE $db_name"
  export FAENA_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db_name?sslmode=disable"
fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  kill -INT "$server" 2>/dev/null; wait "$server" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

"$bin" demo --clients 2000 --orders 10000 --data-dir "$dir" >/dev/null
"$bin" serve --bind "127.0.0.1:$port" --data-dir "$dir" 2>"$out/$kind.log" &
server=$!
until curl -sf -o /dev/null "$base/api/health/ready"; do sleep 0.05; done
token=$(curl -s -X POST "$base/api/auth/login" -H 'content-type: application/json' \
  -d '{"email":"admin@bench.test","password":"Banco-de-pruebas-2026!"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
auth="Authorization: Bearer $token"

# A 64×64 PNG to upload (a thumbnail job each time).
python3 - "$dir/foto.png" <<'PY'
import struct, sys, zlib
w = h = 64
raw = b"".join(
    b"\0" + b"".join(bytes((x * 4 % 256, y * 4 % 256, 128)) for x in range(w)) for y in range(h)
)
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY

# Tokens last 15 minutes: sign in again every 10 for the side traffic.
refresh_token() {
  while sleep 600; do
    curl -s -X POST "$base/api/auth/login" -H 'content-type: application/json' \
      -d '{"email":"admin@bench.test","password":"Banco-de-pruebas-2026!"}' \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' > "$dir/token.new" \
      && mv "$dir/token.new" "$dir/token"
  done
}
echo "$token" > "$dir/token"
refresh_token & pids+=($!)

# SSE subscribers: 20 slots, each opening a stream for 5–25 s, again and again.
for i in $(seq 1 20); do
  ( while true; do
      curl -s -N -o /dev/null --max-time $((RANDOM % 20 + 5)) \
        -H "Authorization: Bearer $(cat "$dir/token")" "$base/api/events?topics=orders" || true
    done ) & pids+=($!)
done
# Uploads: an image attached to a random order every 2 s.
( n=0; while sleep 2; do
    n=$((n + 1))
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$dir/token")" \
      -F "file=@$dir/foto.png;type=image/png" \
      "$base/api/attachments/wms.order/$(printf 'ORD-%06d' $((RANDOM % 10000 + 1)))")
    [ "$code" = 201 ] || echo "upload $n: $code" >> "$out/$kind.upload-errors"
  done ) & pids+=($!)
: > "$out/$kind.upload-errors"

db_connections() {
  if [ "$kind" = postgres ]; then
    psql -h 127.0.0.1 -U postgres -tAc "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db_name'"
  else
    # Open handles on the database file (one per pooled connection).
    find /proc/"$server"/fd -lname "$dir/faena.db" 2>/dev/null | wc -l
  fi
}

csv="$out/$kind.csv"
echo "minute,rss_kib,open_fds,db_connections,requests,p99_ms,errors,upload_errors" > "$csv"
for minute in $(seq 1 "$minutes"); do
  result=$(SOAK_DELAY_MS=20 wrk -t2 -c8 -d60s --latency -s bench/soak.lua \
    -H "Authorization: Bearer $(cat "$dir/token")" "$base" 2>&1)
  requests=$(echo "$result" | awk '/requests in/ {print $1}')
  p99=$(echo "$result" | awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}')
  non2xx=$(echo "$result" | awk '/Non-2xx/ {print $NF}')
  sock=$(echo "$result" | awk '/Socket errors/ {gsub(",",""); print $4+$6+$8+$10}')
  errors=$(( ${non2xx:-0} + ${sock:-0} ))
  rss=$(awk '/VmRSS/ {print $2}' /proc/"$server"/status)
  fds=$(ls /proc/"$server"/fd | wc -l)
  line="$minute,$rss,$fds,$(db_connections),$requests,$p99,$errors,$(wc -l < "$out/$kind.upload-errors")"
  echo "$line" | tee -a "$csv"
done

gnuplot <<GP
set terminal svg size 900,600 dynamic font "sans,11"
set output "$out/$kind.svg"
set datafile separator ","
set key autotitle columnhead left top
set multiplot layout 2,1 title "Faena soak on $kind: $minutes min of mixed traffic"
set xlabel "minute"
set ylabel "MiB / count"
plot "$csv" using 1:(\$2/1024) with linespoints title "RSS (MiB)", \
     "" using 1:3 with linespoints title "open descriptors", \
     "" using 1:4 with linespoints title "database connections"
set ylabel "ms"
plot "$csv" using 1:6 with linespoints title "p99 latency (ms)"
unset multiplot
GP
echo "== $kind: $csv, $out/$kind.svg"
