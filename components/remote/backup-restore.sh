#!/bin/bash
# List the pre-deploy backups, or restore one (shared settings and keys, EnvironmentFile) and put
# it in use: with blue-green through the standby color, so no request fails; else by a restart.
set -euo pipefail
STEP="${STEP:-backup/restore}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/health.sh
[[ -n "${AI4ARTSED_HEALTH_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/health.sh"
# shellcheck source=SCRIPTDIR/lib/colors.sh
[[ -n "${AI4ARTSED_COLORS_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/colors.sh"

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
  hold_shared_lock || die "the off-host backup of ${INSTALL_DIR}/shared has run for more than an hour; nothing was restored; try again when it ends (systemctl list-units '*-offsite-backup.service')"
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
  put_in_use "restored $(basename "${archive}"), but" "The state before the restore is in the newest -pre-restore backup."
}

# put_in_use FAILED_PREFIX HINT: the app reads the restored files. Blue-green (APP_TEMPLATE set):
# the standby color starts from the serving release, passes the health gate and takes the
# traffic, and the old color drains, so no request fails; a color that fails the gate is
# stopped and the serving one stays. Else a restart of UNIT_NAME.
put_in_use() {
  local failed="$1" hint="${2:-}"
  if [[ -z "${APP_TEMPLATE:-}" ]]; then
    systemctl restart "${UNIT_NAME}"
    wait_healthy "${HEALTH_TIMEOUT_SECONDS}" "${HEALTH_URL}" || die "${failed} ${UNIT_NAME} is not healthy at ${HEALTH_URL}; check 'journalctl -u ${UNIT_NAME}'. ${hint}"
    log "${UNIT_NAME} is healthy (${HEALTH_URL})"
    return 0
  fi
  local serving next
  serving="$(serving_color)"
  [[ -n "${serving}" ]] || die "${failed} no color serves at ${SERVING_LINK}; run 'pulumi up' to start one. ${hint}"
  next="$(other_color "${serving}")"
  wait_drained "${next}"
  stop_color "${next}"
  switch_link "$(color_socket "${serving}")" "${STANDBY_LINK}"
  start_color "${next}" "$(readlink "$(color_link "${serving}")")"
  if ! wait_color_healthy "${next}"; then
    rm -f "${STANDBY_LINK}"
    journalctl --unit "$(app_unit "${next}")" --lines 20 --no-pager --output cat >&2 || true
    stop_color "${next}"
    die "${failed} $(app_unit "${next}") did not pass the health gate with the restored files (${HEALTH_FAILURE}); $(app_unit "${serving}") still serves, with what it had read before. ${hint}"
  fi
  switch_link "$(color_socket "${next}")" "${SERVING_LINK}"
  systemctl enable --quiet "$(app_unit "${next}")" "$(bridge_socket "${next}")"
  rm -f "${STANDBY_LINK}"
  log "$(app_unit "${next}") serves the restored files and is healthy; $(app_unit "${serving}") drains"
  drain_in_background "${serving}"
}

main() {
  require_vars ACTION INSTALL_DIR
  case "${ACTION}" in
    list) list_backups ;;
    restore)
      require_vars UNIT_NAME ENV_FILE HEALTH_URL HEALTH_TIMEOUT_SECONDS
      restore
      ;;
    snapshots | restore-offsite | repair-offsite) offsite_action ;; # lib/offsite-restore.sh
    *) die "ACTION must be list, restore, snapshots, restore-offsite or repair-offsite, not '${ACTION}'" ;;
  esac
}

main "$@"
