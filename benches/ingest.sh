#!/usr/bin/env bash
# Benchmark: signed GitHub `push` ingest with durable confirms against the
# local RabbitMQ, next to a bare lapin publisher measuring the broker's own
# limit in the same run. See benches/README.md.
#
#   bash benches/ingest.sh
#
# Knobs (environment):
#   BENCH_SECONDS=15        measured seconds per run
#   BENCH_WARMUP=2          unmeasured warm-up seconds per run
#   BENCH_CONNECTIONS="8 64"
#   BENCH_WRK_THREADS=2
#   BENCH_PER_TASK=0        1: also run the bare publisher with one channel per task
#   BENCH_PAYLOAD=../shared/corpus/github/captured/push.gitops-repo.argo-cd-testdata.json
#   BENCH_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f   (loopback only)
#   BENCH_STRICT=0          1: exit 2 when chartpilot misses a target
#   BENCH_REV=              a commit (e.g. HEAD) to build instead of the working tree
#   BENCH_QUIET_WAIT=60     seconds to wait, before each run, for other processes
#                           (builds, tests) to use < BENCH_QUIET_CORES (0.15) cores
#   BENCH_RETRIES=2         measure a run again (keeping the least disturbed one)
#                           when other processes used >= BENCH_NOISE_CORES (0.25)
#
# Exits non-zero (loudly) on any non-2xx / non-202 response, socket error,
# publisher failure or setup problem.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

RUN_SECONDS=${BENCH_SECONDS:-15}
WARMUP=${BENCH_WARMUP:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-"8 64"}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
PER_TASK=${BENCH_PER_TASK:-0}
PAYLOAD=${BENCH_PAYLOAD:-../shared/corpus/github/captured/push.gitops-repo.argo-cd-testdata.json}
AMQP_URL=${BENCH_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
STRICT=${BENCH_STRICT:-0}
REV=${BENCH_REV:-}
QUIET_WAIT=${BENCH_QUIET_WAIT:-60}
QUIET_CORES=${BENCH_QUIET_CORES:-0.15}
NOISE_CORES=${BENCH_NOISE_CORES:-0.25}
RETRIES=${BENCH_RETRIES:-2}
PREFIX="bench-$$"                 # chartpilot's exchange and queues
BARE_PREFIX="bench-bare-$$"       # the bare publisher's queues
RMQ_NODE=rabbit@localhost

log() { printf '[ingest] %s\n' "$*" >&2; }
die() { printf '[ingest] FAIL: %s\n' "$*" >&2; exit 1; }

case "$AMQP_URL" in
  amqp://*@127.0.0.1:*|amqp://*@localhost:*|amqp://127.0.0.1:*|amqp://localhost:*) ;;
  *) die "BENCH_AMQP_URL must point at a loopback broker, got $AMQP_URL" ;;
esac
[ -f "$PAYLOAD" ] || die "payload $PAYLOAD not found"

# --- tools ------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk from Debian"
  [ "$(id -u)" -eq 0 ] || die "wrk is missing and installing it needs root (apt-get install wrk)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
command -v curl >/dev/null 2>&1 || die "curl is needed (apt-get install curl)"
command -v rabbitmqctl >/dev/null 2>&1 || die "rabbitmqctl is needed (bash scripts/test-services.sh)"
if command -v openssl >/dev/null 2>&1; then HMAC=openssl
elif command -v python3 >/dev/null 2>&1; then HMAC=python3
else die "openssl or python3 is needed to sign the payload"; fi

# --- broker -----------------------------------------------------------------
bash scripts/test-services.sh
rmq() { rabbitmqctl -n "$RMQ_NODE" -q "$@"; }
BEAM_PID=$(rmq status 2>/dev/null | awk '/^OS PID:/ {print $3}')
[ -n "$BEAM_PID" ] && [ -d "/proc/$BEAM_PID" ] || die "cannot find the broker's OS pid"
RMQ_VERSION=$(rmq status 2>/dev/null | awk -F': ' '/^RabbitMQ version:/ {print $2}')

# --- run state and cleanup ---------------------------------------------------
WORK=$(mktemp -d /tmp/chartpilot-ingest.XXXXXX)
CP_PID=""
SAMPLER_PID=""

