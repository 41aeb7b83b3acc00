#!/usr/bin/env bash
# Pin discovery bench: `chartpilot scan DIR --offline --format json` over a
# generated repository with 10,000 pins (benches/gen_pins.py), and over the
# shared 600-pin fixture (../shared/bench/gen_fixture.py) as a second point.
#
# Checks the pins found against the generators' expected.json, measures wall
# time (hyperfine, else a `date +%s%N` loop) and peak RSS (`/usr/bin/time -v`),
# and prints PASS/FAIL against the targets. Results go to bench-results/.
#
#   benches/discovery.sh                 # build, generate, measure
#   RUNS=30 PINS=20000 benches/discovery.sh
#   CHARTPILOT=/tmp/chartpilot-old benches/discovery.sh   # measure that binary, no build
#
# Needs python3, and Debian's `time` package (`hyperfine` is optional).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

PINS=${PINS:-10000}
SEED=${SEED:-1}
RUNS=${RUNS:-20}          # timed runs per data set
WARMUP=${WARMUP:-3}       # untimed runs first, so the files are in the page cache
RSS_RUNS=${RSS_RUNS:-5}   # runs under /usr/bin/time -v
TARGET_MS=300             # wall time, median of RUNS
TARGET_RSS_MIB=50         # peak RSS, largest of RSS_RUNS
FIXTURE_GEN=$ROOT/../shared/bench/gen_fixture.py
FIXTURE_ENVS=dev,staging,prod

[ -x /usr/bin/time ] || { echo "needs /usr/bin/time: apt-get install time" >&2; exit 2; }

if [ -n "${CHARTPILOT:-}" ]; then
    BIN=$CHARTPILOT # another build, e.g. an older one kept for comparison
else
    echo "== cargo build --release"
    cargo build --release
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/chartpilot
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$ROOT/bench-results/discovery-$STAMP
mkdir -p "$RESULTS"

echo "== generating data"
python3 benches/gen_pins.py --pins "$PINS" --seed "$SEED" --out "$TMP/pins" >"$RESULTS/gen_pins.json"
sets=("pins-$PINS|$TMP/pins/repo|$TMP/pins/expected.json")
if [ -f "$FIXTURE_GEN" ]; then
    python3 "$FIXTURE_GEN" --charts 200 --envs "$FIXTURE_ENVS" --seed 1 --out "$TMP/fx" >"$RESULTS/fixture.json"
    sets+=("fixture-200|$TMP/fx/repo|$TMP/fx/expected.json")
else
    echo "note: $FIXTURE_GEN not found; only the generated repository is measured"
fi

# What else was running: the machine is shared, so every figure carries it.
# top's second sample is the CPU use of the last second (ps shows averages
# over each process's life).
context() {
    echo "-- $1: $(date -u +%FT%TZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
    top -b -n 2 -d 1 -w 120 | awk '/^top -/ {n++} n == 2' | sed -n '7,13p'
}

# the other processes using a CPU, as "name 97%, ..." (from context's top)
busiest() { awk '$9 + 0 >= 20 && $12 != "top" {printf "%s%s %d%%", sep, $12, $9; sep = ", "}' "$1" | head -c 200; }

# median and min of a file of numbers, one per line
stats() { sort -n "$1" | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f %.1f %.1f\n", m, a[1], a[NR]}'; }

summary=()
status=0
{
    echo "chartpilot discovery bench $STAMP"
    if [ -n "${CHARTPILOT:-}" ]; then
        echo "binary $BIN"
    else
        echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' + uncommitted changes')"
    fi
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr)"
    echo "runs: $RUNS timed after $WARMUP warm-up, $RSS_RUNS for RSS"
} | tee "$RESULTS/summary.txt"

