#!/usr/bin/env bash
# The ESSP write benchmark, in one command:
#
#   bench/run.sh [seconds]        (default 10 s per measurement)
#
# For SQLite and for Postgres it measures, in the same run:
#   * the API: `POST /v1/incidents` with wrk at concurrency 16 against
#     `target/release/essp serve` (server pinned to CPU 1, wrk to CPU 0),
#     after a 2 s warm-up;
#   * the raw engine: single-row transactional inserts of the same row into
#     the same engine with the same durability settings (bench/raw-insert),
#     also after a 2 s warm-up, pinned to CPU 1 like the server;
# and prints the ratio API/raw against the floor (>= 50 %). The machine is
# noisy, so each engine runs BENCH_ROUNDS (default 3) fresh raw/API pairs
# back to back; the verdict uses the median of the per-pair ratios. For the edge
# mode (SQLite, empty database) it also measures start-to-ready and idle RSS
# against their floors (<= 1 s, <= 40 MB).
#
# Floors are reported (PASS/FAIL), not asserted: the script exits 0 when
# every measurement was taken, and non-zero when one could not be.
# See docs/benchmarks.md.

set -euo pipefail
shopt -s inherit_errexit

readonly DURATION=${1:-10}
readonly ROUNDS=${BENCH_ROUNDS:-3} # raw/API pairs per engine, alternating
readonly WARMUP=2
readonly CONCURRENCY=16
readonly PG_HOST=127.0.0.1
readonly PG_PORT=5432
readonly PG_USER=postgres
readonly RATIO_FLOOR=0.50
readonly READY_FLOOR_MS=1000
readonly RSS_FLOOR_MB=40
readonly STARTS=3 # edge start-to-ready samples

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
# BENCH_ESSP_BIN / BENCH_RAW_BIN: measure these binaries instead of building
# (a copy keeps a run steady while the tree is rebuilt).
readonly ESSP_BIN=${BENCH_ESSP_BIN:-$TARGET/release/essp}
readonly RAW_BIN=${BENCH_RAW_BIN:-$TARGET/release/raw-insert}
readonly LUA=$ROOT/bench/incidents-post.lua

# Functions that start processes run in this shell (never inside $(...)),
# so the EXIT trap always knows what to stop; they write results to files.
WORK=""     # temp dir for databases, logs and results
PG_DB=""    # the benchmark's Postgres database, once created
ESSP_PID="" # the running server, if any
ESSP_LOG="" # its log file

die() {
  echo "bench/run.sh: $*" >&2
  exit 1
}

log() {
  echo "==> $*" >&2
}

cleanup() {
  local rc=$?
  if [[ -n $ESSP_PID ]]; then
    kill -KILL "$ESSP_PID" 2>/dev/null || true
    wait "$ESSP_PID" 2>/dev/null || true
  fi
  if [[ -n $PG_DB ]]; then
    psql_admin -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
      echo "bench/run.sh: could not drop database $PG_DB" >&2
  fi
  if [[ -n $WORK && -d $WORK ]]; then
    rm -rf "$WORK"
  fi
  exit "$rc"
}