delete_bench_objects() {
  local q
  for q in $(rmq list_queues name 2>/dev/null | grep -E "^(${PREFIX}\.|${BARE_PREFIX}-)" || true); do
    rmq delete_queue "$q" >/dev/null 2>&1 || log "warning: could not delete queue $q"
  done
  # rabbitmqctl has no delete_exchange; ask the node directly (3.x API).
  if rmq list_exchanges name 2>/dev/null | grep -qx "$PREFIX"; then
    rmq eval "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"${PREFIX}\">>), false, <<\"bench\">>)." >/dev/null 2>&1 \
      || log "warning: could not delete exchange $PREFIX (delete it by hand)"
  fi
}

cleanup() {
  local rc=$?
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  if [ -n "$CP_PID" ] && kill -0 "$CP_PID" 2>/dev/null; then
    kill -TERM "$CP_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$CP_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CP_PID" 2>/dev/null || true
  fi
  delete_bench_objects
  if [ "$rc" -ne 0 ] && [ -f "$WORK/chartpilot.log" ]; then
    log "chartpilot log (last 20 lines):"; tail -20 "$WORK/chartpilot.log" >&2 || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build (before anything is measured) ------------------------------------
# Default: the working tree, into ./target. BENCH_REV=<commit>: that commit
# (git archive) with this working tree's benches/bare_publisher.rs, into
# ./target/bench-rev (so ./target/release/chartpilot is left alone) -- for
# measuring a committed revision while the tree is being edited.
if [ -n "$REV" ]; then
  REV_SHA=$(git rev-parse --verify --short "$REV^{commit}") || die "BENCH_REV=$REV is not a commit"
  BUILD_DIR="$WORK/src"
  mkdir -p "$BUILD_DIR"
  git archive --format=tar "$REV_SHA" | tar -x -C "$BUILD_DIR"
  mkdir -p "$BUILD_DIR/benches"
  cp benches/bare_publisher.rs "$BUILD_DIR/benches/bare_publisher.rs"
  export CARGO_TARGET_DIR="$ROOT/target/bench-rev"
  SOURCE_DESC="git $REV_SHA (BENCH_REV=$REV) + working-tree benches/bare_publisher.rs"
else
  BUILD_DIR="$ROOT"
  export CARGO_TARGET_DIR="$ROOT/target"
  SOURCE_DESC="working tree at git $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' + uncommitted changes in src/')"
fi
log "building $SOURCE_DESC (cargo build --release; cargo bench --no-run)"
(cd "$BUILD_DIR" && cargo build --release --quiet --bin chartpilot) \
  || die "cargo build --release failed${REV:+ (BENCH_REV=$REV)}; to measure a committed revision while the tree is mid-edit use BENCH_REV=HEAD"
BARE_EXE=$(cd "$BUILD_DIR" && cargo bench --bench bare_publisher --no-run --message-format=json 2>/dev/null \
  | grep -o '"executable":"[^"]*bare_publisher[^"]*"' | tail -1 | cut -d'"' -f4) || true
[ -n "$BARE_EXE" ] && [ -x "$BARE_EXE" ] || die "cargo bench --bench bare_publisher --no-run failed"
# Private copies: a concurrent build cannot swap the binaries mid-run.
cp "$CARGO_TARGET_DIR/release/chartpilot" "$WORK/chartpilot"
cp "$BARE_EXE" "$WORK/bare_publisher"
BIN="$WORK/chartpilot"

# --- signed request ------------------------------------------------------------
cp "$PAYLOAD" "$WORK/body.json"
SIZE=$(wc -c <"$WORK/body.json" | tr -d ' ')
if [ "$HMAC" = openssl ]; then
  SECRET=$(openssl rand -hex 32)
  SIG=$(openssl dgst -sha256 -hmac "$SECRET" -hex <"$WORK/body.json" | awk '{print $NF}')
else
  SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
  SIG=$(SECRET="$SECRET" python3 -c 'import hmac,hashlib,os,sys; print(hmac.new(os.environ["SECRET"].encode(), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())' <"$WORK/body.json")
fi
SIG="sha256=$SIG"

cat >"$WORK/push.lua" <<'LUA'
-- POST a signed GitHub push. args: body file, X-Hub-Signature-256 value,
-- delivery id prefix. Every request is a new delivery, its id built per
-- request from a counter: a delivery id seen before is answered 202 from
-- the replica's idempotency cache without publishing anything (a prepared
-- pool of ids, as this script had before the queue remembered keys,
-- repeats within a second). There is no response() callback, which would
-- cost wrk CPU per request on the cores chartpilot and the broker need.
-- Non-2xx answers are counted by wrk; a 2xx without a queued job is caught
-- by the script's jobs-queue count.
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  body = f:read("*a")
  f:close()
  headers = {
    ["Content-Type"] = "application/json",
    ["User-Agent"] = "GitHub-Hookshot/bench",
    ["X-GitHub-Event"] = "push",
    ["X-Hub-Signature-256"] = args[2],
  }
  prefix = string.format("%s-%d-", args[3], tid)
  n = 0
