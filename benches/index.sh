#!/usr/bin/env bash
# Index parsing bench: generates a 13 MB index once, then measures
# chartpilot's parse_index on it and the corpus indexes (release build).
#   bash benches/index.sh [FILE...]
set -euo pipefail
cd "$(dirname "$0")/.."
gen=target/index-bench/generated.index.yaml
if [ ! -f "$gen" ]; then
  python3 benches/gen_index.py --mb 13 --out "$gen"
fi
cargo bench --bench index_parse -- "$@"
