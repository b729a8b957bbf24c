#!/bin/bash
# Off-host restores for backup-restore.sh: list this stack's snapshots, restore all of shared/ or
# one path below it, repair a damaged repository. Never destroys: what is there is moved aside by a rename on the same disk.
# Modes and times come back as restic stored them, owners and groups by name.

# list_snapshots: this stack's snapshots in the off-host repository, oldest first.
list_snapshots() {
  offsite_restic snapshots --tag "stack:${STACK}"
}

# refuse_mounts PATH: a rename cannot move a mount point (or what is mounted below it).
refuse_mounts() {
  local mount
  while IFS= read -r mount; do
    mount="$(printf '%b' "${mount}")"
    if [[ "${mount}" == "$1" || "${mount}" == "$1/"* ]]; then
      die "${mount} is a mount point; a restore moves ${1} aside by a rename and cannot move it. Unmount it, or restore a path below it"
    fi
  done < <(findmnt -rn -o TARGET)
}

# give_owners_by_name DIR OWNERS: files restored with the snapshot's numeric owners get this
# machine's ids of the same names (OWNERS: "u|g <id> <name>" lines written at backup time).
give_owners_by_name() {
  local dir="$1" owners="$2"
  if [[ ! -f "${owners}" ]]; then
    err "the snapshot holds no owner names; files keep their numeric owners"
    return 0
  fi
  local plan kind id name local_id count=0
  plan="$(mktemp -d)"
  # Every list is made before any owner changes, so one mapping never feeds another.
  while read -r kind id name; do
    if [[ "${kind}" == u ]]; then
      local_id="$(id -u "${name}" 2>/dev/null || true)"
    else
      local_id="$(getent group "${name}" | cut -d: -f3)"
    fi
    if [[ -z "${local_id}" ]]; then
      err "no $([[ "${kind}" == u ]] && echo user || echo group) '${name}' on this machine: its files keep the number ${id}"
      continue
    fi
    [[ "${local_id}" == "${id}" ]] && continue
    count=$((count + 1))
    printf '%s %s\n' "${kind}" "${name}" >"${plan}/${count}.to"
    find "${dir}" "-$([[ "${kind}" == u ]] && echo uid || echo gid)" "${id}" -print0 >"${plan}/${count}.files"
  done <"${owners}"
  local step
  for ((step = 1; step <= count; step++)); do
    read -r kind name <"${plan}/${step}.to"
    if [[ "${kind}" == u ]]; then
      xargs -0 -r chown -h "${name}" <"${plan}/${step}.files"
    else
      xargs -0 -r chgrp -h "${name}" <"${plan}/${step}.files"
    fi
  done
  rm -rf "${plan}"
}

# free_space_for SNAPSHOT: refuse a full restore the disk cannot hold beside what is there.
free_space_for() {
  local needed available
  needed="$(offsite_restic stats --json --mode restore-size "$1" --tag "stack:${STACK}" | sed -n 's/.*"total_size":\([0-9]*\).*/\1/p')"
  available="$(df --output=avail -B1 "${INSTALL_DIR}" | tail -n 1 | tr -d ' ')"
  if [[ -n "${needed}" ]] && ((needed > available)); then
    die "the snapshot needs ${needed} bytes and ${INSTALL_DIR} has ${available} free; the current shared/ stays beside the restored one, so free space first"
  fi
}

