#!/usr/bin/env bash
# The whole test suite: start the services the tests need, then run them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-services.sh
# deploy/: chart, alert rules, Terraform pin; renders what tests/deploy.rs loads.
bash scripts/validate-deploy.sh
export CHARTPILOT_REQUIRE_DEPLOY_RENDER=1
# Benches are built by clippy in CI and run by benches/ingest.sh, not here.
cargo test --lib --bins --tests --locked "$@"
