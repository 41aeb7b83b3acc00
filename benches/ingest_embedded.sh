#!/usr/bin/env bash
# Benchmark: signed GitHub `push` ingest on the embedded queue (one process,
# `serve --role all`, jobs durable in redb before the 202), two builds side
# by side in one run: a baseline revision and the working tree. The runs
# alternate (baseline, new, baseline, new, ...) so both see the same
# machine. See benches/README.md, "ingest_embedded.sh".
#
#   bash benches/ingest_embedded.sh
#
# Knobs (environment):
#   BENCH_BASELINE_REV=afe71ce^   the revision to compare against (before group commit)
#   BENCH_SECONDS=10              measured seconds per run
#   BENCH_WARMUP=2                unmeasured warm-up seconds per run
#   BENCH_CONNECTIONS="8 64"
#   BENCH_ROUNDS=3                alternations per connection count (median kept)
#   BENCH_WRK_THREADS=2
#   BENCH_PAYLOAD=../shared/corpus/github/captured/push.gitops-repo.argo-cd-testdata.json
#   BENCH_FLUSH_DELAY_US="0"      microseconds added to every fsync/fdatasync of the
#                                 service (benches/slow_flush.c, LD_PRELOAD), one table
#                                 per value: "0 1000" also runs both builds on a disk
#                                 that flushes like a cloud disk (~1 ms)
#
# Each run also counts the service's flushes (fsync + fdatasync) and reports
# them per webhook answered 202.
#
# Fails loudly on any non-202 answer or socket error, when the service
# counts fewer published jobs than the 202s wrk received, and when it
# answered any request as a delivery seen before (builds that count them).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BASELINE_REV=${BENCH_BASELINE_REV:-afe71ce^}
RUN_SECONDS=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-"8 64"}
ROUNDS=${BENCH_ROUNDS:-3}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
PAYLOAD=${BENCH_PAYLOAD:-../shared/corpus/github/captured/push.gitops-repo.argo-cd-testdata.json}
FLUSH_DELAYS=${BENCH_FLUSH_DELAY_US:-0}

log() { printf '[ingest-embedded] %s\n' "$*" >&2; }
die() { printf '[ingest-embedded] FAIL: %s\n' "$*" >&2; exit 1; }

[ -f "$PAYLOAD" ] || die "payload $PAYLOAD not found"
if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk from Debian"
  [ "$(id -u)" -eq 0 ] || die "wrk is missing and installing it needs root (apt-get install wrk)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
command -v openssl >/dev/null 2>&1 || die "openssl is needed to sign the payload"