restore_offsite() {
  require_vars STACK REPOSITORY PASSWORD_FILE OFFSITE_STATE_FILE OWNERS_FILE UNIT_NAME HEALTH_URL HEALTH_TIMEOUT_SECONDS
  local relative="${RESTORE_PATH:-}" snapshot="${SNAPSHOT:-latest}"
  relative="${relative#/}"
  relative="${relative#shared/}"
  relative="${relative%/}"
  if [[ "/${relative}/" == */../* || "${relative}" == *[\*\?\[]* ]]; then
    die "the path '${RESTORE_PATH}' must name a file or folder below shared/, without .. or wildcards"
  fi
  local target="${INSTALL_DIR}/shared${relative:+/${relative}}"
  local work
  work="${INSTALL_DIR}/restore/$(date -u +%Y%m%dT%H%M%SZ)"
  local aside="${work}/replaced/shared${relative:+/${relative}}"
  take_host_lock
  hold_shared_lock || die "the off-host backup of ${INSTALL_DIR}/shared has run for more than an hour; nothing was restored; try again when it ends (systemctl list-units '*-offsite-backup.service')"
  [[ -d "$(dirname "${target}")" ]] || mkdir -p "$(dirname "${target}")"
  refuse_mounts "${target}"
  install -d -m 700 "${INSTALL_DIR}/restore" "${work}"
  if [[ "$(stat -c %d "$(dirname "${target}")")" != "$(stat -c %d "${work}")" ]]; then
    die "$(dirname "${target}") is on another file system than ${INSTALL_DIR}; a restore moves what is there aside by a rename on one disk"
  fi
  [[ -n "${relative}" ]] || free_space_for "${snapshot}"
  local started="${SECONDS}"
  offsite_restic restore "${snapshot}" --tag "stack:${STACK}" --target "${work}/staging" --include "${target}" --include "${OWNERS_FILE}"
  local staged="${work}/staging${target}"
  if [[ ! -e "${staged}" && ! -L "${staged}" ]]; then
    rm -rf "${work}"
    die "snapshot ${snapshot} holds no shared/${relative}; 'snapshots' lists them, 'restic ls' shows what one holds"
  fi
  give_owners_by_name "${work}/staging" "${work}/staging${OWNERS_FILE}"
  if [[ -e "${target}" || -L "${target}" ]]; then
    mkdir -p "$(dirname "${aside}")"
    mv -T "${target}" "${aside}"
  fi
  mv -T "${staged}" "${target}"
  rm -rf "${work}/staging"
  log "restored shared/${relative} from snapshot ${snapshot} in $((SECONDS - started))s"
  if [[ -e "${aside}" || -L "${aside}" ]]; then
    log "what was there is now in '${aside}'; remove it once the restore is checked"
  else
    rmdir "${work}"
  fi
  # A full restore: this server now continues the repository's history, its next backup may follow.
  # One path does not make it so: the rest of its shared/ may still be a new server's, nearly empty.
  if [[ -z "${relative}" ]]; then
    offsite_restic cat config >"${INSTALL_DIR}/restore/.config"
    set_state "${OFFSITE_STATE_FILE}" "lineage=$(repository_id_in "${INSTALL_DIR}/restore/.config")"
    rm -f "${INSTALL_DIR}/restore/.config"
  fi
  # A server without the app yet (disaster recovery before its first up) has nothing to restart.
  if systemctl cat "${UNIT_NAME}" >/dev/null 2>&1; then
    put_in_use "restored shared/${relative}, but"
  fi
}

# repair_offsite: after a backup found the repository damaged (lost or broken pack files): remove
# stale locks, rebuild the index from the pack files there, drop from the snapshots what the lost
# ones held (restic repair snapshots --forget), and check again. The next backup uploads what
# shared/ still has of it.
repair_offsite() {
  take_host_lock
  hold_shared_lock || die "the off-host backup of ${INSTALL_DIR}/shared has run for more than an hour; nothing was repaired; try again when it ends"
  offsite_restic unlock
  offsite_restic repair index
  offsite_restic repair snapshots --forget
  offsite_restic check || die "the repository ${REPOSITORY} is still damaged after the repair; restic's own guide (Troubleshooting) goes on from here, or start a new history (docs/runbook.md: When a backup fails)"
  log "repaired the repository ${REPOSITORY}; the next backup uploads again what the lost pack files held (systemctl start the stack's offsite-backup unit)"
}

offsite_action() {
  require_vars REPOSITORY
  case "${ACTION}" in
    snapshots) list_snapshots ;;
    restore-offsite) restore_offsite ;;
    repair-offsite) repair_offsite ;;
  esac
}