end

function request()
  n = n + 1
  headers["X-GitHub-Delivery"] = prefix .. n
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d non2xx=%d connect_err=%d read_err=%d " ..
    "write_err=%d timeout_err=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
LUA

# --- chartpilot ------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
  || echo $((20000 + $$ % 20000)))
BASE="http://127.0.0.1:$PORT"
log "starting chartpilot (receiver, amqp, prefix $PREFIX) on $BASE"
(
  # Configured by the environment only: no config file in its directory,
  # and no CHARTPILOT__* from the caller's shell.
  for v in $(compgen -e | grep '^CHARTPILOT__' || true); do unset "$v"; done
  cd "$WORK"
  export CHARTPILOT__QUEUE__KIND=amqp \
    CHARTPILOT__QUEUE__URL="$AMQP_URL" \
    CHARTPILOT__QUEUE__PREFIX="$PREFIX" \
    CHARTPILOT__SERVER__LISTEN="127.0.0.1:$PORT" \
    CHARTPILOT__GITHUB__WEBHOOK_SECRET="$SECRET" \
    CHARTPILOT__LOG__LEVEL=warn
  exec "$BIN" serve --role receiver
) >"$WORK/chartpilot.log" 2>&1 &
CP_PID=$!

ready=""
for _ in $(seq 1 300); do
  kill -0 "$CP_PID" 2>/dev/null || die "chartpilot exited during start-up"
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz" 2>/dev/null)" = 200 ]; then ready=1; break; fi
  sleep 0.1
done
[ -n "$ready" ] || die "chartpilot not ready (GET /readyz != 200) after 30 s"

post() { # $1 = signature header value; prints the status code
  curl -s -o "$WORK/resp" -w '%{http_code}' -X POST "$BASE/webhooks/github" \
    -H 'Content-Type: application/json' -H 'X-GitHub-Event: push' \
    -H "X-GitHub-Delivery: $PREFIX-check-$RANDOM" -H "X-Hub-Signature-256: $1" \
    --data-binary "@$WORK/body.json"
}
code=$(post "$SIG"); [ "$code" = 202 ] || die "signed push answered $code, not 202: $(cat "$WORK/resp")"
code=$(post "sha256=$(printf '0%.0s' $(seq 1 64))"); [ "$code" = 401 ] || die "badly signed push answered $code, not 401"

# The message chartpilot publishes is its job envelope, not the raw payload.
# Jobs go to the lane queues P.lane.<n> (queue.lanes, default 16), each
# push to its repository's lane: the one that holds the check's job.
# (P.jobs: a BENCH_REV from before the lanes, 2ca89ee.)
lane_queues() {
  rmq list_queues name messages 2>/dev/null \
    | awk -v p="$PREFIX.lane." -v old="$PREFIX.jobs" 'index($1, p) == 1 || $1 == old'
}
JOBS_LANE=""
for _ in $(seq 1 50); do
  JOBS_LANE=$(lane_queues | awk '$2 > 0 && !found { print $1; found = 1 }')
  [ -n "$JOBS_LANE" ] && break
  sleep 0.1
done
[ -n "$JOBS_LANE" ] || die "the signed push's job is in no lane queue $PREFIX.lane.*"
ENV_SIZE=$("$WORK/bare_publisher" --bench --peek-queue "$JOBS_LANE" --url "$AMQP_URL" 2>/dev/null \
  | awk '/^PEEK / { sub(/.*bytes=/, ""); print }')
case "$ENV_SIZE" in ''|*[!0-9]*) die "cannot read the size of chartpilot's job message" ;; esac

