#!/usr/bin/env bash
# The SSOT benchmark, in one command:
#
#   bench/ssot.sh [devices]        (default 1000000)
#
# For SQLite and for Postgres, in the same run:
#   * import: `essp import devices devices.csv` of DEVICES generated devices
#     (bench/gen_ssot_csv.py, seeded) into an empty database, against the
#     floor (<= 120 s), next to a raw bulk load of the same CSV rows into a
#     plain table of the same engine (psql \copy / one SQLite transaction);
#   * propagation: with `essp serve` running on that database and a private
#     nats-server, `essp import devices changed.csv` changes 10,000 devices;
#     the time until IMS's snapshot shows all of them (through the outbox,
#     JetStream and the sync-worker), against the floor (<= 5 s).
# Floors are reported (PASS/FAIL), not asserted. See docs/benchmarks.md.

set -euo pipefail
shopt -s inherit_errexit

readonly DEVICES=${1:-1000000}
readonly TENANT=bench
readonly IMPORT_FLOOR_S=120
readonly PROPAGATION_FLOOR_S=5
readonly PG_ADMIN=${BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly ESSP=${CARGO_TARGET_DIR:-$ROOT/target}/release/essp

WORK=$(mktemp -d)
PG_DB="essp_bench_ssot_$$"
PIDS=()
cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  psql "$PG_ADMIN" -qAt -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

log() { echo "==> $*" >&2; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

log "building target/release/essp"
(cd "$ROOT" && cargo build -q --release -p essp --bin essp)
log "generating $DEVICES devices"
python3 "$ROOT/bench/gen_ssot_csv.py" "$WORK/csv" "$DEVICES"

# A clean environment per engine: only what the run needs.
essp_env() {
  local engine=$1
  local -a e=(env -i "PATH=$PATH" "LOG_LEVEL=warn" "ESSP_DATA_DIR=$WORK/$engine" "RATE_LIMIT_ENABLED=false")
  if [[ $engine == postgres ]]; then e+=("PG_DSN=${PG_ADMIN%/*}/$PG_DB"); fi
  printf '%s\n' "${e[@]}"
}

run_essp() {
  local engine=$1
  shift
  mapfile -t envv < <(essp_env "$engine")
  "${envv[@]}" "$ESSP" "$@"
}

raw_load() {
  local engine=$1
  if [[ $engine == postgres ]]; then
    psql "${PG_ADMIN%/*}/$PG_DB" -qAt -v ON_ERROR_STOP=1 \
      -c "CREATE TABLE raw_devices (serial TEXT, asset_tag TEXT, make TEXT, model TEXT, assigned_to TEXT, lifecycle TEXT, enrolled BOOLEAN)" \
      -c "\\copy raw_devices FROM '$WORK/csv/devices.csv' WITH (FORMAT csv, HEADER true)"
  else
    python3 - "$WORK/raw.db" "$WORK/csv/devices.csv" <<'PY'
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE raw_devices (serial TEXT, asset_tag TEXT, make TEXT, model TEXT, assigned_to TEXT, lifecycle TEXT, enrolled INTEGER)")
with open(sys.argv[2], newline="") as f:
    rows = csv.reader(f); next(rows)
    db.execute("BEGIN")
    db.executemany("INSERT INTO raw_devices VALUES (?,?,?,?,?,?,?)", rows)
    db.execute("COMMIT")
PY
  fi
}

snapshot_count() { # $1 = base URL, $2 = query
  curl -fsS -H "X-Tenant-ID: $TENANT" "$1/v1/ssot/devices?limit=1$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'
}

wait_count() { # $1 = base URL, $2 = query, $3 = wanted, $4 = timeout seconds
  local deadline=$(($(date +%s) + $4))
  until [[ $(snapshot_count "$1" "$2" 2>/dev/null || echo -1) == "$3" ]]; do
    (($(date +%s) < deadline)) || return 1
    sleep 0.05
  done
}

RESULTS=()
for engine in sqlite postgres; do
  log "$engine: migrate and load 40 device models"
  mkdir -p "$WORK/$engine"
  if [[ $engine == postgres ]]; then psql "$PG_ADMIN" -qAt -c "CREATE DATABASE \"$PG_DB\"" >/dev/null; fi
  run_essp "$engine" migrate up >/dev/null
  run_essp "$engine" import device_models "$WORK/csv/models.csv" --tenant "$TENANT" >/dev/null

  log "$engine: importing $DEVICES devices"
  t0=$(now)
  run_essp "$engine" import devices "$WORK/csv/devices.csv" --tenant "$TENANT" >"$WORK/$engine-report.json"
  t1=$(now)
  created=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["created"] if r["committed"] else -1)' "$WORK/$engine-report.json")
  [[ $created == "$DEVICES" ]] || { echo "import created $created of $DEVICES" >&2; exit 1; }
  import_s=$(secs "$t0" "$t1")

  log "$engine: raw bulk load of the same rows"
  r0=$(now)
  raw_load "$engine"
  r1=$(now)
  raw_s=$(secs "$r0" "$r1")

  log "$engine: serving with a private nats-server; waiting for the initial snapshot"
  nats_port=$(free_port)
  nats-server -a 127.0.0.1 -p "$nats_port" -js -sd "$WORK/nats-$engine" >"$WORK/nats-$engine.log" 2>&1 &
  PIDS+=($!)
  http_port=$(free_port)
  mapfile -t envv < <(essp_env "$engine")
  "${envv[@]}" "HTTP_ADDR=127.0.0.1:$http_port" "NATS_URL=nats://127.0.0.1:$nats_port" "$ESSP" serve >"$WORK/serve-$engine.log" 2>&1 &
  PIDS+=($!)
  base="http://127.0.0.1:$http_port"
  i0=$(now)
  wait_count "$base" "" "$DEVICES" 900 || { echo "the snapshot never reached $DEVICES devices" >&2; tail "$WORK/serve-$engine.log" >&2; exit 1; }
  i1=$(now)
  initial_s=$(secs "$i0" "$i1")

  log "$engine: changing 10,000 devices"
  p0=$(now)
  run_essp "$engine" import devices "$WORK/csv/changed.csv" --tenant "$TENANT" >/dev/null
  p1=$(now)
  wait_count "$base" "&status=lost" 10000 120 || { echo "the changes never reached the snapshot" >&2; exit 1; }
  p2=$(now)
  prop_s=$(secs "$p1" "$p2")
  kill -TERM "${PIDS[@]}" 2>/dev/null || true
  wait "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
  RESULTS+=("$(python3 - "$engine" "$DEVICES" "$import_s" "$raw_s" "$initial_s" "$(secs "$p0" "$p1")" "$prop_s" "$IMPORT_FLOOR_S" "$PROPAGATION_FLOOR_S" <<'PY'
import sys
e, n, imp, raw, initial, change, prop, fi, fp = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
verdict = lambda ok: "PASS" if ok else "FAIL"
print(f"{e:8} import {n:,} devices {imp:7.1f} s ({n/imp:,.0f} rows/s; raw bulk load {raw:.1f} s, ratio {raw/imp:.2f}) "
      f"floor <= {fi:.0f} s: {verdict(imp <= fi)}\n"
      f"{e:8} first snapshot of all devices through JetStream {initial:.1f} s\n"
      f"{e:8} 10,000 changes: import {change:.2f} s, then visible in IMS after {prop:.2f} s "
      f"floor <= {fp:.0f} s: {verdict(prop <= fp)}")
PY
)")
done

echo
printf '%s\n' "${RESULTS[@]}"
