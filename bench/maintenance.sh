#!/usr/bin/env bash
# Equipment maintenance under load: 10,000 machines and 500,000 maintenance
# records (faena demo), then one machine by its code and the dashboard,
# each cold (the first request after the server starts: its pools and the
# database's own caches empty, SQLite's pages not yet read) and warm (wrk
# -t2 -c64 -d15s --latency; the dashboard and a 12-month report with -c8),
# as a technician who signed in through the API. The all-time report is
# measured cold only. RSS is read after each stage.
# Usage: bench/maintenance.sh sqlite|postgres [BINARY]   (needs wrk and a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-sqlite}
bin=${2:-target/release/faena}
machines=${MACHINES:-10000}
records=${RECORDS:-500000}
port=18110
base="http://127.0.0.1:$port"
[ -x "$bin" ] || { echo "build first: cargo build --release --bin faena" >&2; exit 1; }
dir=$(mktemp -d)
export FAENA_LOG__FILTER=warn FAENA_ADMIN_EMAIL=admin@bench.test FAENA_ADMIN_PASSWORD='Banco-de-pruebas-2026!'
if [ "$kind" = postgres ]; then
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS faena_bench_mnt" -c "CREATE DATABASE faena_bench_mnt"
  export FAENA_DATABASE_URL="postgres://postgres@127.0.0.1:5432/faena_bench_mnt?sslmode=disable"
fi
pid=
stop() { [ -n "$pid" ] && { kill -INT "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }; pid=; }
trap 'stop; rm -rf "$dir"' EXIT
start() {
  "$bin" serve --bind 127.0.0.1:$port --data-dir "$dir" 2>/dev/null &
  pid=$!
  until curl -sf -o /dev/null "$base/api/health/ready"; do sleep 0.05; done
}
login() {
  curl -s -X POST "$base/api/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"Banco-de-pruebas-2026!\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

echo "== demo data: $machines machines, $records records"
/usr/bin/time -f "demo: %e s, %M KiB max RSS" "$bin" demo --clients 0 --orders 0 \
  --machines "$machines" --maintenance-records "$records" --data-dir "$dir"
start
admin=$(login admin@bench.test)
curl -s -o /dev/null -X POST "$base/api/users" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
  -d '{"email":"tecnica@bench.test","name":"Técnica de mantención","role":"technician","password":"Banco-de-pruebas-2026!"}'
token=$(login tecnica@bench.test)
auth="Authorization: Bearer $token"
code="MAQ-$((machines / 2))"

# Cold: a fresh server, one request each, the token from before (sessions
# are in the database).
stop
start
cold() { curl -s -o /dev/null -w "$1 cold: %{http_code} in %{time_total} s\n" -H "$auth" "$base$2"; }
cold "GET /api/machines/{code}" "/api/machines/$code"
cold "GET /api/maintenance/dashboard" "/api/maintenance/dashboard"
year=$(date -u -d '-365 days' +%Y-%m-%d)
cold "GET /api/maintenance/report (12 months)" "/api/maintenance/report?from=$year"
cold "GET /api/maintenance/report (all time)" "/api/maintenance/report"
rss() { echo "server RSS: $(awk '/VmRSS/ {print $2}' /proc/$pid/status) KiB"; }
rss

run() { echo "== $1"; shift; wrk -t2 "$@" -d15s --latency -H "$auth" | grep -E "Requests/sec|Latency |  50%|  99%|Non-2xx|Socket errors"; }
run "GET /api/machines/{code} (warm)" -c64 "$base/api/machines/$code"
rss
run "GET /api/maintenance/dashboard (warm)" -c8 "$base/api/maintenance/dashboard"
rss
run "GET /api/maintenance/report?from=12 months ago (warm)" -c8 "$base/api/maintenance/report?from=$year"
rss
