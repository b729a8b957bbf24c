#!/bin/bash
# Stop and remove this stack's unit and environment file (or an extra service's, with its link
# directory, EXTRA_DIRS: one path); leaves every other unit alone.
set -euo pipefail
STEP="${STEP:-service/remove}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# remove_extras: blue-green's units (stopped first) and files, when this stack has them.
remove_extras() {
  local unit file
  [[ -n "${EXTRA_UNITS:-}${EXTRA_FILES:-}" ]] || return 0
  for unit in ${EXTRA_UNITS:-}; do
    systemctl disable --quiet --now "${unit}" >/dev/null 2>&1 || systemctl stop "${unit}" >/dev/null 2>&1 || true
  done
  for file in ${EXTRA_FILES:-}; do
    rm -f "${file}"
  done
  systemctl daemon-reload
  log "removed ${EXTRA_UNITS:-} and their files"
}

main() {
  require_vars UNIT_NAME UNIT_FILE ENV_FILE
  take_host_lock
  if [[ -e "${UNIT_FILE}" ]]; then
    systemctl disable --now "${UNIT_NAME}" >/dev/null 2>&1 || true
    rm -f "${UNIT_FILE}"
    systemctl daemon-reload
    log "removed ${UNIT_NAME}"
  fi
  # With the last good copies a failed deploy may have left (install-file.sh KEEP_LAST_GOOD).
  rm -f "${ENV_FILE}" "${ENV_FILE}.last-good" "${UNIT_FILE}.last-good"
  [[ -z "${EXTRA_DIRS:-}" ]] || rm -rf "${EXTRA_DIRS:?}"
  remove_extras
}

main "$@"
