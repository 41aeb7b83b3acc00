#!/usr/bin/env bash
# Pin discovery, two builds side by side in one run: `chartpilot scan DIR
# --offline --format json` over the generated 10,000-pin repository
# (benches/gen_pins.py), the two binaries interleaved run by run so the
# shared machine's noise falls on both alike. Prints the median and spread
# of wall time and the peak RSS of each, and the ratio new/old.
#
#   benches/discovery_ab.sh OLD_BINARY NEW_BINARY      # e.g. a build of the last release
#   RUNS=40 PINS=20000 benches/discovery_ab.sh A B
#
# Needs python3 and Debian's `time` package.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?old binary}
NEW=${2:?new binary}
PINS=${PINS:-10000}
RUNS=${RUNS:-30}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time: apt-get install time" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 benches/gen_pins.py --pins "$PINS" --seed 1 --out "$TMP/pins" >/dev/null
REPO=$TMP/pins/repo
# Away from the checkout: each build reads its own built-in defaults, not
# this tree's config/default.toml (an older build refuses newer keys).
OLD=$(realpath "$OLD"); NEW=$(realpath "$NEW")
cd "$TMP"
for bin in "$OLD" "$NEW"; do # warm the page cache and check both run
    "$bin" scan "$REPO" --offline --format json >"$TMP/out.json" 2>/dev/null
    echo "$bin: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/out.json") pins"
done
: >"$TMP/old.ms"; : >"$TMP/new.ms"; : >"$TMP/old.kib"; : >"$TMP/new.kib"
for _ in $(seq "$RUNS"); do
    for side in old new; do
        bin=$OLD; [ "$side" = new ] && bin=$NEW
        t0=$(date +%s%N)
        /usr/bin/time -f %M -o "$TMP/rss" "$bin" scan "$REPO" --offline --format json >/dev/null 2>&1
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000)) | awk '{print $1/1000}' >>"$TMP/$side.ms"
        cat "$TMP/rss" >>"$TMP/$side.kib"
    done
done
stats() { sort -n "$1" | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "median %.1f min %.1f max %.1f", m, a[1], a[NR]}'; }
peak() { sort -n "$1" | tail -1 | awk '{printf "%.1f MiB", $1/1024}'; }
echo "load $(cut -d' ' -f1-3 /proc/loadavg); $RUNS interleaved runs each, $PINS generated pins"
echo "old: wall ms $(stats "$TMP/old.ms"); peak RSS $(peak "$TMP/old.kib")"
echo "new: wall ms $(stats "$TMP/new.ms"); peak RSS $(peak "$TMP/new.kib")"
python3 - "$TMP/old.ms" "$TMP/new.ms" <<'PY'
import statistics, sys
old = statistics.median(float(x) for x in open(sys.argv[1]))
new = statistics.median(float(x) for x in open(sys.argv[2]))
print(f"new/old median wall time: {new / old:.3f}")
PY