sleep 1
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$CP_PID/status"; }
RSS_IDLE_KIB=$(rss_kib)
CP_THREADS=$(awk '/^Threads:/ {print $2}' "/proc/$CP_PID/status")
log "chartpilot ready (pid $CP_PID), RSS idle $((RSS_IDLE_KIB / 1024)) MiB; payload $SIZE B, job message $ENV_SIZE B"

# --- helpers -------------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)
proc_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
machine_busy() { awk '/^cpu / { print $2+$3+$4+$7+$8+$9 }' /proc/stat; }
now_ns() { date +%s%N; }
cores() { # ticks elapsed_ns -> cores busy
  awk -v t="$1" -v ns="$2" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz / (ns / 1e9) }'
}
kv() { # kv KEY LINE: value of KEY=... in a RESULT line
  tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k {print $2}'
}
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
# Every live process: pid, utime+stime ticks, name.
snapshot() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk '{
    o = index($0, " ("); c = 0
    for (i = length($0); i > o; i--) if (substr($0, i, 2) == ") ") { c = i; break }
    if (!o || !c) next
    name = substr($0, o + 2, c - o - 2); gsub(/[ \t]/, "_", name)
    split(substr($0, c + 2), f, " ")
    print substr($0, 1, o - 1), f[12] + f[13], name
  }'
}
# top_others BEFORE AFTER NS PID...: the three busiest other processes,
# "name=cores,..." (informational: processes that exited are not seen).
top_others() {
  local before=$1 after=$2 ns=$3; shift 3
  awk -v ns="$ns" -v hz="$CLK_TCK" -v skip=" $* " '
    FNR == NR { t0[$1] = $2; next }
    index(skip, " " $1 " ") == 0 { d = $2 - (($1 in t0) ? t0[$1] : 0); if (d > 0) by[$3] += d }
    END {
      sep = ""
      for (k = 0; k < 3; k++) {
        best = ""; for (n in by) if (best == "" || by[n] > by[best]) best = n
        if (best == "" || by[best] / hz / (ns / 1e9) < 0.03) break
        printf "%s%s=%.2f", sep, best, by[best] / hz / (ns / 1e9); sep = ","; delete by[best]
      }
      if (sep == "") printf "-"
    }' "$before" "$after"
}

jobs_count() { lane_queues | awk '{ s += $2 } END { print s + 0 }'; }
beam_pid() { rmq status 2>/dev/null | awk '/^OS PID:/ {print $3}'; }
purge_jobs() { for q in $(lane_queues | awk '{ print $1 }'); do rmq purge_queue "$q" >/dev/null 2>&1 || true; done; }

# wait_quiet: up to QUIET_WAIT s until everything but chartpilot and the
# broker uses less than QUIET_CORES of the machine over a 2 s window.
wait_quiet() {
  local start=$SECONDS t0 t1 m0 m1 k0 k1 load
  while :; do
    snapshot >"$WORK/q0"
    t0=$(now_ns); m0=$(machine_busy); k0=$(( $(proc_ticks "$CP_PID") + $(proc_ticks "$BEAM_PID") ))
    sleep 2
    t1=$(now_ns); m1=$(machine_busy); k1=$(( $(proc_ticks "$CP_PID") + $(proc_ticks "$BEAM_PID") ))
    snapshot >"$WORK/q1"
    load=$(cores $(( (m1 - m0) - (k1 - k0) )) $((t1 - t0)))
    lt "$load" "$QUIET_CORES" && return 0
    if [ $((SECONDS - start)) -ge "$QUIET_WAIT" ]; then
      log "machine still busy after ${QUIET_WAIT}s (others: $load cores); measuring anyway"
      return 0
    fi
    log "waiting for a quiet machine (others: $load cores: $(top_others "$WORK/q0" "$WORK/q1" $((t1 - t0)) "$CP_PID" "$BEAM_PID" "$$"))"
  done
}

