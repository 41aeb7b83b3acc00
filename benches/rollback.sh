#!/usr/bin/env bash
# Rollback bench: an Alertmanager webhook POSTed to chartpilot until the
# revert PR is opened on the fake GitHub, RUNS times (30), and the GitHub
# API calls each rollback makes (release build).
#   bash benches/rollback.sh
#   RUNS=100 bash benches/rollback.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench rollback
