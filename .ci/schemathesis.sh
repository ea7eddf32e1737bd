#!/usr/bin/env bash
# schemathesis over Faena's whole OpenAPI document: anonymously, as each
# built-in role and as admin, against a real server on a fresh PostgreSQL
# database. Every check is on (server errors, status codes and headers
# conformant to the document, response schemas, negative data refused,
# authentication not ignored) plus .ci/schemathesis_hooks.py: a write that
# succeeds for a caller without its permission fails the run.
#
#   .ci/schemathesis.sh FAENA_BINARY SCHEMATHESIS [EXAMPLES_PER_OPERATION]
#
# Needs PostgreSQL at $FAENA_TEST_POSTGRES_URL. Reports (JUnit, NDJSON)
# land in target/schemathesis/. Exits non-zero on any failure, or if the
# server or schemathesis cannot start.
set -euo pipefail
bin=$(realpath "$1")
st=$(realpath "$2")
examples=${3:-20}
cd "$(dirname "$0")/.."
die() { printf 'schemathesis: %s\n' "$*" >&2; exit 1; }
[ -x "$bin" ] || die "no Faena binary at $bin"
[ -x "$st" ] || die "no schemathesis at $st"
pg=${FAENA_TEST_POSTGRES_URL:?FAENA_TEST_POSTGRES_URL must name a PostgreSQL server}

out=$PWD/target/schemathesis
rm -rf "$out" && mkdir -p "$out"
work=$(mktemp -d)
db="faena_attack_$$"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
password="Ataque-$(date +%s)-seguro"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  psql "$pg" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$pg" -qc "CREATE DATABASE $db" >/dev/null || die "cannot create database $db"

# Tokens live through the whole run; mail stays in the local outbox.
FAENA_DATA_DIR="$work" \
FAENA_DATABASE_URL="${pg%/*}/$db" \
FAENA_HTTP__BIND="127.0.0.1:$port" \
FAENA_ADMIN_EMAIL=admin@faena.test \
FAENA_ADMIN_PASSWORD="$password" \
FAENA_AUTH__ACCESS_TOKEN_MINUTES=240 \
FAENA_LOG__FILTER=warn \
  "$bin" serve >"$out/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -fsS "$base/api/health/ready" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$out/server.log" >&2; die "the server stopped at start"; }
  sleep 0.2
done
curl -fsS "$base/api/health/ready" >/dev/null || die "the server did not become ready"

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
login() {
  curl -fsS "$base/api/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"$password\"}" | json '["access_token"]'
}
admin=$(login admin@faena.test) || die "the administrator cannot sign in"
roles=$(curl -fsS "$base/api/roles" -H "authorization: Bearer $admin" \
  | python3 -c 'import json,sys; print(" ".join(r["name"] for r in json.load(sys.stdin) if r["builtin"] and r["name"] != "admin"))') \
  || die "cannot list the roles"
[ -n "$roles" ] || die "no built-in roles"
declare -A tokens
for role in $roles; do
  curl -fsS "$base/api/users" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
    -d "{\"email\":\"$role@faena.test\",\"name\":\"Ataque $role\",\"role\":\"$role\",\"password\":\"$password\"}" \
    >/dev/null || die "cannot create a $role user"
  tokens[$role]=$(login "$role@faena.test") || die "the $role user cannot sign in"
done

failed=()
attack() { # NAME TOKEN
  local name=$1 token=$2 patterns=null started=$SECONDS
  local headers=()
  if [ -n "$token" ]; then
    headers=(-H "Authorization: Bearer $token")
    patterns=$(curl -fsS "$base/api/auth/me" -H "authorization: Bearer $token" \
      | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["permissions"]))') \
      || die "cannot read the permissions of $name"
  fi
  printf '\n--- schemathesis as %s ---\n' "$name"
  if FAENA_ATTACK_ROLE=$name FAENA_ATTACK_PATTERNS=$patterns \
     SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=.ci \
     "$st" run "$base/api/openapi.json" "${headers[@]}" \
       --checks all --exclude-checks positive_data_acceptance \
       --phases examples,coverage,fuzzing,stateful \
       --max-examples "$examples" --seed 17 --workers 2 \
       --request-timeout 15 --no-color \
       --report junit,ndjson --report-dir "$out/$name" \
       >"$out/$name.log" 2>&1; then
    tail -n 6 "$out/$name.log"
  else
    # What went wrong first (each failure and error with its request),
    # then the summary: the tail alone cuts the details off.
    sed -n '/^=* \(FAILURES\|ERRORS\) =*$/,/^=* SUMMARY =*$/p' "$out/$name.log" | head -n 200
    tail -n 40 "$out/$name.log"
    failed+=("$name")
  fi
  printf -- '--- %s: %ds ---\n' "$name" "$((SECONDS - started))"
}

# ATTACK_ONLY=viewer (a caller's name) runs that caller alone, to
# look into one run's failure.
only=${ATTACK_ONLY:-}
chosen() { [ -z "$only" ] || [ "$only" = "$1" ]; }
if chosen anonymous; then attack anonymous ""; fi
for role in $roles; do
  if chosen "$role"; then attack "$role" "${tokens[$role]}"; fi
done
# Last: the administrator's writes change what the others would meet.
if chosen admin; then attack admin "$admin"; fi

grep -q 'internal error\|panicked' "$out/server.log" && { grep -m5 'internal error\|panicked' "$out/server.log" >&2; failed+=("server log"); }
[ ${#failed[@]} -eq 0 ] || die "failures as: ${failed[*]} (reports in $out)"
echo "schemathesis: no failure as ${only:-anonymous, $roles and admin}"