for set in "${sets[@]}"; do
    IFS='|' read -r name dir expected <<<"$set"
    out=$RESULTS/$name
    cmd=("$BIN" scan "$dir" --offline --format json)
    echo "== $name: ${cmd[*]}"
    context before >"$out.context.txt"

    # Correctness first: the figures mean nothing if pins are missing.
    "${cmd[@]}" >"$out.scan.json" 2>"$out.stderr.txt"
    if python3 benches/compare_pins.py "$out.scan.json" "$expected" >"$out.check.txt"; then
        check=PASS
    else
        check=FAIL
    fi
    found=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$out.scan.json")
    digest=$(sha256sum "$out.scan.json" | cut -c1-16)
    files=$(find "$dir" -type f -not -path '*/.git/*' | wc -l)
    bytes=$(find "$dir" -type f -not -path '*/.git/*' -printf '%s\n' | awk '{s+=$1} END {print s}')

    # Wall time.
    if command -v hyperfine >/dev/null; then
        hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$out.hyperfine.json" \
            "${cmd[*]}" >"$out.hyperfine.txt" 2>&1
        python3 -c 'import json,sys; [print(t*1000) for t in json.load(open(sys.argv[1]))["results"][0]["times"]]' \
            "$out.hyperfine.json" >"$out.wall_ms.txt"
        timer=hyperfine
    else
        for _ in $(seq "$WARMUP"); do "${cmd[@]}" >/dev/null; done
        : >"$out.wall_ms.txt"
        for _ in $(seq "$RUNS"); do
            t0=$(date +%s%N)
            "${cmd[@]}" >/dev/null
            t1=$(date +%s%N)
            echo "$(((t1 - t0) / 1000))" | awk '{print $1/1000}' >>"$out.wall_ms.txt"
        done
        timer="date loop"
    fi
    read -r wall_med wall_min wall_max < <(stats "$out.wall_ms.txt")

    # Peak RSS.
    : >"$out.rss_kib.txt"
    for _ in $(seq "$RSS_RUNS"); do
        /usr/bin/time -v "${cmd[@]}" 2>&1 >/dev/null |
            awk -F': ' '/Maximum resident set size/ {print $2}' >>"$out.rss_kib.txt"
    done
    read -r rss_med rss_min rss_max < <(stats "$out.rss_kib.txt")
    context after >>"$out.context.txt"

    rss_mib=$(awk -v k="$rss_max" 'BEGIN {printf "%.1f", k/1024}')
    wall_ok=$(awk -v m="$wall_med" -v t="$TARGET_MS" 'BEGIN {print (m < t) ? "PASS" : "FAIL"}')
    rss_ok=$(awk -v k="$rss_max" -v t="$TARGET_RSS_MIB" 'BEGIN {print (k < t * 1024) ? "PASS" : "FAIL"}')
    for verdict in "$check" "$wall_ok" "$rss_ok"; do [ "$verdict" = PASS ] || status=1; done
    {
        echo
        echo "[$name] $files files, $((bytes / 1024)) KiB; output sha256 $digest"
        echo "  pins     $check  found $found; $(head -1 "$out.check.txt" | sed 's/^pins: found [0-9]* //')"
        sed -n '2,$p' "$out.check.txt" | sed 's/^/           /'
        echo "  wall     $wall_ok  median $wall_med ms, min $wall_min ms, max $wall_max ms ($RUNS runs, $timer; target < $TARGET_MS ms)"
        echo "  peak RSS $rss_ok  max $rss_mib MiB (median $((${rss_med%.*} / 1024)) MiB over $RSS_RUNS runs; target < $TARGET_RSS_MIB MiB)"
        echo "  machine  $(sed -n 's/^-- before: [^;]*; //p' "$out.context.txt") before, $(sed -n 's/^-- after: [^;]*; //p' "$out.context.txt") after; busiest: $(busiest "$out.context.txt")"
    } | tee -a "$RESULTS/summary.txt"
done

echo
echo "results: ${RESULTS#"$ROOT"/}/"
exit "$status"
