#!/bin/bash
# Take over a hand-made git checkout in INSTALL_DIR: check it, copy its data into shared/; adopt-switch moves it aside.
set -euo pipefail
STEP="${STEP:-host/adopt}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/adoption.sh
[[ -n "${AI4ARTSED_ADOPTION_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/adoption.sh"

legacy_git() {
  git -c safe.directory="${INSTALL_DIR}" --no-optional-locks -C "${INSTALL_DIR}" "$@"
}

# classify: absent, empty, layout (ours), adopting (checked, waiting for the switch), checkout or foreign.
classify() {
  [[ -e "${INSTALL_DIR}" ]] || { echo absent; return 0; }
  [[ -d "${INSTALL_DIR}" && ! -L "${INSTALL_DIR}" ]] || { echo foreign; return 0; }
  local -a entries
  mapfile -t entries < <(find "${INSTALL_DIR}" -mindepth 1 -maxdepth 1 -printf '%f\n')
  ((${#entries[@]} > 0)) || { echo empty; return 0; }
  [[ -f "${INSTALL_DIR}/.adoption" ]] && { echo adopting; return 0; }
  [[ -d "${INSTALL_DIR}/.git" ]] && { echo checkout; return 0; }
  [[ -d "${INSTALL_DIR}/releases" || -d "${INSTALL_DIR}/repo.git" ]] && { echo layout; return 0; }
  local entry
  for entry in "${entries[@]}"; do
    is_layout_name "${entry}" || { echo foreign; return 0; }
  done
  echo layout
}

# is_shared PATH: whether PATH is one of the shared paths or lies below one.
is_shared() {
  local entry
  while IFS= read -r entry; do
    [[ "$1" == "${entry}" || "$1" == "${entry}/"* ]] && return 0
  done < <(shared_entries)
  return 1
}

# legacy_unit_of PID: the system service PID runs in, when that service is the app's own (its
# main process runs from the checkout); nothing for any other, such as sshd's: where logind does
# not track SSH sessions, a process started by hand over SSH runs in ssh.service, which must
# never be taken for the app.
legacy_unit_of() {
  local unit main
  unit="$(sed -n 's|^0::/system\.slice/\([^/]*\.service\).*|\1|p' "/proc/$1/cgroup" 2>/dev/null)"
  [[ -n "${unit}" ]] || return 0
  main="$(systemctl show -P MainPID "${unit}" 2>/dev/null)"
  if [[ "$(readlink "/proc/${main}/cwd" 2>/dev/null)/" == "${INSTALL_DIR}/"* ]]; then
    printf '%s\n' "${unit}"
  fi
}

# legacy_units: system services running from the checkout, and hand-written unit files naming it.
legacy_units() {
  {
    local proc cwd file
    for proc in /proc/[0-9]*; do
      cwd="$(readlink "${proc}/cwd" 2>/dev/null)" || continue
      [[ "${cwd}/" == "${INSTALL_DIR}/"* ]] || continue
      legacy_unit_of "${proc#/proc/}"
    done
    for file in /etc/systemd/system/*.service; do
      [[ -f "${file}" ]] && grep -qF "${INSTALL_DIR}/" "${file}" && ! managed_unit_file "${file}" \
        && basename "${file}"
    done
    true
  } | sort -u | paste -sd' '
}

# taken_over PID: whether PID is one of the app's extra services started by hand from the checkout
# (TAKE_OVER: `<directory> <entry script>` a line, e.g. `gpu_service server.py`): its unit takes it
# over when the service's step runs, so it is no reason to stop.
taken_over() {
  local cwd command directory entry
  cwd="$(readlink "/proc/$1/cwd" 2>/dev/null)" || return 1
  command="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" || return 1
  while read -r directory entry; do
    [[ -n "${directory}" && "${cwd}" == "${INSTALL_DIR}/${directory}" && " ${command}" == *" ${entry}"* ]] && return 0
  done <<<"${TAKE_OVER:-}"
  return 1
}

# find_problems: print one line per thing that stops the adoption; prints nothing when it may go ahead.
find_problems() {
  local path
  [[ "$(legacy_git rev-parse --show-toplevel 2>/dev/null)" == "${INSTALL_DIR}" ]] \
    || echo "git does not see a work tree at ${INSTALL_DIR}"
  for path in MERGE_HEAD CHERRY_PICK_HEAD REVERT_HEAD rebase-merge rebase-apply; do
    [[ -e "${INSTALL_DIR}/.git/${path}" ]] && echo "a git operation is in progress (.git/${path})"
  done
  local changes changed
  # status with --no-optional-locks reads only; `git diff` would rewrite the index.
  if changes="$(legacy_git status --porcelain=v1 --untracked-files=no --no-renames 2>&1)"; then
    changes="$(cut -c4- <<<"${changes}")"
    while IFS= read -r changed; do
      [[ -n "${changed}" ]] && ! is_shared "${changed}" && echo "uncommitted change to tracked file ${changed}"
    done <<<"${changes}"
  else
    echo "git cannot compare the checkout with its HEAD: ${changes}"
  fi
  for path in ${LAYOUT_NAMES}; do
    [[ "${path}" != repo.git && -e "${INSTALL_DIR}/${path}" ]] && echo "${INSTALL_DIR}/${path} exists (a name this program needs)"
  done
  for path in "${INSTALL_DIR}"/* "${INSTALL_DIR}"/.[!.]*; do
    [[ -e "${path}" ]] && mountpoint -q "${path}" && echo "${path} is a mount point (move its data by hand)"
  done
  local pid
  for pid in $(ss -ltnpH 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    [[ "$(readlink "/proc/${pid}/cwd" 2>/dev/null)/" == "${INSTALL_DIR}/"* ]] || continue
    [[ -n "$(legacy_unit_of "${pid}")" ]] || taken_over "${pid}" \
      || echo "process ${pid} ($(cat "/proc/${pid}/comm")) serves from the checkout outside any systemd service; stop it or run it as a unit"
  done
  local need=0 size avail
  while IFS= read -r path; do
    [[ -e "${INSTALL_DIR}/${path}" ]] || continue
    size="$(du -sk "${INSTALL_DIR}/${path}" | cut -f1)"
    need=$((need + size))
  done < <(shared_entries)
  avail="$(df --output=avail -k "${INSTALL_DIR}" | tail -n 1)"
  ((avail > need + need / 20 + 65536)) || echo "not enough free space to copy ${need} KiB of shared data (${avail} KiB free)"
  return 0
}

# save_unit_files UNIT...: copies of the old units' hand-written files, for the record.
save_unit_files() {
  local unit fragment
  install -d -m 700 "${INSTALL_DIR}/backups/pre-adoption"
  for unit in "$@"; do
    fragment="$(systemctl show --property=FragmentPath --value "${unit}")"
    [[ -f "${fragment}" && ! -e "${INSTALL_DIR}/backups/pre-adoption/${unit}" ]] || continue
    managed_unit_file "${fragment}" || cp -a "${fragment}" "${INSTALL_DIR}/backups/pre-adoption/${unit}"
  done
}

# move_mirror_in: the mirror resolve.sh fetched beside INSTALL_DIR (it held something else then) belongs inside.
move_mirror_in() {
  if [[ -d "${INSTALL_DIR}.mirror.git" && ! -e "${INSTALL_DIR}/repo.git" ]]; then
    mv "${INSTALL_DIR}.mirror.git" "${INSTALL_DIR}/repo.git"
  fi
}

# prepare: copy the data, keep the old unit files, move the mirror in; run again when a run was cut.
prepare() {
  local units
  units="$(marker units)"
  # shellcheck disable=SC2086 # one word per unit
  save_unit_files ${units}
  copy_shared
  move_mirror_in
}

adopt_checkout() {
  take_host_lock
  local problems
  problems="$(find_problems)"
  [[ -z "${problems}" ]] || die "${INSTALL_DIR} is a hand-made git checkout this program would take over, but:"$'\n'"${problems}"$'\n'"Nothing was changed. Put it right by hand (commit or stash the changes) and run 'pulumi up' again."
  local units
  units="$(legacy_units)"
  log "adopting the checkout of $(legacy_git rev-parse --short HEAD) in ${INSTALL_DIR}; its units (${units:-none}) keep serving until the switch"
  # The marker first: from here on the adoption resumes, it is never checked again.
  printf 'mode=%s\nhead=%s\nunits=%s\n' "$(stat -c '%a %u:%g' "${INSTALL_DIR}")" "$(legacy_git rev-parse HEAD)" "${units}" \
    >"${INSTALL_DIR}/.adoption"
  prepare
}

main() {
  require_vars INSTALL_DIR
  local state
  state="$(classify)"
  case "${state}" in
    checkout) adopt_checkout ;;
    foreign)
      die "${INSTALL_DIR} holds something this program did not make and cannot adopt (neither empty, nor its layout, nor a git checkout): $(find "${INSTALL_DIR}" -mindepth 1 -maxdepth 1 -printf '%f ' | head -c 300). Nothing was changed. Move it away or set app.installDir to another directory." ;;
    adopting)
      take_host_lock
      prepare
      log "adoption of ${INSTALL_DIR} is prepared; it completes at the switch"
      ;;
    *)
      if [[ "${state}" != absent ]]; then move_mirror_in; fi
      log "nothing to adopt in ${INSTALL_DIR} (${state})"
      ;;
  esac
}

main "$@"
