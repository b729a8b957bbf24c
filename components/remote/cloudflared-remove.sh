#!/bin/bash
# Stop and remove this stack's cloudflared unit and token file; the package and every other unit stay.
set -euo pipefail
STEP="${STEP:-cloudflared/remove}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars UNIT_NAME UNIT_FILE TOKEN_FILE
  [[ -e "${UNIT_FILE}" || -e "${TOKEN_FILE}" ]] || return 0
  take_host_lock
  if [[ -e "${UNIT_FILE}" ]]; then
    systemctl disable --now --quiet "${UNIT_NAME}" 2>/dev/null || true
    rm -f "${UNIT_FILE}"
    systemctl daemon-reload
    log "removed ${UNIT_NAME}"
  fi
  if [[ -e "${TOKEN_FILE}" ]]; then
    rm -f "${TOKEN_FILE}"
    log "removed ${TOKEN_FILE}"
  fi
}

main "$@"
