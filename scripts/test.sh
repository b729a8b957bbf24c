#!/bin/bash
# Run the test suites (unit | host | e2e | all), installing first what they need.
set -euo pipefail
STEP="tests"
# shellcheck source=scripts/lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"

run_node_tests() {
  local concurrency="$1"
  shift
  (cd "${SETUP_ROOT}" && node --import tsx --test --test-concurrency="${concurrency}" "$@")
}

# The type check lives here: pulumi runs the program transpile-only (tsconfig.json, "ts-node").
run_unit() {
  log "type check (tsc --noEmit)"
  (cd "${SETUP_ROOT}" && node_modules/.bin/tsc --noEmit -p .)
  run_node_tests 1 test/unit/*.test.ts
}

run_host() {
  require_root "the host tests"
  run_node_tests 1 --test-timeout=1800000 test/host/*.test.ts
}

run_e2e() {
  require_root "the end-to-end tests"
  pulumi_on_path
  ensure_browser
  ensure_state_store
  run_node_tests 1 --test-timeout=3600000 test/e2e/*.test.ts
}

# Each file boots its own servers (named with a prefix of its own, test/unit/suite.test.ts) and
# keeps its own Pulumi state, and most of a file's time is spent waiting on its servers (windows,
# drains, network cuts), so SERVER_TEST_FILES_AT_ONCE files run at a time; node starts the next,
# in the order of their paths, as one ends. One at a time took 77 minutes in CI.
readonly SERVER_TEST_FILES_AT_ONCE=3
run_host_and_e2e() {
  require_root "the host and end-to-end tests"
  pulumi_on_path
  ensure_browser
  ensure_state_store
  run_node_tests "${SERVER_TEST_FILES_AT_ONCE}" --test-timeout=3600000 test/e2e/*.test.ts test/host/*.test.ts
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
      run_host_and_e2e
      ;;
    *)
      err "usage: $0 unit|host|e2e|all"
      exit 2
      ;;
  esac
}

main "$@"
