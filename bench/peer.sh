#!/usr/bin/env bash
# Faena side by side with the stack it replaces (../shared/peer: seed 004's
# API on FastAPI + async SQLAlchemy + uvicorn, 2 workers), on the same
# machine, the same PostgreSQL and the same amount of data (10,000 clients,
# 100,000 orders), in the same run. Each scenario is
# `wrk -t2 -c64 -d${SECS}s --latency` against each server in turn, RUNS
# times (median kept), after a 5-second warm-up; then the ratios.
#
#   bench/peer.sh [FAENA_BINARY]        (needs wrk, a release build and PostgreSQL)
#   RUNS=1 SECS=10 bench/peer.sh        (a quicker look)
#
# Faena is signed in as a real manager user (bearer token; every request
# checks the sign-in and the permission, and the read of a client is
# audited); the peer has no authentication at all.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/faena}
runs=${RUNS:-3}
secs=${SECS:-15}
peer_port=18900
port=18101
peer="http://127.0.0.1:$peer_port"
base="http://127.0.0.1:$port"
[ -x "$bin" ] || { echo "build first: cargo build --release --bin faena" >&2; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

echo "== the peer: seeding its database and starting uvicorn (2 workers)"
PORT=$peer_port WORKERS=2 setsid ../shared/peer/serve.sh >"$dir/peer.log" 2>&1 &
peer_pid=$!
pids+=("$peer_pid")

echo "== Faena: demo data on PostgreSQL"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS faena_bench" -c "CREATE DATABASE faena_bench"
export FAENA_LOG__FILTER=warn FAENA_ADMIN_EMAIL=admin@bench.test FAENA_ADMIN_PASSWORD='Banco-de-pruebas-2026!'
export FAENA_DATABASE_URL="postgres://postgres@127.0.0.1:5432/faena_bench?sslmode=disable"
"$bin" demo --clients 10000 --orders 100000 --data-dir "$dir" >/dev/null
"$bin" serve --bind 127.0.0.1:$port --data-dir "$dir" 2>"$dir/faena.log" &
faena_pid=$!
pids+=("$faena_pid")
until curl -sf -o /dev/null "$base/api/health/ready"; do sleep 0.1; done
for _ in $(seq 1 600); do curl -sf -o /dev/null "$peer/api/health" && break; sleep 0.5; done
curl -sf -o /dev/null "$peer/api/health" || { cat "$dir/peer.log" >&2; echo "the peer did not start" >&2; exit 1; }

login() {
  curl -s -X POST "$base/api/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"Banco-de-pruebas-2026!\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
admin=$(login admin@bench.test)
curl -s -o /dev/null -X POST "$base/api/users" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
  -d '{"email":"jefa@bench.test","name":"Jefa de bodega","role":"manager","password":"Banco-de-pruebas-2026!"}'
token=$(login jefa@bench.test)
auth="Authorization: Bearer $token"
client=$(curl -s "$base/api/clients?limit=1&q=ferret" -H "$auth" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')

# wrk's summary as "req/s p50_ms p99_ms errors".
measure() {
  wrk -t2 -c64 -d"${secs}s" --latency "$@" | python3 -c '
import re, sys
text = sys.stdin.read()
def ms(label):
    m = re.search(r"^\s+" + label + r"\s+([\d.]+)(us|ms|s)\b", text, re.M)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, sock.groups())) if sock else 0)
p50, p99 = ms("50%"), ms("99%")
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {errors}")
'
}
median() { # lines of "rps p50 p99 errors": the line of the median req/s
  sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'
}
rss_tree() { # KiB over a process and its descendants
  local total=0 p
  for p in $(pgrep -g "$(ps -o pgid= "$1" | tr -d ' ')" 2>/dev/null || echo "$1"); do
    total=$((total + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

results=()
scenario() { # NAME PEER_ARGS... -- FAENA_ARGS...
  local name=$1; shift
  local peer_args=() faena_args=()
  while [ "$1" != -- ]; do peer_args+=("$1"); shift; done
  shift
  faena_args=("$@")
  echo "== $name"
  wrk -t2 -c64 -d5s "${peer_args[@]}" >/dev/null
  wrk -t2 -c64 -d5s -H "$auth" "${faena_args[@]}" >/dev/null
  local p f
  p=$(for _ in $(seq 1 "$runs"); do measure "${peer_args[@]}"; done | median)
  f=$(for _ in $(seq 1 "$runs"); do measure -H "$auth" "${faena_args[@]}"; done | median)
  echo "   peer:  $p"
  echo "   faena: $f"
  results+=("$name|$p|$f")
}

scenario "GET order by key" "$peer/api/orders/ORD-0054321" -- "$base/api/orders/ORD-054321"
scenario "list 50 orders with client names" "$peer/api/orders?limit=50" -- "$base/api/orders?limit=50"
scenario "GET client" "$peer/api/clients/4321" -- "$base/api/clients/$client"
scenario "POST client (unique emails)" -s ../shared/peer/wrk/post_clients.lua "$peer/api/clients" \
  -- -s bench/create_client.lua "$base/api/clients"
peer_rss=$(rss_tree "$peer_pid")
faena_rss=$(awk '/VmRSS/ {print $2}' "/proc/$faena_pid/status")

echo
echo "| scenario | peer req/s | p99 | Faena req/s | p99 | ratio (req/s) | errors (peer / Faena) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for r in "${results[@]}"; do
  IFS='|' read -r name p f <<<"$r"
  read -r prps _ pp99 perr <<<"$p"
  read -r frps _ fp99 ferr <<<"$f"
  ratio=$(python3 -c "print(f'{$frps / max($prps, 1):.1f}×')")
  echo "| $name | $prps | $pp99 ms | $frps | $fp99 ms | $ratio | $perr / $ferr |"
done
echo "| RSS at the end | $((peer_rss / 1024)) MiB | | $((faena_rss / 1024)) MiB | | | |"
echo "(median of $runs runs of ${secs} s each; wrk -t2 -c64; machine: $(nproc) cores)"
