#!/bin/bash
# Remove a timer this stack installed (the health monitor, the off-host backup): stop and disable it,
# remove its unit files and the files it used; nothing else.
set -euo pipefail
STEP="${STEP:-timer-remove}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars TIMER_UNIT UNIT_FILES FILES
  take_host_lock
  local -a units paths
  read -r -a units <<<"${UNIT_FILES}"
  read -r -a paths <<<"${FILES}"
  systemctl disable --now "${TIMER_UNIT}.timer" >/dev/null 2>&1 || true
  systemctl stop "${TIMER_UNIT}.service" >/dev/null 2>&1 || true
  rm -f "${units[@]}" "${paths[@]}"
  systemctl daemon-reload
  systemctl reset-failed "${TIMER_UNIT}.service" "${TIMER_UNIT}.timer" >/dev/null 2>&1 || true
  log "removed ${TIMER_UNIT}.timer and .service"
}

main "$@"
