#!/usr/bin/env bash
# The edge sync benchmark, in one command:
#
#   bench/sync.sh [--changes N] [--down-changes M] [--bootstrap-incidents B]
#                 [--fresh-writes W] [--edges K] [--sim-edges E]
#                 [--sim-think-ms T] [--raw-seconds S] [--down-rounds R]
#      (defaults: N = M = 100000 changes, B = 5000, W = 200, K = 1, E = 500,
#       T = 10000, S = 10, R = 3)
#
# Real processes only: a release `essp` as central (Postgres, a fresh
# database on 127.0.0.1:5432) and as edges (ESSP_MODE=edge, SQLite in temp
# dirs), a private nats-server with JetStream. It measures SYNC.md's
# "Numbers to beat":
#   1. catch-up: an edge that queued N changes offline (N/2 incidents through
#      its API; each is the incident row + its audit row) is started with a
#      link; time until its /v1/sync/status says outboxDepth 0 and
#      confirmedSeq == lastSeq. Baseline: bench/raw-insert into the same
#      Postgres (16 writers, single-row transactions), same run;
#   2. down apply: central writes M changes for that school (M/2 incidents
#      through central's API) while the edge is stopped; time from the
#      edge's start until its down cursor reaches central's last position
#      for the school. Repeated R times from a copy of the edge's data
#      directory taken before the first start (the median round is
#      reported). Baseline: bench/raw-insert into SQLite, same run;
#   3. bootstrap: a fresh edge's first start (enrollment + snapshot copy)
#      for a school that holds B incidents and their B audit rows
#      centrally, until /v1/sync/status says "ok";
#   4. freshness: W incidents written one at a time at each of K online
#      edges (concurrently); latency until central's GET /v1/incidents/{id}
#      answers 200. Meanwhile E simulated edges (bench/raw-insert's
#      sync-sim: the sync protocol over NATS, no essp process each) enroll
#      and write too, each pausing 0..T ms between writes, and report the
#      same latency from their publish;
#   5. edge memory: the catching-up edge's peak RSS (VmHWM) in step 1.
# Targets are reported (PASS/FAIL), not asserted: the script exits 0 when
# every measurement was taken, non-zero when one could not be.
# BENCH_ESSP_BIN / BENCH_RAW_BIN: measure these binaries instead of building
# (sync-sim is taken from BENCH_RAW_BIN's directory, or BENCH_SIM_BIN).
# BENCH_DOWN_ALT_BIN: another essp build; step 2's rounds then alternate
# between the two (R each) and both medians are printed, so two builds'
# down apply are compared in one run (the verdict stays the main build's).
# See docs/benchmarks.md, section "Edge sync benchmark".

set -euo pipefail
shopt -s inherit_errexit

CHANGES=100000
DOWN_CHANGES=""
BOOT_INCIDENTS=5000
FRESH_WRITES=200
EDGES=1
SIM_EDGES=500
SIM_THINK_MS=10000
RAW_SECONDS=10
DOWN_ROUNDS=3
while [[ $# -gt 0 ]]; do
  case $1 in
    --changes) CHANGES=$2; shift 2 ;;
    --down-changes) DOWN_CHANGES=$2; shift 2 ;;
    --bootstrap-incidents) BOOT_INCIDENTS=$2; shift 2 ;;
    --fresh-writes) FRESH_WRITES=$2; shift 2 ;;
    --edges) EDGES=$2; shift 2 ;;
    --sim-edges) SIM_EDGES=$2; shift 2 ;;
    --sim-think-ms) SIM_THINK_MS=$2; shift 2 ;;
    --raw-seconds) RAW_SECONDS=$2; shift 2 ;;
    --down-rounds) DOWN_ROUNDS=$2; shift 2 ;;
    -h | --help) sed -n '2,38p' "$0"; exit 0 ;;
    *) echo "bench/sync.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
DOWN_CHANGES=${DOWN_CHANGES:-$CHANGES}
readonly CHANGES DOWN_CHANGES BOOT_INCIDENTS FRESH_WRITES EDGES SIM_EDGES SIM_THINK_MS RAW_SECONDS DOWN_ROUNDS
readonly CONCURRENCY=16
readonly RAW_WARMUP=2
readonly THINK_MS=300 # freshness: random pause 0..300 ms between a school's writes
readonly TENANT=bench-tenant
readonly SCHOOL_A=sync-a    # catch-up, down apply, freshness
readonly SCHOOL_B=sync-boot # bootstrap
readonly PG_HOST=127.0.0.1 PG_PORT=5432 PG_USER=postgres

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
readonly PY=$ROOT/bench/sync_load.py

# Processes run in this shell (never inside $(...)), so the EXIT trap knows
# every one of them: name -> pid.
declare -A PIDS=()
WORK=""
PG_DB=""
RAW_DB=""
NATS_PORT=""
CENTRAL=""
declare -A EDGE_URL=() # school -> base URL of its running edge

