#!/bin/bash
# Install stdin as a root-owned file with the given mode; optionally run a command when it changed
# (ON_CHANGE), and one on every run (ENSURE: puts right what a hand made stop or disable undid).
set -euo pipefail
STEP="${STEP:-install-file}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars TARGET_FILE FILE_MODE
  mkdir -p "$(dirname "${TARGET_FILE}")"
  take_host_lock
  if install_if_changed "${FILE_MODE}" root:root "${TARGET_FILE}"; then
    log "updated ${TARGET_FILE}"
    if [[ -n "${ON_CHANGE:-}" ]]; then
      bash -c "${ON_CHANGE}"
    fi
  else
    log "${TARGET_FILE} up to date"
  fi
  if [[ -n "${ENSURE:-}" ]]; then
    bash -c "${ENSURE}"
  fi
}

main "$@"
