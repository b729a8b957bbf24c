#!/bin/bash
# List the pre-deploy backups, or restore one (shared settings and keys, EnvironmentFile) and restart the service.
set -euo pipefail
STEP="${STEP:-backup/restore}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/health.sh
[[ -n "${AI4ARTSED_HEALTH_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/health.sh"

list_backups() {
  local archive
  for archive in "${INSTALL_DIR}/backups"/*.tar.gz; do
    [[ -f "${archive}" ]] || continue
    printf '%s\t%s\t%s files\n' "$(basename "${archive}")" "$(du -h "${archive}" | cut -f1)" \
      "$(tar -tPzf "${archive}" | grep -vc '/$')"
  done | sort -r
}

# find_backup NAME: the archive's path; `latest` is the newest pre-deploy backup (not a pre-restore one).
find_backup() {
  local name="$1"
  if [[ "${name}" == latest ]]; then
    name="$(list_backups | cut -f1 | grep -v -- '-pre-restore\.tar\.gz$' | head -n 1)"
    [[ -n "${name}" ]] || die "no backups in ${INSTALL_DIR}/backups yet; they are taken before each deploy's switch"
  fi
  [[ "${name}" =~ ^[A-Za-z0-9._-]+$ && -f "${INSTALL_DIR}/backups/${name}" ]] \
    || die "no backup '${name}' in ${INSTALL_DIR}/backups; 'list' shows the names"
  printf '%s\n' "${INSTALL_DIR}/backups/${name}"
}

# snapshot_now: what is there now, as a backup of its own, so a restore can be undone.
snapshot_now() {
  local -a present=()
  local source
  for source in "${INSTALL_DIR}/shared" "${ENV_FILE}"; do
    [[ -e "${source}" ]] && present+=("${source}")
  done
  ((${#present[@]} > 0)) || return 0
  local name
  name="${INSTALL_DIR}/backups/$(date -u +%Y%m%dT%H%M%SZ)-pre-restore.tar.gz"
  tar --create --gzip --file "${name}.tmp" --absolute-names --exclude "${INSTALL_DIR}/shared/exports" --sort=name "${present[@]}"
  chmod 600 "${name}.tmp"
  mv "${name}.tmp" "${name}"
  log "saved the current state as $(basename "${name}")"
}

restore() {
  local archive
  archive="$(find_backup "${BACKUP:-latest}")"
  take_host_lock
  snapshot_now
  # Only what the backup holds below shared/ and the EnvironmentFile; never the unit (Pulumi's) or anything else.
  local -a members=()
  local member
  while IFS= read -r member; do
    [[ "${member}" == */ || "${member}" == */../* ]] && continue
    [[ "${member}" == "${INSTALL_DIR}/shared/"* || "${member}" == "${ENV_FILE}" ]] && members+=("${member}")
  done < <(tar -tPzf "${archive}")
  ((${#members[@]} > 0)) || die "$(basename "${archive}") holds no shared settings and no EnvironmentFile"
  tar -xzf "${archive}" --absolute-names --no-recursion --same-owner --same-permissions "${members[@]}"
  log "restored ${#members[@]} files from $(basename "${archive}")"
  systemctl restart "${UNIT_NAME}"
  wait_healthy "${HEALTH_TIMEOUT_SECONDS:-60}" "${HEALTH_URL}" || die "restored $(basename "${archive}"), but ${UNIT_NAME} is not healthy at ${HEALTH_URL}; check 'journalctl -u ${UNIT_NAME}'. The state before the restore is in the newest -pre-restore backup."
  log "${UNIT_NAME} is healthy (${HEALTH_URL})"
}

main() {
  require_vars ACTION INSTALL_DIR
  case "${ACTION}" in
    list) list_backups ;;
    restore)
      require_vars UNIT_NAME ENV_FILE HEALTH_URL
      restore
      ;;
    *) die "ACTION must be list or restore, not '${ACTION}'" ;;
  esac
}

main "$@"
