#!/usr/bin/env bash
# Login latency (the argon2id cost) and the overhead of authentication on a
# request, on an empty SQLite database. Usage: bench/auth.sh
# Needs wrk (Debian package) and a release build:
#   cargo build --release --bin faena
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/faena
port=18090
base="http://127.0.0.1:$port"
[ -x "$bin" ] || { echo "build first: cargo build --release --bin faena" >&2; exit 1; }
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }

dir=$(mktemp -d)
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
FAENA_LOG__FILTER=warn FAENA_ADMIN_EMAIL=admin@bench.test FAENA_ADMIN_PASSWORD='Banco-de-pruebas-2026!' \
  "$bin" serve --bind 127.0.0.1:$port --data-dir "$dir" 2>/dev/null &
pid=$!
until curl -sf -o /dev/null "$base/api/health/ready"; do sleep 0.05; done

token=$(curl -s -X POST "$base/api/auth/login" -H 'content-type: application/json' \
  -d '{"email":"admin@bench.test","password":"Banco-de-pruebas-2026!"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
key=$(curl -s -X POST "$base/api/api-keys" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"name":"bench","permissions":["platform.system.read"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

echo "== login, one connection (latency of one argon2id verification + session work)"
wrk -t1 -c1 -d10s --latency -s bench/login.lua "$base/api/auth/login"
echo "== login, 2 connections (throughput on 2 cores)"
wrk -t2 -c2 -d10s --latency -s bench/login.lua "$base/api/auth/login"
echo "== public route, no credentials: GET /api/health"
wrk -t2 -c32 -d10s --latency "$base/api/health"
echo "== same kind of handler behind a permission, JWT access token: GET /api/system/info"
wrk -t2 -c32 -d10s --latency -H "Authorization: Bearer $token" "$base/api/system/info"
echo "== same, API key (a database lookup per request): GET /api/system/info"
wrk -t2 -c32 -d10s --latency -H "Authorization: Bearer $key" "$base/api/system/info"
echo "server RSS: $(awk '/VmRSS/ {print $2}' /proc/$pid/status) KiB"
