#!/bin/bash
# Remove a file this stack installed; optionally run a command when it was there.
set -euo pipefail
STEP="${STEP:-remove-file}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars TARGET_FILE
  [[ -e "${TARGET_FILE}" ]] || return 0
  take_host_lock
  rm -f "${TARGET_FILE}"
  log "removed ${TARGET_FILE}"
  if [[ -n "${ON_CHANGE:-}" ]]; then
    bash -c "${ON_CHANGE}"
  fi
}

main "$@"