psql_admin() {
  PGOPTIONS="-c client_min_messages=warning" \
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

psql_bench() {
  PGOPTIONS="-c client_min_messages=warning" \
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -v ON_ERROR_STOP=1 -qAt "$@"
}

# ---------------------------------------------------------------- setup

check_tools() {
  [[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "seconds must be a positive integer, got '$DURATION'"
  [[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer, got '$ROUNDS'"
  if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get install -y wrk >/dev/null || die "wrk is missing and could not be installed"
  fi
  local tool
  for tool in cargo psql jq curl taskset awk; do
    command -v "$tool" >/dev/null || die "$tool is required"
  done
  [[ $(nproc) -ge 2 ]] || die "needs at least 2 CPUs (server and load generator are pinned apart)"
}

build() {
  if [[ -n ${BENCH_ESSP_BIN:-} && -n ${BENCH_RAW_BIN:-} ]]; then
    [[ -x $ESSP_BIN && -x $RAW_BIN ]] || die "BENCH_ESSP_BIN / BENCH_RAW_BIN are not executables"
    return
  fi
  log "building essp and raw-insert (release)"
  (cd "$ROOT" && cargo build --release -p essp -p essp-bench) >&2 || die "cargo build failed"
  [[ -x $ESSP_BIN && -x $RAW_BIN ]] || die "binaries not found under $TARGET/release"
}

create_pg_database() {
  PG_DB="essp_bench_$(date +%s)_${RANDOM}"
  psql_admin -c "CREATE DATABASE \"$PG_DB\"" || die "cannot create database $PG_DB"
}

pg_dsn() {
  echo "postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
}

# A port nobody listens on (checked, not reserved: a clash makes the server
# fail to start, which the readiness wait reports).
free_port() {
  local port tries
  for tries in {1..50}; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  die "no free port found after $tries tries"
}

# ---------------------------------------------------------------- the server

# start_essp NAME PORT CPU [VAR=VALUE...]: starts the server with a clean
# environment plus the given variables; sets ESSP_PID (the essp process
# itself: env and taskset exec it) and ESSP_LOG.
start_essp() {
  local name=$1 port=$2 cpu=$3
  shift 3
  local pin=()
  if [[ $cpu != any ]]; then
    pin=(taskset -c "$cpu")
  fi
  ESSP_LOG=$WORK/essp-$name.log
  env -i PATH="$PATH" HOME="$HOME" \
    HTTP_ADDR="127.0.0.1:$port" LOG_LEVEL=warn ESSP_SHUTDOWN_GRACE=2s "$@" \
    "${pin[@]}" "$ESSP_BIN" serve >"$ESSP_LOG" 2>&1 &
  ESSP_PID=$!
}

# wait_ready PORT: polls /readyz every 10 ms until it answers 200; dies if
# the server exits or 30 s pass.
wait_ready() {
  local port=$1 deadline code
  deadline=$(($(date +%s) + 30))
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/readyz" || true)
    [[ $code == 200 ]] && return 0
    if ! kill -0 "$ESSP_PID" 2>/dev/null; then
      tail -n 20 "$ESSP_LOG" >&2 || true
      die "essp exited before becoming ready"
    fi
    [[ $(date +%s) -lt $deadline ]] || die "essp not ready after 30 s (last /readyz status: $code)"
    sleep 0.01
  done
}

stop_essp() {
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
}

# ---------------------------------------------------------------- measurements

# run_wrk PORT SECONDS OUT: writes the Lua script's JSON line to OUT; dies
# if any request failed.
run_wrk() {
  local port=$1 seconds=$2 out=$3
  if ! taskset -c 0 wrk -t1 -c"$CONCURRENCY" -d"${seconds}s" --latency -s "$LUA" \
    "http://127.0.0.1:$port" >"$out.txt" 2>&1; then
    cat "$out.txt" >&2
    die "wrk reported failed requests"
  fi
  grep '^{"requests"' "$out.txt" | tail -n 1 >"$out" || die "no result line from wrk: $(cat "$out.txt")"
}

# api ENGINE ROUND [VAR=VALUE...]: starts the server, warms up, measures
# into $WORK/api-ENGINE-ROUND.json.
api() {
  local engine=$1 round=$2 port
  shift 2
  port=$(free_port)
  # One load generator is one client: the per-client rate limit (100 writes
  # a minute by default) would answer 429s, so it is off for the API runs.
  start_essp "api-$engine-$round" "$port" 1 RATE_LIMIT_ENABLED=false "$@"
  wait_ready "$port"
  log "$engine #$round api: ${WARMUP}s warm-up + ${DURATION}s, wrk -t1 -c$CONCURRENCY"
  run_wrk "$port" "$WARMUP" "$WORK/warmup-$engine-$round.json"
  run_wrk "$port" "$DURATION" "$WORK/api-$engine-$round.json"
  stop_essp
  report_server_warnings
}

# Warnings the server logged during a run are shown, not hidden.
report_server_warnings() {
  local n
  n=$(grep -c '"level":"\(WARN\|ERROR\)"' "$ESSP_LOG" || true)
  if [[ $n -gt 0 ]]; then
    log "the server logged $n warning(s)/error(s); distinct messages:"
    grep '"level":"\(WARN\|ERROR\)"' "$ESSP_LOG" | jq -r '"    \(.level) \(.message)"' 2>/dev/null |
      sort | uniq -c >&2 || true
  fi
}

# raw ENGINE ROUND ARGS...: the raw baseline into $WORK/raw-ENGINE-ROUND.json.
raw() {
  local engine=$1 round=$2
  shift 2
  log "$engine #$round raw: ${WARMUP}s warm-up + ${DURATION}s"
  taskset -c 1 "$RAW_BIN" --engine "$engine" "$@" \
    --seconds "$DURATION" --warmup "$WARMUP" --concurrency "$CONCURRENCY" \
    >"$WORK/raw-$engine-$round.json" || die "raw-insert failed for $engine"
}

# Every measurement starts from an empty database: a fresh file for SQLite,
# an emptied schema (then a CHECKPOINT) for Postgres.
measure_sqlite() {
  local r
  for ((r = 1; r <= ROUNDS; r++)); do
    mkdir -p "$WORK/raw-sqlite-$r"
    raw sqlite "$r" --path "$WORK/raw-sqlite-$r/raw.db"
    api sqlite "$r" ESSP_MODE=edge ESSP_TENANT_ID=bench ESSP_SCHOOL_ID=bench-school ESSP_DATA_DIR="$WORK/api-sqlite-$r"
  done
}

reset_pg_database() {
  psql_bench -c "DROP SCHEMA public CASCADE" -c "CREATE SCHEMA public" -c "CHECKPOINT" >/dev/null ||
    die "cannot reset database $PG_DB"
}

measure_postgres() {
  local r
  for ((r = 1; r <= ROUNDS; r++)); do
    reset_pg_database
    raw postgres "$r" --dsn "$(pg_dsn)"
    reset_pg_database
    api postgres "$r" ESSP_DATA_DIR="$WORK/api-postgres-$r" PG_DSN="$(pg_dsn)"
  done
}

# Edge mode on an empty database: time from exec to the first 200 from
# /readyz, then VmRSS after 2 s idle. Writes "ready_ms rss_kb" per start to
# $WORK/edge.txt.
measure_edge_start() {
  local i port t0 t1 rss
  : >"$WORK/edge.txt"
  for ((i = 1; i <= STARTS; i++)); do
    port=$(free_port)
    t0=$(date +%s%N)
    start_essp "edge-$i" "$port" any ESSP_MODE=edge ESSP_TENANT_ID=bench ESSP_SCHOOL_ID=bench-school ESSP_DATA_DIR="$WORK/edge-$i"
    wait_ready "$port"
    t1=$(date +%s%N)
    sleep 2
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$ESSP_PID/status") || die "cannot read VmRSS"
    [[ -n $rss ]] || die "no VmRSS for pid $ESSP_PID"
    stop_essp
    echo "$(((t1 - t0) / 1000000)) $rss" >>"$WORK/edge.txt"
  done
}

# ---------------------------------------------------------------- report

# num JSON KEY: a number from a JSON line, or die.
num() {
  local v
  v=$(jq -er ".$2 | numbers" <<<"$1") || die "no numeric .$2 in: $1"
  echo "$v"
}

# rounds ENGINE: one line per round, "api_rps api_p50 api_p99 raw_ops
# raw_p50 raw_p99 writers", from $WORK/{api,raw}-ENGINE-ROUND.json.
rounds() {
  local engine=$1 r api_json raw_json key
  for ((r = 1; r <= ROUNDS; r++)); do
    api_json=$(<"$WORK/api-$engine-$r.json")
    raw_json=$(<"$WORK/raw-$engine-$r.json")
    local -a v=()
    for key in rps p50_ms p99_ms; do
      v+=("$(num "$api_json" "$key")") || die "bad API result"
    done
    for key in ops_per_sec p50_ms p99_ms writers; do
      v+=("$(num "$raw_json" "$key")") || die "bad raw result"
    done
    echo "${v[*]}"
  done
}

# rows ENGINE: a table row per round, then the median row with the verdict
# (median of the per-round ratios against the floor).
rows() {
  local engine=$1 data
  data=$(rounds "$engine")
  awk -v e="$engine" -v floor="$RATIO_FLOOR" '
    function median(a, n,   i, j, t, b) {
      for (i = 1; i <= n; i++) b[i] = a[i]
      for (i = 2; i <= n; i++) { t = b[i]; for (j = i - 1; j >= 1 && b[j] > t; j--) b[j + 1] = b[j]; b[j + 1] = t }
      return n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
    }
    function line(label, ar, a5, a9, rr, w, r5, r9, ratio, verdict) {
      printf "%-16s %10.1f %8.2f %8.2f %10.1f %3d %8.2f %8.2f %7.0f%% %6s\n",
        label, ar, a5, a9, rr, w, r5, r9, ratio * 100, verdict
    }
    { n++; for (k = 1; k <= 7; k++) col[k, n] = $k; ratio[n] = $1 / $4
      line(e " #" n, $1, $2, $3, $4, $7, $5, $6, ratio[n], "") }
    END {
      for (k = 1; k <= 7; k++) { for (i = 1; i <= n; i++) v[i] = col[k, i]; m[k] = median(v, n) }
      mr = median(ratio, n)
      line(e " median", m[1], m[2], m[3], m[4], m[7], m[5], m[6], mr, (mr >= floor ? "PASS" : "FAIL"))
    }' <<<"$data"
}

report() {
  echo
  echo "ESSP write benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  ${DURATION}s per measurement, ${WARMUP}s warm-up, $ROUNDS rounds"
  echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
  echo "postgres: $(psql_admin -c 'SHOW server_version'), synchronous_commit=$(psql_admin -c 'SHOW synchronous_commit')"
  echo
  echo "POST /v1/incidents, wrk -t1 -c$CONCURRENCY (CPU 0) -> essp (CPU 1); raw = raw-insert (CPU 1); floor: api >= 50% of raw"
  printf '%-16s %10s %8s %8s %10s %3s %8s %8s %8s %6s\n' \
    engine "api req/s" "p50 ms" "p99 ms" "raw ops/s" "w" "p50 ms" "p99 ms" "api/raw" floor
  rows sqlite
  rows postgres
  echo "(w = raw writers: SQLite has one writer, so 16 concurrent writers would only queue for it;"
  echo " its raw p50/p99 are per-commit times, while API latencies at c=$CONCURRENCY include that queue;"
  echo " median row: median of each column, and the median of the per-round ratios)"
  echo
  echo "edge mode (ESSP_MODE=edge, SQLite, empty database), $STARTS fresh starts:"
  awk -v rf="$READY_FLOOR_MS" -v mf="$RSS_FLOOR_MB" '
    { ready[NR] = $1; rss[NR] = $2 / 1024
      if ($1 > maxr) maxr = $1
      if ($2 / 1024 > maxm) maxm = $2 / 1024 }
    END {
      line = ""; for (i = 1; i <= NR; i++) line = line sprintf(" %d", ready[i])
      printf "  start-to-ready ms:%s   worst %d ms   floor <= %d ms   %s\n", line, maxr, rf, (maxr <= rf ? "PASS" : "FAIL")
      line = ""; for (i = 1; i <= NR; i++) line = line sprintf(" %.1f", rss[i])
      printf "  idle RSS MiB:%s   worst %.1f MiB   floor <= %d MB    %s\n", line, maxm, mf, (maxm <= mf ? "PASS" : "FAIL")
    }' "$WORK/edge.txt"
  echo
  local engine r
  for engine in sqlite postgres; do
    for ((r = 1; r <= ROUNDS; r++)); do
      echo "raw $engine #$r: $(<"$WORK/raw-$engine-$r.json")"
      echo "api $engine #$r: $(<"$WORK/api-$engine-$r.json")"
    done
  done
}

main() {
  check_tools
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/essp-bench.XXXXXX")
  build
  create_pg_database

  log "edge: start-to-ready and idle RSS, $STARTS fresh starts"
  measure_edge_start
  measure_sqlite
  measure_postgres
  report
}

main "$@"
