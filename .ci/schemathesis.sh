#!/usr/bin/env bash
# API contract fuzzing: starts a private `essp` (SQLite in a temp dir, or
# Postgres with CONTRACT_PG_DSN; bearer tokens required, no rate limits),
# mints an admin token for every school of one tenant (some routes are
# tenant-wide; requests name contract-school) and runs schemathesis against
# its /openapi.json with every check and a fixed seed (one worker, so the
# same seed makes the same run).
# Usage: .ci/schemathesis.sh [schemathesis args, e.g. --include-path-regex R]
# ESSP_BIN overrides the binary; ST_MAX_EXAMPLES the examples per operation.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${ESSP_BIN:-target/debug/essp}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
secret=$(head -c 32 /dev/urandom | base64)
export AUTH_ENABLED=true JWT_SECRET="$secret" RATE_LIMIT_ENABLED=false LOG_LEVEL=warn \
  ESSP_DATA_DIR="$work/data" HTTP_ADDR="127.0.0.1:$port"
unset PG_DSN DATABASE_URL
if [ -n "${CONTRACT_PG_DSN:-}" ]; then export PG_DSN="$CONTRACT_PG_DSN"; fi

"$bin" serve >"$work/server.log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.1
done

token=$("$bin" token --sub schemathesis --tenant contract-tenant --school '*' --role essp-admin --ttl 2h)

status=0
PYTHONPATH=.ci SCHEMATHESIS_HOOKS=schemathesis_hooks \
  .venv-contract/bin/schemathesis --config-file .ci/schemathesis.toml run "http://127.0.0.1:$port/openapi.json" \
  --checks all --seed 20261127 --max-examples "${ST_MAX_EXAMPLES:-25}" --workers 1 \
  -H "Authorization: Bearer $token" -H "X-Tenant-ID: contract-tenant" -H "X-School-ID: contract-school" \
  "$@" || status=$?
if grep -q '"level":"ERROR"' "$work/server.log"; then
  echo "server logged errors:" >&2
  grep '"level":"ERROR"' "$work/server.log" | head -20 >&2
  status=1
fi
exit $status
