#!/bin/bash
# Run the test suites (unit | host | e2e | all), installing first what they need.
set -euo pipefail
STEP="tests"
# shellcheck source=scripts/lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"

run_node_tests() {
  (cd "${SETUP_ROOT}" && node --import tsx --test --test-concurrency=1 "$@")
}

# The type check lives here: pulumi runs the program transpile-only (tsconfig.json, "ts-node").
run_unit() {
  log "type check (tsc --noEmit)"
  (cd "${SETUP_ROOT}" && node_modules/.bin/tsc --noEmit -p .)
  run_node_tests test/unit/*.test.ts
}

run_host() {
  require_root "the host tests"
  run_node_tests --test-timeout=1800000 test/host/*.test.ts
}

run_e2e() {
  require_root "the end-to-end tests"
  pulumi_on_path
  run_node_tests --test-timeout=3600000 test/e2e/*.test.ts
}

main() {
  local suite="${1:-all}"
  ensure_system_packages
  ensure_node_modules
  case "${suite}" in
    unit) run_unit ;;
    host) run_host ;;
    e2e) run_e2e ;;
    all)
      run_unit
      run_host
      run_e2e
      ;;
    *)
      err "usage: $0 unit|host|e2e|all"
      exit 2
      ;;
  esac
}

main "$@"
