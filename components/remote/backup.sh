#!/bin/bash
# Snapshot shared settings, keys, the environment file and the unit before a switch; keep the last N.
set -euo pipefail
STEP="${STEP:-backup}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars INSTALL_DIR LABEL KEEP_BACKUPS ENV_FILE UNIT_FILE
  local dir="${INSTALL_DIR}/backups"
  # Exports are pupils' data in GBs: kept in place, never copied into every backup.
  local -a sources=("${INSTALL_DIR}/shared" "${ENV_FILE}" "${UNIT_FILE}")
  local -a present=()
  local source
  for source in "${sources[@]}"; do
    [[ -e "${source}" ]] && present+=("${source}")
  done
  ((${#present[@]} > 0)) || {
    log "nothing to back up yet"
    return 0
  }
  take_host_lock
  local tmp
  tmp="$(mktemp "${dir}/.backup.XXXXXX")"
  tar --create --gzip --file "${tmp}" --absolute-names --exclude "${INSTALL_DIR}/shared/exports" \
    --sort=name "${present[@]}"
  # Names start with a UTC timestamp, so name order is age order.
  local -a backups=("${dir}"/*.tar.gz)
  [[ -e "${backups[0]}" ]] || backups=()
  local newest=""
  ((${#backups[@]} > 0)) && newest="${backups[-1]}"
  if [[ -n "${newest}" ]] && cmp -s <(tar -xOzf "${newest}" 2>/dev/null | sha256sum) <(tar -xOzf "${tmp}" | sha256sum); then
    rm -f "${tmp}"
    log "unchanged since ${newest}"
    return 0
  fi
  local name
  name="${dir}/$(date -u +%Y%m%dT%H%M%SZ)-${LABEL}.tar.gz"
  chmod 600 "${tmp}"
  mv "${tmp}" "${name}"
  log "backed up to ${name}"
  backups=("${dir}"/*.tar.gz)
  local excess=$((${#backups[@]} - KEEP_BACKUPS))
  if ((excess > 0)); then
    rm -f "${backups[@]:0:excess}"
  fi
}

main "$@"
