#!/bin/bash
# Benchmark this program against the old deploy script on a local test server; prints one table.
# Run on demand (npm run bench), not part of npm test. Needs root (systemd-nspawn). BENCH_ROUNDS=N
# changes the number of runs (default 3).
set -euo pipefail
STEP="bench"
# shellcheck source=scripts/lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/setup.sh"

run_with_pulumi "the benchmark" bench/bench.ts