die() { echo "bench/sync.sh: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

psql_admin() {
  PGOPTIONS="-c client_min_messages=warning" \
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -qAt "$@"
}
psql_db() {
  PGOPTIONS="-c client_min_messages=warning" \
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -v ON_ERROR_STOP=1 -qAt "$@"
}

stop_proc() { # NAME: TERM, up to 10 s, then KILL
  local name=$1 pid=${PIDS[$1]:-} i
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in {1..100}; do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "PIDS[$name]"
}

cleanup() {
  local rc=$? name
  for name in "${!PIDS[@]}"; do
    kill -KILL "${PIDS[$name]}" 2>/dev/null || true
    wait "${PIDS[$name]}" 2>/dev/null || true
  done
  local db
  for db in "$PG_DB" "$RAW_DB"; do
    [[ -n $db ]] || continue
    dropdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" --if-exists --force "$db" >/dev/null 2>&1 ||
      echo "bench/sync.sh: could not drop database $db" >&2
  done
  [[ -n $WORK && -d $WORK ]] && rm -rf "$WORK"
  exit "$rc"
}

check_tools() {
  local n
  for n in "$CHANGES" "$DOWN_CHANGES" "$BOOT_INCIDENTS" "$FRESH_WRITES" "$EDGES" "$RAW_SECONDS" "$DOWN_ROUNDS"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "counts and seconds must be positive integers, got '$n'"
  done
  ((CHANGES >= 2 && DOWN_CHANGES >= 2)) || die "--changes and --down-changes must be at least 2"
  [[ $SIM_EDGES =~ ^[0-9]+$ && $SIM_THINK_MS =~ ^[0-9]+$ ]] ||
    die "--sim-edges and --sim-think-ms must be integers (0: no simulated edges / no pause)"
  ((SIM_EDGES <= 999)) || die "--sim-edges is at most 999"
  local tool
  for tool in cargo psql pg_isready createdb dropdb nats-server curl jq python3; do
    command -v "$tool" >/dev/null || die "$tool is required"
  done
  pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || die "no Postgres on $PG_HOST:$PG_PORT"
}

# The binaries, copied aside so that a build elsewhere cannot change them
# mid-run.
binaries() {
  local essp=${BENCH_ESSP_BIN:-} raw=${BENCH_RAW_BIN:-}
  if [[ -z $essp || -z $raw ]]; then
    log "building essp, raw-insert and sync-sim (release)"
    (cd "$ROOT" && cargo build -q --release -p essp -p essp-bench) >&2 || die "cargo build failed"
    essp=${essp:-$TARGET/release/essp}
    raw=${raw:-$TARGET/release/raw-insert}
  fi
  local sim=${BENCH_SIM_BIN:-$(dirname "$raw")/sync-sim}
  [[ -x $essp ]] || die "no essp binary at $essp"
  [[ -x $raw ]] || die "no raw-insert binary at $raw"
  [[ -x $sim ]] || die "no sync-sim binary at $sim"
  mkdir -p "$WORK/bin"
  cp "$essp" "$WORK/bin/essp"
  cp "$raw" "$WORK/bin/raw-insert"
  cp "$sim" "$WORK/bin/sync-sim"
  if [[ -n ${BENCH_DOWN_ALT_BIN:-} ]]; then
    [[ -x $BENCH_DOWN_ALT_BIN ]] || die "no essp binary at $BENCH_DOWN_ALT_BIN"
    cp "$BENCH_DOWN_ALT_BIN" "$WORK/bin/essp-alt"
  fi
  ESSP=$WORK/bin/essp
  RAW=$WORK/bin/raw-insert
  SIM=$WORK/bin/sync-sim
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ns() { date +%s%N; }

start_nats() {
  NATS_PORT=$(free_port)
  nats-server -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$WORK/nats" >"$WORK/nats.log" 2>&1 &
  PIDS[nats]=$!
  local i
  for i in {1..100}; do
    (exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT") 2>/dev/null && return 0
    sleep 0.05
  done
  die "nats-server did not listen on $NATS_PORT: $(tail -n 5 "$WORK/nats.log")"
}

# start_essp NAME PORT VAR=VALUE...: `essp serve` with a clean environment;
# each start logs to its own file, NAME.<n>.log, so warnings are told apart
# by phase (an edge started without a link warns until it gets one).
declare -A STARTS=()
start_essp() {
  local name=$1 port=$2
  shift 2
  STARTS[$name]=$((${STARTS[$name]:-0} + 1))
  LOGS[$name]=$WORK/$name.${STARTS[$name]}.log
  env -i "PATH=$PATH" "HOME=$HOME" "HTTP_ADDR=127.0.0.1:$port" LOG_LEVEL=warn \
    RATE_LIMIT_ENABLED=false ESSP_SHUTDOWN_GRACE=2s "$@" \
    "$ESSP" serve >"${LOGS[$name]}" 2>&1 &
  PIDS[$name]=$!
}
declare -A LOGS=()

wait_ready() { # NAME PORT
  local name=$1 port=$2 deadline code
  deadline=$(($(date +%s) + 120))
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/readyz" || true)
    [[ $code == 200 ]] && return 0
    kill -0 "${PIDS[$name]}" 2>/dev/null || { tail -n 20 "${LOGS[$name]}" >&2; die "$name exited before ready"; }
    (($(date +%s) < deadline)) || die "$name not ready after 120 s (last /readyz status: $code)"
    sleep 0.02
  done
}

start_central() {
  local port
  port=$(free_port)
  CENTRAL=http://127.0.0.1:$port
  mkdir -p "$WORK/central"
  start_essp central "$port" "ESSP_DATA_DIR=$WORK/central" \
    "PG_DSN=postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB" "NATS_URL=nats://127.0.0.1:$NATS_PORT"
  wait_ready central "$port"
}

# start_edge SCHOOL NATS_PORT: the school's edge (its data dir is kept
# across restarts); sets EDGE_URL[SCHOOL]. Does not wait.
start_edge() {
  local school=$1 nats_port=$2 port
  port=$(free_port)
  EDGE_URL[$school]=http://127.0.0.1:$port
  mkdir -p "$WORK/edge-$school"
  start_essp "edge-$school" "$port" ESSP_MODE=edge "ESSP_TENANT_ID=$TENANT" "ESSP_SCHOOL_ID=$school" \
    "ESSP_DATA_DIR=$WORK/edge-$school" "NATS_URL=nats://127.0.0.1:$nats_port" \
    "ESSP_EDGE_HOST_ID=bench-box-$school"
}

edge_port() { echo "${EDGE_URL[$1]##*:}"; }

sync_status() { # SCHOOL
  curl -fsS --max-time 10 -H "X-Tenant-ID: $TENANT" -H "X-School-ID: $1" "${EDGE_URL[$1]}/v1/sync/status"
}

# sqlite_q SCHOOL SQL: one value from the school's edge database (read-only).
sqlite_q() {
  python3 - "$WORK/edge-$1/essp.db" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=30)
print(db.execute(sys.argv[2]).fetchone()[0])
PY
}

# load URL SCHOOL COUNT PREFIX OUT: COUNT incidents through the API.
load() {
  local url=$1 school=$2 count=$3 prefix=$4 out=$5
  python3 "$PY" load --base "$url" --tenant "$TENANT" --school "$school" --count "$count" \
    --concurrency "$CONCURRENCY" --prefix "$prefix" >"$out" ||
    die "writes through $url failed: $(cat "$out")"
}

# wait_until DESCRIPTION SECONDS COMMAND...: polls COMMAND every 0.2 s.
wait_until() {
  local what=$1 secs=$2 deadline
  shift 2
  deadline=$(($(date +%s) + secs))
  until "$@"; do
    (($(date +%s) < deadline)) || die "timed out after ${secs}s waiting for $what"
    sleep 0.2
  done
}

edge_sealed() { [[ $(sqlite_q "$1" "SELECT COUNT(*) FROM audit_logs WHERE seq IS NULL") == 0 ]]; }
central_quiet() {
  [[ $(psql_db -c "SELECT (SELECT COUNT(*) FROM sync_outbox) + (SELECT COUNT(*) FROM audit_logs WHERE seq IS NULL)") == 0 ]]
}

# CPU seconds (user + system) used so far by the given pids, summed.
cpu_s() {
  local p ticks=0
  for p in "$@"; do
    [[ -r /proc/$p/stat ]] || continue
    ticks=$((ticks + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}
# cpu_snapshot: "central nats" CPU seconds now. (Postgres is left out: its
# backends come and go with central's pool, and other databases share it.)
cpu_snapshot() { echo "$(cpu_s "${PIDS[central]}") $(cpu_s "${PIDS[nats]}")"; }

raw_insert() { # ENGINE OUT
  local engine=$1 out=$2
  if [[ $engine == postgres ]]; then
    "$RAW" --engine postgres --dsn "postgres://$PG_USER@$PG_HOST:$PG_PORT/$RAW_DB" \
      --seconds "$RAW_SECONDS" --warmup "$RAW_WARMUP" --concurrency "$CONCURRENCY" >"$out" 2>"$out.err" ||
      die "raw-insert postgres failed: $(cat "$out.err")"
  else
    "$RAW" --engine sqlite --path "$WORK/raw.db" --seconds "$RAW_SECONDS" --warmup "$RAW_WARMUP" \
      >"$out" 2>"$out.err" || die "raw-insert sqlite failed: $(cat "$out.err")"
  fi
}

# ---------------------------------------------------------------- steps

catch_up() {
  local incidents=$((CHANGES / 2)) dead t0 depth last
  log "1. catch-up: edge $SCHOOL_A offline (its NATS_URL points at a closed port), $incidents incidents"
  dead=$(free_port)
  start_edge "$SCHOOL_A" "$dead"
  wait_ready "edge-$SCHOOL_A" "$(edge_port "$SCHOOL_A")"
  load "${EDGE_URL[$SCHOOL_A]}" "$SCHOOL_A" "$incidents" offline "$WORK/load-offline.json"
  log "   written in $(jq -r '"\(.seconds) s (\(.rps) req/s)"' "$WORK/load-offline.json"); waiting for the edge's audit sealer"
  wait_until "the edge's audit sealer" 600 edge_sealed "$SCHOOL_A"
  depth=$(sync_status "$SCHOOL_A")
  last=$(jq -r .lastSeq <<<"$depth")
  [[ $(jq -r .outboxDepth <<<"$depth") == "$last" && $last -ge $((2 * incidents)) ]] ||
    die "unexpected outbox after the offline writes: $depth"
  echo "$last" >"$WORK/catchup.queued"
  stop_proc "edge-$SCHOOL_A"

  log "   starting the edge with the link: $last queued changes"
  cpu_snapshot >"$WORK/catchup.cpu0"
  t0=$(now_ns)
  start_edge "$SCHOOL_A" "$NATS_PORT"
  python3 "$PY" wait --url "${EDGE_URL[$SCHOOL_A]}" --tenant "$TENANT" --school "$SCHOOL_A" \
    --t0-ns "$t0" --until drained --min-last "$last" --pid "${PIDS[edge-$SCHOOL_A]}" --poll-ms 100 \
    --central "$CENTRAL" \
    --timeout 1800 >"$WORK/catchup.json" || die "the edge did not drain: $(cat "$WORK/catchup.json")"
  echo "$(cpu_snapshot) $(cpu_s "${PIDS[edge-$SCHOOL_A]}")" >"$WORK/catchup.cpu1"
  python3 "$PY" jsinfo --port "$NATS_PORT" >"$WORK/catchup.js" || die "JetStream info failed"
  log "   drained: $(jq -c '{seconds, ready_s, central_first_s, central_done_s, vm_hwm_kib}' "$WORK/catchup.json")"
  local inc aud
  inc=$(psql_db -c "SELECT COUNT(*) FROM incidents WHERE tenant_id = '$TENANT' AND school_id = '$SCHOOL_A'")
  aud=$(psql_db -c "SELECT COUNT(*) FROM audit_logs WHERE tenant_id = '$TENANT' AND school_id = '$SCHOOL_A'")
  [[ $inc == "$incidents" && $aud -ge $incidents ]] ||
    die "central holds $inc incidents / $aud audit rows of $SCHOOL_A, expected $incidents / >= $incidents"
  echo "$inc $aud" >"$WORK/catchup.central"

  log "   baseline: raw-insert into the same Postgres, $CONCURRENCY writers, ${RAW_WARMUP}+${RAW_SECONDS} s"
  raw_insert postgres "$WORK/raw-postgres.json"
}

# down_round TARGET FROM TAG: starts the stopped edge and times it from its
# start until its down cursor reaches TARGET; files down.TAG.*.
down_round() {
  local target=$1 from=$2 tag=$3 t0 inc
  log "   starting the edge ($tag): down cursor $from -> $target"
  cpu_snapshot >"$WORK/down.$tag.cpu0"
  t0=$(now_ns)
  start_edge "$SCHOOL_A" "$NATS_PORT"
  python3 "$PY" wait --url "${EDGE_URL[$SCHOOL_A]}" --tenant "$TENANT" --school "$SCHOOL_A" \
    --t0-ns "$t0" --until down --cursor "$target" --from-cursor "$from" --poll-ms 50 \
    --timeout 900 >"$WORK/down.$tag.json" || die "the edge did not apply: $(cat "$WORK/down.$tag.json")"
  echo "$(cpu_snapshot) $(cpu_s "${PIDS[edge-$SCHOOL_A]}")" >"$WORK/down.$tag.cpu1"
  # What the edge applied, from its own counter (it restarted: only this).
  curl -fsS "${EDGE_URL[$SCHOOL_A]}/metrics" |
    awk '/^essp_sync_changes_applied_total/ && /direction="down"/ { print $2 }' >"$WORK/down.$tag.applied"
  inc=$(sqlite_q "$SCHOOL_A" "SELECT COUNT(*) FROM incidents WHERE school_id = '$SCHOOL_A' AND device_id LIKE 'dev\_central\_%' ESCAPE '\\'")
  [[ $inc == "$(( DOWN_CHANGES / 2 ))" ]] || die "the edge holds $inc of the $(( DOWN_CHANGES / 2 )) incidents central wrote"
  log "   applied: $(jq -c '{seconds, first_progress_s, ready_s}' "$WORK/down.$tag.json"), $(<"$WORK/down.$tag.applied") changes"
}

down_apply() {
  local incidents=$((DOWN_CHANGES / 2)) target from
  log "2. down apply: edge $SCHOOL_A stopped; central writes $incidents incidents for it"
  stop_proc "edge-$SCHOOL_A"
  from=$(sqlite_q "$SCHOOL_A" "SELECT COALESCE((SELECT value FROM node_state WHERE key = 'sync_down_cursor'), '0')")
  load "$CENTRAL" "$SCHOOL_A" "$incidents" central "$WORK/load-central.json"
  log "   written in $(jq -r '"\(.seconds) s (\(.rps) req/s)"' "$WORK/load-central.json"); waiting until central has published them (and sealed its audit rows)"
  wait_until "central's outbox to drain to JetStream" 900 central_quiet
  target=$(psql_db -c "SELECT down_seq FROM sync_edges WHERE tenant_id = '$TENANT' AND school_id = '$SCHOOL_A'")
  echo "$from $target" >"$WORK/down.cursors"
  cp -a "$WORK/edge-$SCHOOL_A" "$WORK/edge-before-down"
  local round builds=(main) build main_essp=$ESSP
  [[ -f $WORK/bin/essp-alt ]] && builds+=(alt)
  for ((round = 1; round <= DOWN_ROUNDS; round++)); do
    for build in "${builds[@]}"; do
      if [[ $round$build != 1main ]]; then # every later round starts from the same edge state
        stop_proc "edge-$SCHOOL_A"
        rm -rf "$WORK/edge-$SCHOOL_A"
        cp -a "$WORK/edge-before-down" "$WORK/edge-$SCHOOL_A"
      fi
      [[ $build == alt ]] && ESSP=$WORK/bin/essp-alt
      down_round "$target" "$from" "$build.$round"
      ESSP=$main_essp
    done
  done
  if [[ $build == alt ]]; then # later steps run the main build
    stop_proc "edge-$SCHOOL_A"
    start_edge "$SCHOOL_A" "$NATS_PORT"
    wait_ready "edge-$SCHOOL_A" "$(edge_port "$SCHOOL_A")"
  fi
  rm -rf "$WORK/edge-before-down"

  log "   baseline: raw-insert into SQLite (WAL, synchronous=FULL), ${RAW_WARMUP}+${RAW_SECONDS} s"
  raw_insert sqlite "$WORK/raw-sqlite.json"
}

bootstrap() {
  local t0
  log "3. bootstrap: $BOOT_INCIDENTS incidents for $SCHOOL_B created centrally, then a fresh edge"
  load "$CENTRAL" "$SCHOOL_B" "$BOOT_INCIDENTS" boot "$WORK/load-boot.json"
  wait_until "central's audit sealer" 600 central_quiet
  psql_db -c "SELECT (SELECT COUNT(*) FROM incidents WHERE school_id = '$SCHOOL_B'), (SELECT COUNT(*) FROM audit_logs WHERE school_id = '$SCHOOL_B')" |
    tr '|' ' ' >"$WORK/boot.central"
  t0=$(now_ns)
  start_edge "$SCHOOL_B" "$NATS_PORT"
  python3 "$PY" wait --url "${EDGE_URL[$SCHOOL_B]}" --tenant "$TENANT" --school "$SCHOOL_B" \
    --t0-ns "$t0" --until ok --poll-ms 10 --timeout 600 >"$WORK/boot.json" ||
    die "the fresh edge never said ok: $(cat "$WORK/boot.json")"
  local inc aud
  inc=$(sqlite_q "$SCHOOL_B" "SELECT COUNT(*) FROM incidents WHERE school_id = '$SCHOOL_B'")
  aud=$(sqlite_q "$SCHOOL_B" "SELECT COUNT(*) FROM audit_logs WHERE school_id = '$SCHOOL_B'")
  read -r cinc caud <"$WORK/boot.central"
  [[ $inc == "$cinc" && $aud == "$caud" ]] ||
    die "the fresh edge holds $inc incidents / $aud audit rows, central $cinc / $caud"
  log "   enrolled: $(jq -c '{seconds, ready_s}' "$WORK/boot.json"), $inc incidents + $aud audit rows"
  cpu_s "${PIDS[edge-$SCHOOL_B]}" >"$WORK/boot.cpu"
}

freshness() {
  local specs=() school i
  log "4. freshness: $FRESH_WRITES writes one at a time at each of $EDGES online edge(s)"
  specs+=(--edge "${EDGE_URL[$SCHOOL_A]},$SCHOOL_A")
  for ((i = 2; i <= EDGES; i++)); do
    school=sync-f$i
    start_edge "$school" "$NATS_PORT"
    specs+=(--edge "${EDGE_URL[$school]},$school")
  done
  for ((i = 2; i <= EDGES; i++)); do
    school=sync-f$i
    wait_ready "edge-$school" "$(edge_port "$school")"
    wait_until "edge $school to enroll" 120 eval '[[ $(sync_status '"$school"' | jq -r .state) == ok ]]'
  done
  # Everything from the previous steps confirmed and quiet first.
  wait_until "edge $SCHOOL_A idle" 300 eval \
    '[[ $(sync_status '"$SCHOOL_A"' | jq -r "(.outboxDepth == 0 and .state == \"ok\")") == true ]]'
  if ((SIM_EDGES > 0)); then
    log "   $SIM_EDGES simulated edges enroll and write alongside (pause 0..$SIM_THINK_MS ms)"
    "$SIM" --nats "nats://127.0.0.1:$NATS_PORT" --central "$CENTRAL" --tenant "$TENANT" \
      --edges "$SIM_EDGES" --think-ms "$SIM_THINK_MS" >"$WORK/sim.json" 2>"$WORK/sim.log" &
    PIDS[sim]=$!
    wait_until "the simulated edges to enroll" 300 eval \
      'grep -q "edges enrolled" "$WORK/sim.log" || { kill -0 ${PIDS[sim]} 2>/dev/null || die "sync-sim: $(tail -n 3 "$WORK/sim.log")"; false; }'
  fi
  python3 "$PY" fresh --central "$CENTRAL" --tenant "$TENANT" --count "$FRESH_WRITES" --poll-ms 5 \
    --think-ms "$THINK_MS" \
    "${specs[@]}" >"$WORK/fresh.json" || die "freshness failed: $(cat "$WORK/fresh.json")"
  log "   $(jq -c '{samples, p50_ms, p99_ms, max_ms}' "$WORK/fresh.json")"
  if ((SIM_EDGES > 0)); then
    # SIGTERM: writes in flight finish, then it prints its numbers.
    stop_proc sim
    jq -e .p50_ms "$WORK/sim.json" >/dev/null 2>&1 || die "sync-sim failed: $(tail -n 3 "$WORK/sim.log")"
    log "   simulated: $(jq -c . "$WORK/sim.json")"
  else
    echo '{}' >"$WORK/sim.json"
  fi
}

verify() {
  log "convergence check: essp sync verify on edge $SCHOOL_A (timed: digests are linear in a school's rows)"
  local rc=0 t0 secs
  # Central's school pages walk the primary key once the planner has
  # statistics; without any (a server with autovacuum off, like this
  # machine's) it sorts the whole school for every page. Autovacuum's
  # analyze would have run in production by now: stand in for it.
  if [[ $(psql_admin -c 'SHOW autovacuum') == off ]]; then
    log "   autovacuum is off on this server: ANALYZE central's database first"
    psql_db -c 'ANALYZE'
  fi
  t0=$(date +%s%N)
  env -i "PATH=$PATH" "HOME=$HOME" LOG_LEVEL=warn ESSP_MODE=edge "ESSP_TENANT_ID=$TENANT" \
    "ESSP_SCHOOL_ID=$SCHOOL_A" "ESSP_DATA_DIR=$WORK/edge-$SCHOOL_A" "NATS_URL=nats://127.0.0.1:$NATS_PORT" \
    "ESSP_EDGE_HOST_ID=bench-box-$SCHOOL_A" "$ESSP" sync verify >"$WORK/verify.txt" 2>&1 || rc=$?
  secs=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
  if ((rc == 0)); then
    echo "same (every table) in $secs s" >"$WORK/verify.result"
  elif grep -q 'DIFFERENT' "$WORK/verify.txt"; then
    echo "DIFFERENT" >"$WORK/verify.result"
  else
    echo "not completed (exit $rc): $(tail -n 1 "$WORK/verify.txt")" >"$WORK/verify.result"
  fi
}

log_summary() {
  local f n
  for f in "$WORK"/central.*.log "$WORK"/edge-*.log; do
    # AUTH_ENABLED=false is expected: the benchmark uses tenancy headers.
    n=$(grep '"level":"\(WARN\|ERROR\)"' "$f" | grep -vc 'AUTH_ENABLED=false' || true)
    [[ $n -gt 0 ]] || continue
    echo "$(basename "$f" .log) logged $n warning(s)/error(s):$(
      [[ $f == */edge-$SCHOOL_A.1.log ]] && echo " (the offline start: no link, so sync retries)")"
    grep '"level":"\(WARN\|ERROR\)"' "$f" | grep -v 'AUTH_ENABLED=false' |
      jq -r '"    \(.level) \(.message) \(.task // "") \(.error // "" | .[0:160])"' 2>/dev/null |
      sort | uniq -c | sort -rn | head -n 8 || true
  done
}

report() {
  echo
  echo "ESSP edge sync benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "postgres $(psql_admin -c 'SHOW server_version'), nats-server $(nats-server --version | awk '{print $2}'); nothing pinned"
  python3 - "$WORK" "$CHANGES" "$DOWN_CHANGES" "$BOOT_INCIDENTS" "$FRESH_WRITES" "$EDGES" "$SIM_EDGES" \
    "$SIM_THINK_MS" "$DOWN_ROUNDS" <<'PY'
import json, os, sys
w = sys.argv[1]
changes, down_changes, boot, fresh_n, edges, sim_edges, sim_think, rounds = map(int, sys.argv[2:])
J = lambda f: json.load(open(f"{w}/{f}"))
T = lambda f: open(f"{w}/{f}").read().split()
cu, bs, fr, sim = J("catchup.json"), J("boot.json"), J("fresh.json"), J("sim.json")
rawpg, rawsq = J("raw-postgres.json"), J("raw-sqlite.json")
queued = int(T("catchup.queued")[0])
cinc, caud = map(int, T("catchup.central"))
frm, to = map(int, T("down.cursors"))
def down_round(tag):
    applied = float(T(f"down.{tag}.applied")[0]) if T(f"down.{tag}.applied") else float("nan")
    d = J(f"down.{tag}.json")
    return {"tag": tag, "applied": applied, "d": d, "rate": applied / d["seconds"]}
def down_median(build):
    rs = sorted((down_round(f"{build}.{r}") for r in range(1, rounds + 1)), key=lambda r: r["rate"])
    return rs[len(rs) // 2], rs
dn, dn_rounds = down_median("main")
alt = down_median("alt") if os.path.exists(f"{w}/down.alt.1.json") else None
applied, down = dn["applied"], dn["d"]
binc, baud = map(int, T("boot.central"))
def cpu(step, wall):
    a, b = list(map(float, T(f"{step}.cpu0"))), list(map(float, T(f"{step}.cpu1")))
    return (f"CPU seconds in those {wall:.1f} s (2 cores = {2 * wall:.1f}): edge {b[2]:.1f}, central essp "
            f"{b[0] - a[0]:.1f}, nats-server {b[1] - a[1]:.1f}.")
verdict = lambda ok: "PASS" if ok else "FAIL"

up_rate = queued / cu["seconds"]
up_100k = 100000 / up_rate
dn_rate = dn["rate"]
dn_apply = down["seconds"] - (down["first_progress_s"] or 0)
hwm = (cu["vm_hwm_kib"] or 0) / 1024
rows = [
    ("1 catch-up: changes/s into Postgres", f"{up_rate:,.0f}/s", "", "",
     f"raw PG {rawpg['ops_per_sec']:,.0f}/s", f"{up_rate / rawpg['ops_per_sec']:.2f}"),
    ("1 catch-up: seconds for 100,000 changes", f"{up_100k:.1f} s" + ("" if queued == 100000 else " (scaled)"),
     "<= 30 s", verdict(up_100k <= 30), "", ""),
    ("2 down apply at the edge: changes/s", f"{dn_rate:,.0f}/s", ">= 20,000/s", verdict(dn_rate >= 20000),
     f"raw SQLite {rawsq['ops_per_sec']:,.0f}/s", f"{dn_rate / rawsq['ops_per_sec']:.2f}"),
    ("3 bootstrap: fresh edge start -> state ok", f"{bs['seconds']:.2f} s", "<= 2 s", verdict(bs["seconds"] <= 2), "", ""),
    (f"4 freshness p50 ({edges} real edge{'s' if edges > 1 else ''})", f"{fr['p50_ms']:.0f} ms", "<= 200 ms",
     verdict(fr["p50_ms"] <= 200), "", ""),
    (f"4 freshness p99 ({edges} real edge{'s' if edges > 1 else ''})", f"{fr['p99_ms']:.0f} ms", "<= 1000 ms",
     verdict(fr["p99_ms"] <= 1000), "", ""),
] + ([] if not sim else [
    (f"4 freshness p50 ({sim_edges} simulated edges)", f"{sim['p50_ms']:.0f} ms", "<= 200 ms",
     verdict(sim["p50_ms"] <= 200), "", ""),
    (f"4 freshness p99 ({sim_edges} simulated edges)", f"{sim['p99_ms']:.0f} ms", "<= 1000 ms",
     verdict(sim["p99_ms"] <= 1000), "", ""),
]) + [
    (f"5 edge peak RSS catching up {queued:,}", f"{hwm:.1f} MiB", "<= 150 MiB (at 1,000,000)",
     verdict(hwm <= 150), "", ""),
]
print()
print(f"{'measure':44} {'measured':>18} {'target':>26} {'':4}  {'baseline (same run)':>22} {'ratio':>6}")
for r in rows:
    print(f"{r[0]:44} {r[1]:>18} {r[2]:>26} {r[3]:4}  {r[4]:>22} {r[5]:>6}")
print()
print(f"1. {queued:,} changes queued offline ({queued // 2:,} incidents + their audit rows); central then held "
      f"{cinc:,} incidents and {caud:,} audit rows of the school.")
print(f"   edge start -> drained {cu['seconds']:.2f} s: HTTP answering after {cu['ready_s']:.2f} s, central's "
      f"appliedSeq > 0 at {cu['central_first_s']} s and complete at {cu['central_done_s']} s, confirmed to the "
      f"edge (outbox 0) at {cu['seconds']:.2f} s; peak RSS (VmHWM) {hwm:.1f} MiB.")
print(f"   {cpu('catchup', cu['seconds'])}")
stalls = cu.get("central_stalls") or []
print(f"   central's appliedSeq stood still (>= 2 s) {len(stalls)} times, {sum(x[1] for x in stalls):.1f} s in all"
      + (f": {', '.join(f'{x[1]} s at {x[0]} s' for x in stalls[:8])}{' ...' if len(stalls) > 8 else ''}" if stalls else "") + ".")
js = J("catchup.js")
up, uc = js["ESSP_SYNC_UP"], js["up_consumer"]
print(f"   JetStream up stream: {up['messages']} envelopes, {up['bytes'] / 1e6:,.1f} MB for {queued:,} changes "
      f"({-(-queued // 500)} envelopes of 500 would carry them; {up['bytes'] / max(1, up['messages']) / 1e6:.2f} MB "
      f"each); central's consumer delivered {uc['delivered']} times.")
print(f"   baseline: raw-insert, {rawpg['writers']} writers, single-row transactions: {rawpg['ops_per_sec']:,.0f} rows/s "
      f"(p50 {rawpg['p50_ms']} ms); ratio = drain rate / raw rate.")
print(f"2. {applied:,.0f} changes applied (down cursor {frm} -> {to}); edge start -> cursor reached {down['seconds']:.2f} s "
      f"(HTTP answering after {down['ready_s']:.2f} s, first batch seen at {down['first_progress_s']} s; "
      f"after the first batch was seen: " + (f"{applied / dn_apply:,.0f}/s" if dn_apply > 0.2 else "n/a") + ").")
print(f"   {cpu('down.' + dn['tag'], down['seconds'])}")
print(f"   the median of {rounds} round{'s' if rounds > 1 else ''}, each from the same copy of the edge's data: "
      + ", ".join(f"{r['rate']:,.0f}/s" for r in sorted(dn_rounds, key=lambda r: r["tag"])) + ".")
if alt:
    print(f"   BENCH_DOWN_ALT_BIN, rounds alternating with the above: median {alt[0]['rate']:,.0f}/s ("
          + ", ".join(f"{r['rate']:,.0f}/s" for r in sorted(alt[1], key=lambda r: r["tag"]))
          + f"); main/alt = {dn_rate / alt[0]['rate']:.3f}.")
print(f"   baseline: raw-insert SQLite, 1 writer, single-row transactions: {rawsq['ops_per_sec']:,.0f} rows/s.")
print(f"3. the school held {binc:,} incidents and {baud:,} audit rows centrally ({binc + baud:,} rows); no SSOT rows "
      f"(devices are not part of the edge's snapshot). HTTP answering after {bs['ready_s']:.2f} s; "
      f"the edge used {float(T('boot.cpu')[0]):.2f} CPU-s.")
print(f"4. {fr['samples']} writes, {fresh_n} per edge, one at a time (random 0-300 ms pause after each became "
      f"visible); latency = POST at the edge -> first 200 from central's GET (polled every 5 ms); p90 {fr['p90_ms']} ms, max {fr['max_ms']} ms, edge write p50 "
      f"{fr['write_p50_ms']} ms.")
if sim:
    print(f"   Alongside, {sim_edges} simulated edges (sync-sim: enrolled over NATS like real edges, no essp process "
          f"each) published {sim['samples']:,} envelopes in {sim['seconds']} s ({sim['envelopes_per_s']}/s, each an "
          f"incident and its audit row; pause 0-{sim_think} ms after each became visible); latency = publish -> "
          f"first 200 from central's GET (polled every 10 ms): p90 {sim['p90_ms']:.0f} ms, max {sim['max_ms']:.0f} ms.")
else:
    print("   No simulated edges ran (--sim-edges 0).")
PY
  echo "   convergence (essp sync verify, edge $SCHOOL_A): $(<"$WORK/verify.result")"
  echo
  echo "loads (not measured): offline edge $(<"$WORK/load-offline.json")"
  echo "                      central      $(<"$WORK/load-central.json")"
  echo "raw postgres: $(<"$WORK/raw-postgres.json")"
  echo "raw sqlite:   $(<"$WORK/raw-sqlite.json")"
  echo "catch-up: $(jq -c . "$WORK/catchup.json")"
  local f
  for f in "$WORK"/down.*.json; do
    echo "down:     $(jq -c . "$f")"
  done
  echo "boot:     $(jq -c . "$WORK/boot.json")"
  echo "fresh:    $(jq -c . "$WORK/fresh.json")"
  echo "sim:      $(jq -c . "$WORK/sim.json")"
  log_summary
  [[ $(<"$WORK/verify.result") == same* ]] || sed 's/^/    /' "$WORK/verify.txt"
}

main() {
  check_tools
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/essp-bench-sync.XXXXXX")
  binaries
  PG_DB="essp_bench_sync_$(date +%s)_$RANDOM"
  RAW_DB="${PG_DB}_raw"
  createdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$PG_DB" || die "cannot create database $PG_DB"
  createdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$RAW_DB" || die "cannot create database $RAW_DB"
  log "nats-server (JetStream) and central (Postgres $PG_DB)"
  start_nats
  start_central
  catch_up
  down_apply
  bootstrap
  freshness
  verify
  report
}

main "$@"
