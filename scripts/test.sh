#!/usr/bin/env bash
# The whole test suite: start the services the tests need, then run them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-services.sh
cargo test --all-targets --locked "$@"
