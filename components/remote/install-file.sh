#!/bin/bash
# Install stdin as a root-owned file with the given mode; optionally run a command when it changed
# (ON_CHANGE), and one on every run (ENSURE: puts right what a hand made stop or disable undid).
# With KEEP_LAST_GOOD=1 (the service's settings: its EnvironmentFile and unit) the file it replaces
# is kept as <file>.last-good until the activation keeps the new one or puts that one back.
set -euo pipefail
STEP="${STEP:-install-file}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars TARGET_FILE FILE_MODE
  mkdir -p "$(dirname "${TARGET_FILE}")"
  take_host_lock
  local candidate="${TARGET_FILE}.replaced"
  rm -f "${candidate}"
  [[ "${KEEP_LAST_GOOD:-}" != 1 || ! -f "${TARGET_FILE}" ]] || cp -p "${TARGET_FILE}" "${candidate}"
  if install_if_changed "${FILE_MODE}" root:root "${TARGET_FILE}"; then
    log "updated ${TARGET_FILE}"
    # Only the first replacement since the last good activation: that one served.
    if [[ -f "${candidate}" && ! -f "${TARGET_FILE}.last-good" ]]; then
      mv -f "${candidate}" "${TARGET_FILE}.last-good"
      log "kept the replaced ${TARGET_FILE} as ${TARGET_FILE}.last-good until the new release is healthy"
    fi
    if [[ -n "${ON_CHANGE:-}" ]]; then
      bash -c "${ON_CHANGE}"
    fi
  else
    log "${TARGET_FILE} up to date"
  fi
  rm -f "${candidate}"
  if [[ -n "${ENSURE:-}" ]]; then
    bash -c "${ENSURE}"
  fi
}

main "$@"
