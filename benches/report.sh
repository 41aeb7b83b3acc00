#!/usr/bin/env bash
# `chartpilot report` on the generated 10,000-pin repository
# (benches/gen_pins.py), side by side with `scan` of the same repository in
# one run, interleaved run by run so the shared machine's noise falls on
# all alike: what the matrix (build and render) costs on top of the scan.
# Offline: the generated charts live nowhere.
#
#   benches/report.sh                      # build --release, then measure
#   CHARTPILOT=target/release/chartpilot RUNS=40 PINS=20000 benches/report.sh
#
# Needs python3 and Debian's `time` package.
set -euo pipefail
cd "$(dirname "$0")/.."
PINS=${PINS:-10000}
RUNS=${RUNS:-20}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time: apt-get install time" >&2; exit 2; }
if [ -z "${CHARTPILOT:-}" ]; then
    cargo build --release
    CHARTPILOT=${CARGO_TARGET_DIR:-target}/release/chartpilot
fi
BIN=$(realpath "$CHARTPILOT")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 benches/gen_pins.py --pins "$PINS" --seed 1 --out "$TMP/pins" >/dev/null
REPO=$TMP/pins/repo
cd "$TMP" # away from the checkout's config/default.toml
commands=(
    "scan|scan $REPO --offline --format json"
    "report-json|report $REPO --offline --format json"
    "report-table|report $REPO --offline --format table"
    "report-html|report $REPO --offline --format html"
)
for c in "${commands[@]}"; do # warm the page cache, check each runs
    name=${c%%|*}; args=${c#*|}
    # shellcheck disable=SC2086
    "$BIN" $args >"$TMP/$name.out" 2>/dev/null
    : >"$TMP/$name.ms"; : >"$TMP/$name.kib"
done
echo "scan: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/scan.out") pins;" \
    "report: $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["summary"]["pins"], "pins,", len(m["rows"]), "rows,", len(m["environments"]), "environments")' "$TMP/report-json.out")"
for _ in $(seq "$RUNS"); do
    for c in "${commands[@]}"; do
        name=${c%%|*}; args=${c#*|}
        t0=$(date +%s%N)
        # shellcheck disable=SC2086
        /usr/bin/time -f %M -o "$TMP/rss" "$BIN" $args >/dev/null 2>&1
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000)) | awk '{print $1/1000}' >>"$TMP/$name.ms"
        cat "$TMP/rss" >>"$TMP/$name.kib"
    done
done
stats() { sort -n "$1" | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "median %.1f min %.1f max %.1f", m, a[1], a[NR]}'; }
peak() { sort -n "$1" | tail -1 | awk '{printf "%.1f MiB", $1/1024}'; }
echo "load $(cut -d' ' -f1-3 /proc/loadavg); $RUNS interleaved runs each, $PINS generated pins"
for c in "${commands[@]}"; do
    name=${c%%|*}
    printf '%-13s wall ms %s; peak RSS %s\n' "$name" "$(stats "$TMP/$name.ms")" "$(peak "$TMP/$name.kib")"
done
