#!/usr/bin/env bash
# The IMS benchmark, in one command:
#
#   bench/ims.sh [--schools N] [--devices-per-school D] [--seconds S]
#                (defaults: 10000 schools, 100 devices each, 10 s per measurement)
#
# For SQLite and for Postgres, each on a fresh database:
#   * seeds the demo tenant at that scale with `essp demo seed` (SSOT by CSV
#     import, snapshots by reconcile, ~12.5 % of devices with an incident
#     through the API, auto-routed, a share repaired) and reports its time;
#   * serves it (`target/release/essp serve`, pinned to CPU 1) and measures
#     the main list endpoints with filters and cursor paging with wrk at
#     concurrency 16 (pinned to CPU 0) against the floor p99 <= 50 ms;
#   * drives the end-to-end repair flow (incident -> routed work order ->
#     BOM reserve/consume -> complete -> approve -> incident resolved) from
#     16 client threads (bench/ims_flow.py) and reports flows/s.
# Floors are reported (PASS/FAIL), not asserted: the script exits 0 when
# every measurement was taken, non-zero when one could not be.
# See docs/benchmarks.md, section "IMS benchmark".

set -euo pipefail
shopt -s inherit_errexit

SCHOOLS=10000
DEVICES=100
SECONDS_PER=10
ENGINES="sqlite postgres"
while [[ $# -gt 0 ]]; do
  case $1 in
    --schools) SCHOOLS=$2; shift 2 ;;
    --devices-per-school) DEVICES=$2; shift 2 ;;
    --seconds) SECONDS_PER=$2; shift 2 ;;
    --engines) ENGINES=$2; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "bench/ims.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
