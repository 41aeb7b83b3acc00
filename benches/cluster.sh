#!/usr/bin/env bash
# The cluster test of issue 17 (outside the default suite): a three-node
# RabbitMQ cluster on loopback (scripts/rabbit-cluster.sh), 2 receivers and
# 3 workers, signed pushes for 20 repositories at BENCH_RATE per second for
# BENCH_SECONDS; node 2 is stopped (stop_app) and started, then node 3 is
# killed (kill -9) and started, while the stream flows. Prints one JSON
# line: answered, handled, missing, duplicates, order violations, and jobs
# handled while a node was down. Exits 1 when a check fails.
#
#   sudo bash benches/cluster.sh [BENCH]
#
# BENCH (default cluster) names the bench target run on the cluster;
# benches/scale.sh runs `scale` through here.
#
# Knobs: BENCH_SECONDS=60 BENCH_RATE=50 BENCH_JOB_MS=20; KEEP_CLUSTER=1
# leaves the cluster running afterwards.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/rabbit-cluster.sh up
if [ "${KEEP_CLUSTER:-0}" != 1 ]; then
  trap 'bash scripts/rabbit-cluster.sh down' EXIT
fi
CLUSTER_URLS=$(bash scripts/rabbit-cluster.sh urls)
export CLUSTER_URLS
cargo bench --bench "${1:-cluster}"
