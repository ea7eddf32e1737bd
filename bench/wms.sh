#!/usr/bin/env bash
# Warehouse and customer API under load: 10,000 clients and 100,000 orders
# (faena demo), then wrk -t2 -c64 -d15s --latency against reads by key, a
# list page, and client creation, authenticated as a real user.
# Usage: bench/wms.sh sqlite|postgres [BINARY]   (needs wrk and a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-sqlite}
bin=${2:-target/release/faena}
port=18100
base="http://127.0.0.1:$port"
[ -x "$bin" ] || { echo "build first: cargo build --release --bin faena" >&2; exit 1; }
dir=$(mktemp -d)
export FAENA_LOG__FILTER=warn FAENA_ADMIN_EMAIL=admin@bench.test FAENA_ADMIN_PASSWORD='Banco-de-pruebas-2026!'
if [ "$kind" = postgres ]; then
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS faena_bench" -c "CREATE DATABASE faena_bench"
  # Same machine: no TLS to localhost (it costs the server ~20% more CPU).
  export FAENA_DATABASE_URL="postgres://postgres@127.0.0.1:5432/faena_bench?sslmode=disable"
fi
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT

echo "== demo data"
/usr/bin/time -f "demo: %e s, %M KiB max RSS" "$bin" demo --clients 10000 --orders 100000 --data-dir "$dir"
"$bin" serve --bind 127.0.0.1:$port --data-dir "$dir" 2>/dev/null &
pid=$!
until curl -sf -o /dev/null "$base/api/health/ready"; do sleep 0.05; done
# A real user: a warehouse manager, signed in through the API.
admin=$(curl -s -X POST "$base/api/auth/login" -H 'content-type: application/json' \
  -d '{"email":"admin@bench.test","password":"Banco-de-pruebas-2026!"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -s -o /dev/null -X POST "$base/api/users" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
  -d '{"email":"jefa@bench.test","name":"Jefa de bodega","role":"manager","password":"Banco-de-pruebas-2026!"}'
token=$(curl -s -X POST "$base/api/auth/login" -H 'content-type: application/json' \
  -d '{"email":"jefa@bench.test","password":"Banco-de-pruebas-2026!"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
client=$(curl -s "$base/api/clients?limit=1&q=ferret" -H "authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
auth="Authorization: Bearer $token"

run() { echo "== $1"; shift; wrk -t2 -c64 -d15s --latency -H "$auth" "$@" | grep -E "Requests/sec|Latency |  50%|  99%|Non-2xx|Socket errors"; }
run "GET /api/orders/{number}" "$base/api/orders/ORD-050000"
run "GET /api/orders?limit=50" "$base/api/orders?limit=50"
run "GET /api/clients/{id} (decrypts 3 fields, audits the read)" "$base/api/clients/$client"
run "POST /api/clients (unique emails)" -s bench/create_client.lua "$base/api/clients"
echo "server RSS: $(awk '/VmRSS/ {print $2}' /proc/$pid/status) KiB"