readonly SCHOOLS DEVICES SECONDS_PER ENGINES
readonly CONCURRENCY=16
readonly WARMUP=2
readonly P99_FLOOR_MS=50
readonly PG_ADMIN=${BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
readonly TENANT=demo-tenant

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
# BENCH_ESSP_BIN: measure this binary instead of building target/release/essp.
readonly ESSP=${BENCH_ESSP_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/essp}
readonly LUA=$ROOT/bench/ims-list.lua

WORK=""
PG_DB=""
ESSP_PID=""
die() { echo "bench/ims.sh: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

drop_pg() {
  if [[ -n $PG_DB ]]; then
    psql "$PG_ADMIN" -qAt -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
      echo "bench/ims.sh: could not drop database $PG_DB" >&2
    PG_DB=""
  fi
}

cleanup() {
  local rc=$?
  if [[ -n $ESSP_PID ]]; then
    kill -KILL "$ESSP_PID" 2>/dev/null || true
    wait "$ESSP_PID" 2>/dev/null || true
  fi
  drop_pg
  [[ -n $WORK && -d $WORK ]] && rm -rf "$WORK"
  exit "$rc"
}

check_tools() {
  for n in "$SCHOOLS" "$DEVICES" "$SECONDS_PER"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "counts and seconds must be positive integers, got '$n'"
  done
  if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get install -y wrk >/dev/null || die "wrk is missing and could not be installed"
  fi
  local tool
  for tool in cargo psql jq curl taskset python3; do
    command -v "$tool" >/dev/null || die "$tool is required"
  done
  [[ $(nproc) -ge 2 ]] || die "needs at least 2 CPUs (server and load generator are pinned apart)"
}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The environment of every essp process of ENGINE: a clean one.
essp_env() {
  local engine=$1
  local -a e=(env -i "PATH=$PATH" "HOME=$HOME" "LOG_LEVEL=warn" "ESSP_DATA_DIR=$WORK/$engine"
    "RATE_LIMIT_ENABLED=false" "ESSP_SHUTDOWN_GRACE=2s")
  [[ $engine == postgres ]] && e+=("PG_DSN=${PG_ADMIN%/*}/$PG_DB")
  printf '%s\n' "${e[@]}"
}

get() { # PATH [SCHOOL]
  curl -fsS --max-time 60 -H "X-Tenant-ID: $TENANT" ${2:+-H "X-School-ID: $2"} "$BASE$1"
}

# ---------------------------------------------------------------- per engine

seed() {
  local engine=$1
  mkdir -p "$WORK/$engine"
  if [[ $engine == postgres ]]; then
    PG_DB="essp_bench_ims_$(date +%s)_$RANDOM"
    psql "$PG_ADMIN" -qAt -c "CREATE DATABASE \"$PG_DB\"" >/dev/null || die "cannot create database $PG_DB"
  fi
  log "$engine: essp demo seed --schools $SCHOOLS --devices-per-school $DEVICES"
  mapfile -t envv < <(essp_env "$engine")
  local t0 t1
  t0=$(now)
  "${envv[@]}" "$ESSP" demo seed --schools "$SCHOOLS" --devices-per-school "$DEVICES" \
    >"$WORK/seed-$engine.txt" 2>"$WORK/seed-$engine.err" || {
    cat "$WORK/seed-$engine.err" >&2
    die "$engine: demo seed failed"
  }
  t1=$(now)
  echo "$(secs "$t0" "$t1")" >"$WORK/seed-$engine.secs"
  cat "$WORK/seed-$engine.txt" >&2
  grep '^took:' "$WORK/seed-$engine.err" >&2 || true
}

serve() {
  local engine=$1 port
  port=$(free_port)
  BASE="http://127.0.0.1:$port"
  mapfile -t envv < <(essp_env "$engine")
  "${envv[@]}" "HTTP_ADDR=127.0.0.1:$port" taskset -c 1 "$ESSP" serve >"$WORK/serve-$engine.log" 2>&1 &
  ESSP_PID=$!
  local deadline=$(($(date +%s) + 120))
  until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/readyz" || true) == 200 ]]; do
    kill -0 "$ESSP_PID" 2>/dev/null || { tail -n 20 "$WORK/serve-$engine.log" >&2; die "essp exited before ready"; }
    (($(date +%s) < deadline)) || die "essp not ready after 120 s"
    sleep 0.05
  done
  # Without NATS the server applies the SSOT import's outbox to the
  # snapshots itself (already filled by the seed's reconcile: the rows
  # are unchanged). Measure once that background work is done.
  log "$engine: waiting for the SSOT outbox to drain"
  local t0 depth
  t0=$(now)
  deadline=$(($(date +%s) + 1800))
  while :; do
    depth=$(curl -fsS "$BASE/metrics" | awk '$1 == "essp_ssot_outbox_depth" { print $2 }')
    [[ $depth == 0 ]] && break
    (($(date +%s) < deadline)) || die "the SSOT outbox did not drain (depth $depth)"
    sleep 1
  done
  echo "$(secs "$t0" "$(now)")" >"$WORK/drain-$engine.secs"
}

stop() {
  [[ -n $ESSP_PID ]] || return 0
  kill -TERM "$ESSP_PID" 2>/dev/null || true
  local i
  for i in {1..100}; do
    kill -0 "$ESSP_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$ESSP_PID" 2>/dev/null || true
  wait "$ESSP_PID" 2>/dev/null || true
  ESSP_PID=""
  local n
  n=$(grep -c '"level":"\(WARN\|ERROR\)"' "$WORK/serve-$1.log" || true)
  if [[ $n -gt 0 ]]; then
    log "the server logged $n warning(s)/error(s); distinct messages:"
    grep '"level":"\(WARN\|ERROR\)"' "$WORK/serve-$1.log" | jq -r '"    \(.level) \(.message)"' 2>/dev/null |
      sort | uniq -c >&2 || true
  fi
}

# What the list scenarios pick from: every school id, incident ids, the actor.
collect() {
  local engine=$1 offset=0 n cursor="" page
  : >"$WORK/schools.txt"
  while :; do
    page=$(get "/v1/ssot/schools?limit=200&offset=$offset")
    n=$(jq '.items | length' <<<"$page")
    jq -r '.items[].id' <<<"$page" >>"$WORK/schools.txt"
    ((n == 200)) || break
    offset=$((offset + 200))
  done
  : >"$WORK/incidents.txt"
  for _ in 1 2 3 4 5; do
    page=$(get "/v1/audit-logs?entityType=incident&action=create&limit=200${cursor:+&cursor=$cursor}")
    jq -r '.items[].entityId' <<<"$page" >>"$WORK/incidents.txt"
    cursor=$(jq -r '.nextCursor // empty' <<<"$page")
    [[ -n $cursor ]] || break
  done
  ACTOR=$(get "/v1/audit-logs?limit=1" | jq -r '.items[0].actor')
  TODAY=$(date -u +%F)
  log "$engine: $(wc -l <"$WORK/schools.txt") schools, $(wc -l <"$WORK/incidents.txt") incident ids, actor $ACTOR"
}

# name|path|mean pages followed (0 = first page only)
scenarios() {
  cat <<EOF
incidents|/v1/incidents?limit=50|0
incidents status=new|/v1/incidents?status=new&limit=50|0
incidents severity=high|/v1/incidents?severity=high&limit=50|0
incidents status=in_progress&severity=critical|/v1/incidents?status=in_progress&severity=critical|0
incidents slaBreached=false|/v1/incidents?slaBreached=false&limit=50|0
incidents q=screen|/v1/incidents?q=screen&limit=50|0
incidents cursor paging (limit=5)|/v1/incidents?limit=5|3
work-orders|/v1/work-orders?limit=50|0
work-orders status=in_repair|/v1/work-orders?status=in_repair&limit=50|0
work-orders status=approved|/v1/work-orders?status=approved&limit=50|0
work-orders cursor paging (limit=5)|/v1/work-orders?limit=5|3
audit-logs|/v1/audit-logs?limit=50|0
audit-logs cursor paging (limit=50)|/v1/audit-logs?limit=50|10
audit-logs entityType=incident|/v1/audit-logs?entityType=incident&limit=50|0
audit-logs entityType=service_shop|/v1/audit-logs?entityType=service_shop&limit=50|0
audit-logs entityType+entityId|/v1/audit-logs?entityType=incident&entityId={id}|0
audit-logs action=consume|/v1/audit-logs?action=consume&limit=50|0
audit-logs userId+action=auto_route|/v1/audit-logs?userId=$ACTOR&action=auto_route&limit=50|0
audit-logs startDate+endDate+action|/v1/audit-logs?startDate=$TODAY&endDate=$TODAY&action=reserve&limit=50|0
EOF
}

run_wrk() { # OUT PATH PAGES SECONDS
  local out=$1 path=$2 pages=$3 seconds=$4
  if ! IMS_PATH=$path IMS_PAGES=$pages IMS_SCHOOLS=$WORK/schools.txt IMS_IDS=$WORK/incidents.txt \
    taskset -c 0 wrk -t1 -c"$CONCURRENCY" -d"${seconds}s" --latency -s "$LUA" "$BASE" >"$out.txt" 2>&1; then
    cat "$out.txt" >&2
    grep '"level":"ERROR"' "$WORK"/serve-*.log | tail -n 3 >&2 || true
    die "wrk reported failed requests for $path"
  fi
  grep '^{"requests"' "$out.txt" | tail -n 1 >"$out" || die "no result line from wrk: $(cat "$out.txt")"
}

measure() {
  local engine=$1 i=0 name path pages
  while IFS='|' read -r name path pages; do
    i=$((i + 1))
    log "$engine: $name  (${WARMUP}s warm-up + ${SECONDS_PER}s)"
    run_wrk "$WORK/warm-$engine-$i.json" "$path" "$pages" "$WARMUP"
    run_wrk "$WORK/list-$engine-$i.json" "$path" "$pages" "$SECONDS_PER"
    echo "$name" >"$WORK/list-$engine-$i.name"
  done < <(scenarios)
  log "$engine: repair flow, 16 client threads, $((2 * SECONDS_PER))s"
  taskset -c 0 python3 "$ROOT/bench/ims_flow.py" --base "$BASE" --schools "$WORK/schools.txt" \
    --threads "$CONCURRENCY" --seconds $((2 * SECONDS_PER)) >"$WORK/flow-$engine.json" ||
    die "$engine: the repair flow failed: $(cat "$WORK/flow-$engine.json")"
}

header() {
  echo
  echo "ESSP IMS benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $SCHOOLS schools x $DEVICES devices, ${SECONDS_PER}s per measurement"
  echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
  echo "wrk -t1 -c$CONCURRENCY (CPU 0) -> essp serve (CPU 1); X-School-ID: a random one of the tenant's schools per request"
}

# The table of one engine, printed as soon as it is measured.
report() {
  local engine=$1 f i=1
  echo
  echo "$engine: seed $(<"$WORK/seed-$engine.secs") s ($(grep '^took:' "$WORK/seed-$engine.err" | sed 's/^took: //'))"
  echo "  $(head -n 1 "$WORK/seed-$engine.txt")"
  echo "  outbox drained at start of serve after $(<"$WORK/drain-$engine.secs") s"
  printf '  %-46s %9s %8s %8s  %s\n' "GET endpoint (filters)" "req/s" "p50 ms" "p99 ms" "p99 <= $P99_FLOOR_MS ms"
  while f=$WORK/list-$engine-$i.json && [[ -f $f ]]; do
    i=$((i + 1))
    jq -r --arg name "$(<"${f%.json}.name")" --argjson floor "$P99_FLOOR_MS" \
      '"  \($name | .[0:46] | . + " " * (46 - length)) \(.rps | . * 10 | round / 10 | tostring | " " * (9 - length) + .) \(.p50_ms | . * 100 | round / 100 | tostring | " " * (8 - length) + .) \(.p99_ms | . * 100 | round / 100 | tostring | " " * (8 - length) + .)  \(if .p99_ms <= $floor then "PASS" else "FAIL" end)"' "$f"
  done
  jq -r '"  repair flow (7 writes + 2 reads), 16 threads:  \(.flows_per_s) flows/s, flow p50 \(.p50_ms) ms, p99 \(.p99_ms) ms (\(.flows) flows, \(.requests) requests)"' "$WORK/flow-$engine.json"
  echo
  i=1
  while f=$WORK/list-$engine-$i.json && [[ -f $f ]]; do
    echo "$engine $(<"${f%.json}.name"): $(<"$f")"
    i=$((i + 1))
  done
  echo "$engine flow: $(<"$WORK/flow-$engine.json")"
}

main() {
  check_tools
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/essp-bench-ims.XXXXXX")
  if [[ -z ${BENCH_ESSP_BIN:-} ]]; then
    log "building target/release/essp"
    (cd "$ROOT" && cargo build -q --release -p essp --bin essp) || die "cargo build failed"
  fi
  [[ -x $ESSP ]] || die "no essp binary at $ESSP"
  header
  local engine
  for engine in $ENGINES; do
    seed "$engine"
    serve "$engine"
    collect "$engine"
    measure "$engine"
    stop "$engine"
    drop_pg
    rm -rf "${WORK:?}/$engine"
    report "$engine"
  done
}

main "$@"