# run_wrk C SECONDS LABEL: prints the RESULT line, leaves wrk's CPU seconds
# in $WORK/wrk_cpu; dies on any non-202 or socket error.
run_wrk() {
  local c=$1 secs=$2 label=$3 out line bad
  out=$(wrk -t"$WRK_THREADS" -c"$c" -d"${secs}s" --timeout 10s --latency \
        -s "$WORK/push.lua" "$BASE/webhooks/github" -- "$WORK/body.json" "$SIG" "$PREFIX-$label" 2>&1
        rc=$?; times >"$WORK/wrk_times"; exit $rc) \
    || die "wrk failed: $out"
  printf '%s\n' "$out" >>"$WORK/wrk.log"
  line=$(grep '^RESULT ' <<<"$out") || die "wrk printed no RESULT line: $out"
  for k in non2xx connect_err read_err write_err timeout_err; do
    bad=$(kv "$k" "$line")
    [ "$bad" = 0 ] || die "c=$c ($label): $k=$bad -- every request must get 202
$out
a signed push now answers: $(post "$SIG") $(cat "$WORK/resp" 2>/dev/null)"
  done
  if grep -q 'Non-2xx' <<<"$out"; then die "wrk reports non-2xx responses: $out"; fi
  # user + system seconds of the subshell's children, i.e. wrk.
  tail -1 "$WORK/wrk_times" \
    | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.2f\n", t }' >"$WORK/wrk_cpu"
  printf '%s\n' "$line"
}

declare -A CP_RPS CP_P50 CP_P99 CP_CPU CP_RB CP_WRK CP_M CP_NOISE CP_TOP
declare -A BS_RPS BS_P50 BS_P99 BS_PUB BS_RB BS_M BS_NOISE BS_TOP
declare -A BT_RPS BT_P50 BT_P99 BT_NOISE
declare -A BE_RPS BE_P50 BE_P99 BE_NOISE
RSS_MAX_KIB=0
DETAILS="$WORK/details.txt"
: >"$DETAILS"

