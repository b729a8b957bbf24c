#!/bin/bash
# Remove the host's monitoring (host.monitoring off, or the owner stack destroyed): stop and
# disable the units, remove this program's files and drop-ins. Debian's packages and the
# collected history (/var/lib/prometheus) stay; `apt-get purge` takes them by hand.
set -euo pipefail
STEP="${STEP:-monitoring-remove}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars MONITORING_UNITS MONITORING_FILES MONITORING_DIRS
  take_host_lock
  local -a units files dirs
  read -r -a units <<<"${MONITORING_UNITS}"
  read -r -a files <<<"${MONITORING_FILES}"
  read -r -a dirs <<<"${MONITORING_DIRS}"
  systemctl disable --now --quiet "${units[@]/%/.service}" 2>/dev/null || true
  rm -f "${files[@]}"
  rmdir "${dirs[@]}" 2>/dev/null || true
  systemctl daemon-reload
  log "stopped ${units[*]} and removed their files; the packages and /var/lib/prometheus stay"
}

main "$@"
