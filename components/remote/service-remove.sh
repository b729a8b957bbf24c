#!/bin/bash
# Stop and remove this stack's unit and environment file; leaves every other unit alone.
set -euo pipefail
STEP="${STEP:-service/remove}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars UNIT_NAME ENV_FILE
  take_host_lock
  local unit_file="/etc/systemd/system/${UNIT_NAME}"
  if [[ -e "${unit_file}" ]]; then
    systemctl disable --now "${UNIT_NAME}" >/dev/null 2>&1 || true
    rm -f "${unit_file}"
    systemctl daemon-reload
    log "removed ${UNIT_NAME}"
  fi
  rm -f "${ENV_FILE}"
}

main "$@"