# measure_chartpilot C ATTEMPT: one measured wrk run; keeps it in CP_* when
# it is the least disturbed so far. Returns 0 when it was quiet enough.
measure_chartpilot() {
  local c=$1 attempt=$2 line t0 t1 cp0 cp1 rb0 rb1 m0 m1 rss_run reqs dur queued noise wrk_s
  purge_jobs
  wait_quiet
  log "chartpilot c=$c: warm-up ${WARMUP}s, then ${RUN_SECONDS}s (attempt $attempt)"
  run_wrk "$c" "$WARMUP" "warm$c-$attempt" >/dev/null
  purge_jobs
  : >"$WORK/rss"
  ( while kill -0 "$CP_PID" 2>/dev/null; do rss_kib >>"$WORK/rss"; sleep 0.2; done ) &
  SAMPLER_PID=$!
  snapshot >"$WORK/snap0"
  t0=$(now_ns); cp0=$(proc_ticks "$CP_PID"); rb0=$(proc_ticks "$BEAM_PID"); m0=$(machine_busy)
  # (set -e does not apply inside a function called from `&&`: exit by hand.)
  line=$(run_wrk "$c" "$RUN_SECONDS" "c$c-$attempt") || exit 1
  t1=$(now_ns); cp1=$(proc_ticks "$CP_PID"); rb1=$(proc_ticks "$BEAM_PID"); m1=$(machine_busy)
  snapshot >"$WORK/snap1"
  kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""
  kill -0 "$CP_PID" 2>/dev/null || die "chartpilot died under load"
  rss_run=$(sort -n "$WORK/rss" | tail -1)
  if [ "${rss_run:-0}" -gt "$RSS_MAX_KIB" ]; then RSS_MAX_KIB=$rss_run; fi
  wrk_s=$(cat "$WORK/wrk_cpu")
  # CPU not used by chartpilot, the broker or wrk: other processes.
  noise=$(awk -v m=$((m1 - m0)) -v k=$(( (cp1 - cp0) + (rb1 - rb0) )) -v w="$wrk_s" -v hz="$CLK_TCK" -v ns=$((t1 - t0)) \
    'BEGIN { v = ((m - k) / hz - w) / (ns / 1e9); printf "%.2f", v < 0 ? 0 : v }')
  reqs=$(kv requests "$line"); dur=$(kv duration_us "$line")

  # Every 2xx must be a 202 whose job is in the jobs queue (purged before
  # the run; a few more may come from the warm-up's and this run's last
  # in-flight requests).
  # The broker's queue stats lag by its statistics interval (5 s).
  sleep 6
  for _ in 1 2 3 4 5; do
    queued=$(jobs_count)
    [ "${queued:-0}" -ge "$reqs" ] && break
    sleep 2
  done
  [ "${queued:-0}" -ge "$reqs" ] \
    || die "c=$c: the lanes $PREFIX.lane.* hold ${queued:-?} jobs after $reqs 2xx answers -- a 2xx without a queued job (not 202?) or a confirmed job lost"
  purge_jobs   # the broker holds nothing of ours during the bare runs

  local rps p50 p99 top
  rps=$(awk -v r="$reqs" -v d="$dur" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
  p50=$(awk -v v="$(kv p50_us "$line")" 'BEGIN { printf "%.2f", v / 1000 }')
  p99=$(awk -v v="$(kv p99_us "$line")" 'BEGIN { printf "%.2f", v / 1000 }')
  top=$(top_others "$WORK/snap0" "$WORK/snap1" $((t1 - t0)) "$CP_PID" "$BEAM_PID" "$$")
  {
    echo "chartpilot c=$c attempt $attempt: $line"
    echo "chartpilot c=$c attempt $attempt: rss_max_kib=$rss_run jobs_in_queue=$queued (>= requests: every answer was a 202 with its job queued) cpu_cores chartpilot=$(cores $((cp1 - cp0)) $((t1 - t0))) rabbitmq=$(cores $((rb1 - rb0)) $((t1 - t0))) wrk=$(awk -v s="$wrk_s" -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", s / (ns / 1e9) }') machine=$(cores $((m1 - m0)) $((t1 - t0)))/$NCPU others=$noise ($top)"
  } >>"$DETAILS"
  log "chartpilot c=$c: $rps req/s p50 $p50 ms p99 $p99 ms; others used $noise cores ($top)"
  if [ -z "${CP_NOISE[$c]:-}" ] || lt "$noise" "${CP_NOISE[$c]}"; then
    CP_RPS[$c]=$rps; CP_P50[$c]=$p50; CP_P99[$c]=$p99; CP_NOISE[$c]=$noise; CP_TOP[$c]=$top
    CP_CPU[$c]=$(cores $((cp1 - cp0)) $((t1 - t0))); CP_RB[$c]=$(cores $((rb1 - rb0)) $((t1 - t0)))
    CP_WRK[$c]=$(awk -v s="$wrk_s" -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", s / (ns / 1e9) }')
    CP_M[$c]=$(cores $((m1 - m0)) $((t1 - t0)))
  fi
  lt "$noise" "$NOISE_CORES"
}

# measure_bare C ATTEMPT: the bare publisher at the same concurrency, with
# the payload's size and with the size of chartpilot's job message (the
# executable `cargo bench --bench bare_publisher -- ...` runs, copied);
# keeps the least disturbed result per mode and size.
measure_bare() {
  local c=$1 attempt=$2 modes=shared out line m sz rate p50 p99 noise b0 b1 top quiet=1
  if [ "$PER_TASK" = 1 ]; then modes=shared,per-task; fi
  wait_quiet
  log "bare publisher c=$c ($modes; ${SIZE} B, ${ENV_SIZE} B): ${WARMUP}s + ${RUN_SECONDS}s each (attempt $attempt)"
  snapshot >"$WORK/snap0"; b0=$(now_ns)
  out=$("$WORK/bare_publisher" --bench --connections "$c" --mode "$modes" \
        --seconds "$RUN_SECONDS" --warmup "$WARMUP" --size "$SIZE,$ENV_SIZE" --url "$AMQP_URL" \
        --queue-prefix "$BARE_PREFIX" --watch-pid "$BEAM_PID" 2>&1) \
    || die "bare publisher failed: $out"
  b1=$(now_ns); snapshot >"$WORK/snap1"
  top=$(top_others "$WORK/snap0" "$WORK/snap1" $((b1 - b0)) "$BEAM_PID" "$$")
  grep -q '^RESULT ' <<<"$out" || die "bare publisher printed no result: $out"
  while IFS= read -r line; do
    m=$(kv mode "$line"); sz=$(kv size "$line")
    [ "$(kv failures "$line")" = 0 ] || die "bare publisher failures: $line"
    rate=$(printf '%.0f' "$(kv rate "$line")")
    p50=$(printf '%.2f' "$(kv p50_ms "$line")"); p99=$(printf '%.2f' "$(kv p99_ms "$line")")
    # CPU not used by the publisher or the broker, over the measured window.
    noise=$(awk -v m="$(kv cpu_machine "$line")" -v s="$(kv cpu_self "$line")" -v w="$(kv cpu_watched "$line")" \
      'BEGIN { v = m - s - w; printf "%.2f", v < 0 ? 0 : v }')
    echo "bare c=$c attempt $attempt: $line others=$noise ($top)" >>"$DETAILS"
    log "bare c=$c $m ${sz} B: $rate msg/s p50 $p50 ms p99 $p99 ms; others used $noise cores"
    if [ "$m" = shared ] && [ "$sz" = "$SIZE" ]; then
      lt "$noise" "$NOISE_CORES" || quiet=0
      if [ -z "${BS_NOISE[$c]:-}" ] || lt "$noise" "${BS_NOISE[$c]}"; then
        BS_RPS[$c]=$rate; BS_P50[$c]=$p50; BS_P99[$c]=$p99; BS_NOISE[$c]=$noise; BS_TOP[$c]=$top
        BS_PUB[$c]=$(kv cpu_self "$line"); BS_RB[$c]=$(kv cpu_watched "$line"); BS_M[$c]=$(kv cpu_machine "$line")
      fi
    elif [ "$m" = shared ]; then
      lt "$noise" "$NOISE_CORES" || quiet=0
      if [ -z "${BE_NOISE[$c]:-}" ] || lt "$noise" "${BE_NOISE[$c]}"; then
        BE_RPS[$c]=$rate; BE_P50[$c]=$p50; BE_P99[$c]=$p99; BE_NOISE[$c]=$noise
      fi
    elif [ "$sz" = "$SIZE" ]; then
      if [ -z "${BT_NOISE[$c]:-}" ] || lt "$noise" "${BT_NOISE[$c]}"; then
        BT_RPS[$c]=$rate; BT_P50[$c]=$p50; BT_P99[$c]=$p99; BT_NOISE[$c]=$noise
      fi
    fi
  done < <(grep '^RESULT ' <<<"$out")
  [ "$quiet" = 1 ]
}

for c in $CONNECTIONS; do
  BEAM_PID=$(beam_pid)
  [ -n "$BEAM_PID" ] && [ -d "/proc/$BEAM_PID" ] || die "cannot find the broker's OS pid"
  for attempt in $(seq 1 $((RETRIES + 1))); do
    measure_chartpilot "$c" "$attempt" && break
    [ "$attempt" -le "$RETRIES" ] && log "c=$c: other processes disturbed the run; measuring again"
  done
  for attempt in $(seq 1 $((RETRIES + 1))); do
    measure_bare "$c" "$attempt" && break
    [ "$attempt" -le "$RETRIES" ] && log "c=$c: other processes disturbed the run; measuring again"
  done
done

RSS_HWM_KIB=$(awk '/^VmHWM:/ {print $2}' "/proc/$CP_PID/status")

# --- summary -------------------------------------------------------------------
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
mark() { lt "$1" "$NOISE_CORES" && echo " " || echo "*"; }
STAMP=$(date -u +%Y-%m-%dT%H:%M:%SZ)
SUMMARY="$WORK/summary.txt"
MISSED=0
{
  echo "chartpilot signed GitHub push ingest vs bare lapin publisher (confirms, quorum queue, persistent)"
  echo "date $STAMP | $(uname -m), $NCPU cores, $(awk '/^MemTotal:/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) | RabbitMQ ${RMQ_VERSION:-?} on 127.0.0.1 | $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')"
  echo "source: $SOURCE_DESC"
  echo "payload $(basename "$PAYLOAD") $SIZE B | ${RUN_SECONDS}s per run after ${WARMUP}s warm-up | wrk -t$WRK_THREADS | chartpilot threads: $CP_THREADS"
  echo
  echo "chartpilot publishes its job envelope ($ENV_SIZE B), not the raw payload ($SIZE B); the bare"
  echo "publisher runs at the payload size (the target's reference) and at the envelope size."
  echo
  printf '%-4s | %-29s | %-40s | %-40s' "c" "chartpilot req/s  p50  p99" "bare @${SIZE}B msg/s  p50  p99  ratio" "bare @${ENV_SIZE}B msg/s  p50  p99  ratio"
  if [ "$PER_TASK" = 1 ]; then printf ' | %s' "bare ch/task @${SIZE}B msg/s p50 p99"; fi
  echo
  for c in $CONNECTIONS; do
    ratio=$(awk -v a="${CP_RPS[$c]}" -v b="${BS_RPS[$c]}" 'BEGIN { printf "%.0f%%", 100 * a / b }')
    ratio_e=$(awk -v a="${CP_RPS[$c]}" -v b="${BE_RPS[$c]:-0}" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else printf "?" }')
    printf '%-4s | %6s%s %6s ms %6s ms | %6s%s %6s ms %6s ms  %6s | %6s%s %6s ms %6s ms  %6s' "$c" \
      "${CP_RPS[$c]}" "$(mark "${CP_NOISE[$c]}")" "${CP_P50[$c]}" "${CP_P99[$c]}" \
      "${BS_RPS[$c]}" "$(mark "${BS_NOISE[$c]}")" "${BS_P50[$c]}" "${BS_P99[$c]}" "$ratio" \
      "${BE_RPS[$c]:-?}" "$(mark "${BE_NOISE[$c]:-9}")" "${BE_P50[$c]:-?}" "${BE_P99[$c]:-?}" "$ratio_e"
    if [ "$PER_TASK" = 1 ]; then
      printf ' | %6s%s %6s ms %6s ms' "${BT_RPS[$c]:-?}" "$(mark "${BT_NOISE[$c]:-9}")" "${BT_P50[$c]:-?}" "${BT_P99[$c]:-?}"
    fi
    echo
  done
  echo "(* = measured while other processes used >= $NOISE_CORES cores: disturbed)"
  echo
  echo "chartpilot RSS: idle $(mib "$RSS_IDLE_KIB") MiB | max under load $(mib "$RSS_MAX_KIB") MiB (VmRSS every 0.2 s) | VmHWM at end $(mib "$RSS_HWM_KIB") MiB"
  echo "CPU, cores busy of $NCPU, over the measured window:"
  for c in $CONNECTIONS; do
    echo "  c=$c chartpilot run: chartpilot ${CP_CPU[$c]}, rabbitmq ${CP_RB[$c]}, wrk ${CP_WRK[$c]}, others ${CP_NOISE[$c]} (${CP_TOP[$c]}), machine ${CP_M[$c]}"
    echo "  c=$c bare run:       publisher ${BS_PUB[$c]}, rabbitmq ${BS_RB[$c]}, others ${BS_NOISE[$c]} (${BS_TOP[$c]}), machine ${BS_M[$c]}"
  done
  echo
  echo "targets:"
  for c in $CONNECTIONS; do
    ok=$(awk -v a="${CP_RPS[$c]}" -v b="${BS_RPS[$c]}" 'BEGIN { print (a >= 0.8 * b) ? "PASS" : "MISS" }')
    [ "$ok" = PASS ] || MISSED=1
    echo "  $ok  c=$c chartpilot >= 80% of the bare-publisher rate at ${SIZE} B (${CP_RPS[$c]} vs ${BS_RPS[$c]}; vs ${BE_RPS[$c]:-?} at ${ENV_SIZE} B)"
  done
  if grep -qw 8 <<<"$CONNECTIONS"; then
    ok=$(awk -v p="${CP_P99[8]}" 'BEGIN { print (p < 10) ? "PASS" : "MISS" }')
    [ "$ok" = PASS ] || MISSED=1
    echo "  $ok  c=8 chartpilot p99 < 10 ms (${CP_P99[8]} ms)"
  fi
  ok=$(awk -v k="$RSS_MAX_KIB" -v h="$RSS_HWM_KIB" 'BEGIN { print (k < 80 * 1024 && h < 80 * 1024) ? "PASS" : "MISS" }')
  [ "$ok" = PASS ] || MISSED=1
  echo "  $ok  chartpilot RSS < 80 MiB under load (max $(mib "$RSS_MAX_KIB") MiB, HWM $(mib "$RSS_HWM_KIB") MiB)"
  echo
  echo "every run (the table keeps the least disturbed attempt):"
  sed 's/^/  /' "$DETAILS"
} >"$SUMMARY"
# MISSED was set inside the { } group, which runs in this shell.

mkdir -p bench-results
OUT="bench-results/ingest-$(date +%Y%m%d-%H%M%S).txt"
cp "$SUMMARY" "$OUT"
echo
cat "$SUMMARY"
echo
log "written to $OUT"
if [ "$STRICT" = 1 ] && [ "$MISSED" = 1 ]; then
  log "chartpilot missed a target (BENCH_STRICT=1)"
  exit 2
fi
