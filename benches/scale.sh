#!/usr/bin/env bash
# The scale bench of issue 17 (outside the default suite): 200 generated
# GitOps repositories in one configuration, upgrade passes by 1, 2 and 4
# worker processes on the three-node RabbitMQ cluster of
# scripts/rabbit-cluster.sh. Prints a table and one JSON line per worker
# count; exits 1 when a pass is missing or a repository lacks its branches.
#
#   sudo bash benches/scale.sh
#
# Knobs: BENCH_REPOS=200 BENCH_WORKERS="1 2 4" BENCH_LANES=16; KEEP_CLUSTER=1
# leaves the cluster running afterwards.
exec bash "$(dirname "${BASH_SOURCE[0]}")/cluster.sh" scale
