#!/bin/bash
# Run the test suites (unit | host | e2e | all), installing first what they need.
set -euo pipefail
STEP="tests"
# shellcheck source=scripts/lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"

# The host and end-to-end test files, longest first: `all` runs them two at a time, and a long
# file started last would leave the other slot idle at the end.
readonly SERVER_TEST_FILES=(
  test/host/bluegreen.test.ts test/host/deploy.test.ts test/host/serverSide.test.ts
  test/e2e/drift.test.ts test/host/operations.test.ts test/host/services.test.ts
  test/host/offsite.test.ts test/e2e/engine.test.ts test/e2e/disaster.test.ts
  test/e2e/stayup.test.ts test/e2e/hostkey.test.ts test/e2e/main-job.test.ts
  test/e2e/compat.test.ts test/host/cloudflared.test.ts
)

# server_test_files DIR: the listed files under DIR, in the list's order.
server_test_files() {
  local file
  for file in "${SERVER_TEST_FILES[@]}"; do
    [[ "${file}" != "$1"/* ]] || printf '%s\n' "${file}"
  done
}

run_node_tests() {
  local concurrency="$1"
  shift
  (cd "${SETUP_ROOT}" && node --import tsx --test --test-concurrency="${concurrency}" "$@")
}

# Every server test file is in the list: one left out would never run.
check_file_list() {
  local listed file
  listed=" ${SERVER_TEST_FILES[*]} "
  for file in "${SETUP_ROOT}"/test/host/*.test.ts "${SETUP_ROOT}"/test/e2e/*.test.ts; do
    file="${file#"${SETUP_ROOT}/"}"
    if [[ "${listed}" != *" ${file} "* ]]; then
      err "${file} is missing from SERVER_TEST_FILES in scripts/test.sh; add it there"
      exit 2
    fi
  done
}

# The type check lives here: pulumi runs the program transpile-only (tsconfig.json, "ts-node").
run_unit() {
  log "type check (tsc --noEmit)"
  (cd "${SETUP_ROOT}" && node_modules/.bin/tsc --noEmit -p .)
  run_node_tests 1 test/unit/*.test.ts
}

run_host() {
  require_root "the host tests"
  local files
  mapfile -t files < <(server_test_files test/host)
  run_node_tests 1 --test-timeout=1800000 "${files[@]}"
}

run_e2e() {
  require_root "the end-to-end tests"
  pulumi_on_path
  local files
  mapfile -t files < <(server_test_files test/e2e)
  run_node_tests 1 --test-timeout=3600000 "${files[@]}"
}

# Each file boots its own servers and keeps its own Pulumi state, and most of a file's time is
# spent waiting on its servers, so two files at a time halve the wall time of the suite.
run_host_and_e2e() {
  require_root "the host and end-to-end tests"
  pulumi_on_path
  run_node_tests 2 --test-timeout=3600000 "${SERVER_TEST_FILES[@]}"
}

main() {
  local suite="${1:-all}"
  ensure_system_packages
  ensure_node_modules
  check_file_list
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