WORK=$(mktemp -d /tmp/chartpilot-ingest-embedded.XXXXXX)
CP_PID=""
cleanup() {
  local rc=$?
  if [ -n "$CP_PID" ] && kill -0 "$CP_PID" 2>/dev/null; then
    kill -TERM "$CP_PID" 2>/dev/null || true
    wait "$CP_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- builds ------------------------------------------------------------------
BASE_SHA=$(git rev-parse --verify --short "$BASELINE_REV^{commit}") || die "BENCH_BASELINE_REV=$BASELINE_REV is not a commit"
mkdir -p "$WORK/baseline-src"
git archive --format=tar "$BASE_SHA" | tar -x -C "$WORK/baseline-src"
log "building baseline $BASE_SHA (target/bench-rev)"
(cd "$WORK/baseline-src" && CARGO_TARGET_DIR="$ROOT/target/bench-rev" cargo build --release --quiet --bin chartpilot) \
  || die "baseline build failed"
cp "$ROOT/target/bench-rev/release/chartpilot" "$WORK/chartpilot-baseline"
NEW_DESC="working tree at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' + uncommitted changes')"
log "building $NEW_DESC (target/release)"
cargo build --release --quiet --bin chartpilot || die "build failed"
cp "$ROOT/target/release/chartpilot" "$WORK/chartpilot-new"

# --- the flush shim: counts flushes, and slows them when asked -----------------
SHIM=""
if command -v cc >/dev/null 2>&1; then
  cc -O2 -shared -fPIC -o "$WORK/slow_flush.so" benches/slow_flush.c -ldl || die "benches/slow_flush.c did not build"
  SHIM="$WORK/slow_flush.so"
else
  for d in $FLUSH_DELAYS; do [ "$d" = 0 ] || die "BENCH_FLUSH_DELAY_US=$d needs a C compiler (cc) for benches/slow_flush.c"; done
  log "no cc: flushes are not counted"
fi

# --- signed request ------------------------------------------------------------
cp "$PAYLOAD" "$WORK/body.json"
SECRET=$(openssl rand -hex 32)
SIG="sha256=$(openssl dgst -sha256 -hmac "$SECRET" -hex <"$WORK/body.json" | awk '{print $NF}')"
cat >"$WORK/push.lua" <<'LUA'
-- Every request is a new delivery: the queue's idempotency check would
-- answer a delivery id seen before 202 without writing anything, which is
-- not the path this bench measures. So the id is built per request from a
-- counter (a prepared pool of ids would repeat within a second).
local threads = {}
function setup(thread) thread:set("tid", #threads + 1); table.insert(threads, thread) end
function init(args)
  local f = assert(io.open(args[1], "rb")); body = f:read("*a"); f:close()
  headers = { ["Content-Type"] = "application/json", ["X-GitHub-Event"] = "push",
              ["X-Hub-Signature-256"] = args[2] }
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
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d sock_err=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
LUA
kv() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k {print $2}'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start BUILD DELAY_US: a fresh service on a fresh queue directory.
start() {
  local build=$1 delay=$2
  PORT=$(free_port)
  rm -rf "$WORK/run"; mkdir -p "$WORK/run"
  (
    for v in $(compgen -e | grep '^CHARTPILOT__' || true); do unset "$v"; done
    cd "$WORK/run"
    export CHARTPILOT__QUEUE__PATH="$WORK/run/queue" \
      CHARTPILOT__SERVER__LISTEN="127.0.0.1:$PORT" \
      CHARTPILOT__GITHUB__WEBHOOK_SECRET="$SECRET" \
      CHARTPILOT__LOG__LEVEL=error
    if [ -n "$SHIM" ]; then
      export LD_PRELOAD="$SHIM" FLUSH_DELAY_US="$delay" FLUSH_COUNT_FILE="$WORK/run/flushes"
    fi
    exec "$WORK/chartpilot-$build" serve --role all
  ) >"$WORK/run.log" 2>&1 &
  CP_PID=$!
  for _ in $(seq 1 300); do
    kill -0 "$CP_PID" 2>/dev/null || { tail -20 "$WORK/run.log" >&2; die "$build exited during start-up"; }
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ] && return 0
    sleep 0.1
  done
  die "$build not ready after 30 s"
}
stop() { kill -TERM "$CP_PID" 2>/dev/null || true; wait "$CP_PID" 2>/dev/null || true; CP_PID=""; }
# counter NAME: the service's chartpilot_jobs_NAME_total, summed over kinds
# (0 when the build does not have it).
counter() {
  curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="^chartpilot_jobs_$1_total" '$0 ~ m { s += $NF } END { printf "%d", s }'
}
published() { counter published; }

# run BUILD C ROUND DELAY_US: prints "rps p50_ms p99_ms flushes_per_job"
run() {
  local build=$1 c=$2 round=$3 delay=$4 out line reqs before after flushes warm
  start "$build" "$delay"
  warm=$(wrk -t"$WRK_THREADS" -c"$c" -d"${WARMUP}s" --timeout 10s -s "$WORK/push.lua" \
    "http://127.0.0.1:$PORT/webhooks/github" -- "$WORK/body.json" "$SIG" "warm-$build-$c-$round" | grep '^RESULT ') \
    || die "no RESULT from the warm-up's wrk"
  before=$(published)
  out=$(wrk -t"$WRK_THREADS" -c"$c" -d"${RUN_SECONDS}s" --timeout 10s --latency -s "$WORK/push.lua" \
    "http://127.0.0.1:$PORT/webhooks/github" -- "$WORK/body.json" "$SIG" "run-$build-$c-$round")
  after=$(published)
  line=$(grep '^RESULT ' <<<"$out") || die "no RESULT from wrk: $out"
  [ "$(kv non2xx "$line")" = 0 ] && [ "$(kv sock_err "$line")" = 0 ] || die "$build c=$c: errors: $line"
  reqs=$(kv requests "$line")
  [ $((after - before)) -ge "$reqs" ] || die "$build c=$c: $reqs answers but only $((after - before)) jobs published"
  [ "$(counter duplicate)" = 0 ] || die "$build c=$c: $(counter duplicate) requests were answered as duplicates: the bench must send new deliveries"
  kill -0 "$CP_PID" 2>/dev/null || die "$build died under load"
  stop
  # Flushes over the process's life (start-up, warm-up, run, shutdown) per
  # webhook it answered 202: "-" when not counted.
  flushes=$(awk -F= '$1 == "flushes" { s += $2 } END { if (NR) printf "%d", s }' "$WORK/run/flushes" 2>/dev/null || true)
  awk -v r="$reqs" -v d="$(kv duration_us "$line")" -v p50="$(kv p50_us "$line")" -v p99="$(kv p99_us "$line")" \
    -v f="$flushes" -v all="$((reqs + $(kv requests "$warm")))" \
    'BEGIN { printf "%.0f %.2f %.2f %s\n", r / (d / 1e6), p50 / 1000, p99 / 1000, (f == "" || all == 0) ? "-" : sprintf("%.3f", f / all) }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

log "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); payload $(wc -c <"$WORK/body.json") B; ${RUN_SECONDS}s runs, $ROUNDS rounds"
printf '| added flush latency | connections | build | req/s (median) | p50 ms | p99 ms | flushes per 202 | runs (req/s) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n' >"$WORK/table"
for delay in $FLUSH_DELAYS; do
  for c in $CONNECTIONS; do
    : >"$WORK/baseline.$c"; : >"$WORK/new.$c"
    for round in $(seq 1 "$ROUNDS"); do
      for build in baseline new; do
        r=$(run "$build" "$c" "$round" "$delay")
        log "flush +${delay} us c=$c round $round $build: $r (req/s p50 p99 flushes/202)"
        echo "$r" >>"$WORK/$build.$c"
      done
    done
    for build in baseline new; do
      rps=$(cut -d' ' -f1 "$WORK/$build.$c" | median)
      p50=$(cut -d' ' -f2 "$WORK/$build.$c" | median)
      p99=$(cut -d' ' -f3 "$WORK/$build.$c" | median)
      fpj=$(cut -d' ' -f4 "$WORK/$build.$c" | median)
      all=$(cut -d' ' -f1 "$WORK/$build.$c" | paste -sd, -)
      label=$([ "$build" = baseline ] && echo "$BASE_SHA" || echo "new")
      printf '| +%s µs | %s | %s | %s | %s | %s | %s | %s |\n' "$delay" "$c" "$label" "$rps" "$p50" "$p99" "$fpj" "$all" >>"$WORK/table"
    done
  done
done
echo
echo "baseline: $BASE_SHA; new: $NEW_DESC"
cat "$WORK/table"
