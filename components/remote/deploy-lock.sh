#!/bin/bash
# Take this stack's deploy lock (DEPLOY_LOCK) and hold it for as long as the SSH session of the
# `pulumi up` that runs this lives: a second `up` of the stack, from this checkout or another
# one, is refused while it is held (exit 3, with who holds it). A session lost with its network
# lets go once sshd notices (ClientAlive, set up by the host step: within a minute). Also prints
# how the last activation ended when no run has reported it yet, and marks it reported.
set -euo pipefail
STEP="${STEP:-deploy-lock}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/detached.sh
[[ -n "${AI4ARTSED_DETACHED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/detached.sh"

main() {
  require_vars DEPLOY_LOCK HOLDER RUN_DIR DEPLOY_UNIT
  mkdir -p "$(dirname "${DEPLOY_LOCK}")"
  exec 9>>"${DEPLOY_LOCK}"
  if ! flock -n 9; then
    printf '@@ deploy-lock\n'
    cat "${DEPLOY_LOCK}"
    exit 3
  fi
  # Opened anew: the lock stays with descriptor 9.
  printf '%s\n' "holder=${HOLDER}" "since=$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"${DEPLOY_LOCK}"
  local report
  report="$(report_last_run)"
  if [[ -n "${report}" ]]; then
    printf '%s\n' "${report}"
    [[ "${report}" != *$'\nstate=ended'* ]] || add_run_status reported=yes
  fi
  printf '@@ held\n'
  # Holds descriptor 9 until the program's session ends.
  exec cat >/dev/null
}

main "$@"
