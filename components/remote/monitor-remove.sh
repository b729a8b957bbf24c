#!/bin/bash
# Remove this stack's health monitor: its timer, service, probe script, webhook file and state; nothing else.
set -euo pipefail
STEP="${STEP:-monitor/remove}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars MONITOR_UNIT PROBE_FILE WEBHOOK_FILE STATE_FILE SERVICE_FILE TIMER_FILE
  take_host_lock
  if [[ -e "${TIMER_FILE}" || -e "${SERVICE_FILE}" ]]; then
    systemctl disable --now "${MONITOR_UNIT}.timer" >/dev/null 2>&1 || true
    systemctl stop "${MONITOR_UNIT}.service" >/dev/null 2>&1 || true
    rm -f "${TIMER_FILE}" "${SERVICE_FILE}"
    systemctl daemon-reload
    systemctl reset-failed "${MONITOR_UNIT}.service" "${MONITOR_UNIT}.timer" >/dev/null 2>&1 || true
    log "removed ${MONITOR_UNIT}.timer and .service"
  fi
  rm -f "${PROBE_FILE}" "${WEBHOOK_FILE}" "${STATE_FILE}" "${RESTARTS_FILE:-}"
}

main "$@"
