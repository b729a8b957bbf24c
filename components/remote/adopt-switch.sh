#!/bin/bash
# Finish an adoption right before the switch: catch up shared/, stop the old units, move the old checkout aside.
set -euo pipefail
STEP="${STEP:-release/adopt}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/adoption.sh
[[ -n "${AI4ARTSED_ADOPTION_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/adoption.sh"
# shellcheck source=SCRIPTDIR/lib/releases.sh
[[ -n "${AI4ARTSED_RELEASES_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/releases.sh"

# stop_old_units: stop the checkout's units; disable those whose unit file is still hand-written
# (one this program has since replaced, under the same name, is this stack's unit now).
stop_old_units() {
  local unit fragment
  for unit in $(marker units); do
    fragment="$(systemctl show --property=FragmentPath --value "${unit}")"
    if [[ -f "${fragment}" ]] && managed_unit_file "${fragment}"; then
      systemctl stop "${unit}"
    else
      systemctl disable --quiet --now "${unit}" 2>/dev/null || systemctl stop "${unit}" || true
    fi
    log "stopped ${unit} (the hand-made service)"
  done
}

# move_aside: every entry that is not this program's goes to the backup directory, kept for good.
move_aside() {
  local backup
  backup="$(marker backup)"
  if [[ -z "${backup}" ]]; then
    backup="${INSTALL_DIR}.pre-adoption-$(date -u +%Y%m%dT%H%M%SZ)"
    printf 'backup=%s\n' "${backup}" >>"${INSTALL_DIR}/.adoption"
  fi
  local mode owner
  read -r mode owner <<<"$(marker mode)"
  install -d -m "${mode}" -o "${owner%%:*}" -g "${owner##*:}" "${backup}"
  local entry
  while IFS= read -r entry; do
    is_layout_name "${entry}" || mv -T "${INSTALL_DIR}/${entry}" "${backup}/${entry}"
  done < <(find "${INSTALL_DIR}" -mindepth 1 -maxdepth 1 -printf '%f\n')
  printf '%s\n' "${backup}"
}

main() {
  require_vars INSTALL_DIR SERVICE_USER
  [[ -f "${INSTALL_DIR}/.adoption" ]] || {
    log "no adoption pending"
    return 0
  }
  take_host_lock
  copy_shared
  stop_old_units
  copy_shared
  chown -R "${SERVICE_USER}:$(id -gn "${SERVICE_USER}")" "${INSTALL_DIR}/shared"
  local backup
  backup="$(move_aside)"
  record "$(marker head)" "adopted: the hand-made checkout is kept in ${backup}"
  rm -f "${INSTALL_DIR}/.adoption"
  log "adopted ${INSTALL_DIR}: shared data in shared/, the old checkout kept in ${backup}; the new release starts next"
}

main "$@"
