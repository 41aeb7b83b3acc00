#!/usr/bin/env bash
# Version lookup bench: `chartpilot scan DIR --format json` (no --offline)
# over the shared generated fixture (../shared/bench/gen_fixture.py), its
# Helm repositories served on 127.0.0.1 by `python3 -m http.server`, as the
# fixture's README prescribes.
#
# For 20 and 200 charts: checks every pin's latest/update against the
# fixture's expected.json (benches/compare_pins.py), then measures wall time
# (hyperfine, else a `date +%s%N` loop) and peak RSS (`/usr/bin/time -v`),
# and prints PASS/FAIL against the targets for 200 charts.
#
#   benches/lookup.sh                       # build, generate, measure
#   RUNS=50 benches/lookup.sh
#   CHARTPILOT=/tmp/chartpilot-old benches/lookup.sh   # that binary, no build
#
# Needs python3 and Debian's `time` package (`hyperfine` is optional).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=${RUNS:-20}          # timed runs per fixture
WARMUP=${WARMUP:-3}       # untimed runs first (page cache, server warm)
RSS_RUNS=${RSS_RUNS:-5}   # runs under /usr/bin/time -v
PORT=${PORT:-18879}       # the fixture writes this port into its pins
TARGET_MS=200             # wall time for 200 charts, median of RUNS
TARGET_RSS_MIB=40         # peak RSS for 200 charts, largest of RSS_RUNS
FIXTURE_GEN=$ROOT/../shared/bench/gen_fixture.py

[ -x /usr/bin/time ] || { echo "needs /usr/bin/time: apt-get install time" >&2; exit 2; }
[ -f "$FIXTURE_GEN" ] || { echo "needs $FIXTURE_GEN" >&2; exit 2; }

if [ -n "${CHARTPILOT:-}" ]; then
    BIN=$CHARTPILOT
else
    echo "== cargo build --release"
    cargo build --release
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/chartpilot
fi

TMP=$(mktemp -d)
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$ROOT/bench-results/lookup-$STAMP
mkdir -p "$RESULTS"
status=0

for charts in 20 200; do
    fx=$TMP/fx-$charts
    python3 "$FIXTURE_GEN" --charts "$charts" --envs dev,staging,prod --seed 1 \
        --port "$PORT" --out "$fx" >"$RESULTS/fixture-$charts.json"
    [ -n "$SERVER" ] && { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }
    (cd "$fx/helm" && exec python3 -m http.server "$PORT" --bind 127.0.0.1) \
        >"$RESULTS/http-$charts.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 50); do
        curl -sf -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null && break
        sleep 0.1
    done
    index_bytes=$(find "$fx/helm" -name index.yaml -printf '%s\n' | awk '{s+=$1} END {print s}')
    echo "== $charts charts: $(python3 -c "import json;d=json.load(open('$RESULTS/fixture-$charts.json'));print(d.get('pins', '?'), 'pins,', d.get('chart_repos', '?'), 'repositories,', $index_bytes, 'bytes of index.yaml')")"

    cmd=("$BIN" scan "$fx/repo" --format json)
    "${cmd[@]}" >"$RESULTS/scan-$charts.json" 2>"$RESULTS/scan-$charts.err"
    echo "-- agreement with expected.json"
    if ! python3 benches/compare_pins.py "$RESULTS/scan-$charts.json" "$fx/expected.json" | tee "$RESULTS/compare-$charts.txt"; then
        status=1
    fi
    behind=$(python3 -c "import json;print(sum(p['update'] is not None for p in json.load(open('$RESULTS/scan-$charts.json'))))")
    echo "pins behind: $behind"

    echo "-- wall time ($RUNS runs)"
    if command -v hyperfine >/dev/null; then
        hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$RESULTS/time-$charts.json" \
            "${cmd[*]}" >"$RESULTS/hyperfine-$charts.txt"
        median_ms=$(python3 -c "import json;r=json.load(open('$RESULTS/time-$charts.json'))['results'][0];print(round(r['median']*1000,1))")
        mean_ms=$(python3 -c "import json;r=json.load(open('$RESULTS/time-$charts.json'))['results'][0];print(round(r['mean']*1000,1), '±', round(r['stddev']*1000,1))")
        echo "median ${median_ms} ms (mean ${mean_ms} ms)"
    else
        for _ in $(seq "$WARMUP"); do "${cmd[@]}" >/dev/null; done
        for _ in $(seq "$RUNS"); do
            s=$(date +%s%N); "${cmd[@]}" >/dev/null; e=$(date +%s%N)
            echo $(((e - s) / 1000))
        done | sort -n >"$RESULTS/times-$charts.txt"
        median_ms=$(awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}' "$RESULTS/times-$charts.txt")
        echo "median ${median_ms} ms"
    fi

    echo "-- peak RSS ($RSS_RUNS runs)"
    peak_kib=0
    for _ in $(seq "$RSS_RUNS"); do
        /usr/bin/time -v "${cmd[@]}" >/dev/null 2>"$RESULTS/rss.txt"
        kib=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$RESULTS/rss.txt")
        [ "$kib" -gt "$peak_kib" ] && peak_kib=$kib
    done
    peak_mib=$(awk -v k="$peak_kib" 'BEGIN {printf "%.1f", k/1024}')
    echo "peak RSS ${peak_mib} MiB"

    if [ "$charts" = 200 ]; then
        verdict() { awk -v v="$1" -v t="$2" 'BEGIN {print (v < t) ? "PASS" : "FAIL"}'; }
        t=$(verdict "$median_ms" "$TARGET_MS"); m=$(verdict "$peak_mib" "$TARGET_RSS_MIB")
        echo "target wall < ${TARGET_MS} ms: $t; target RSS < ${TARGET_RSS_MIB} MiB: $m"
        [ "$t" = PASS ] && [ "$m" = PASS ] || status=1
    fi
done
echo "results in $RESULTS"
exit $status
