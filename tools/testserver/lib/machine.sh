#!/bin/bash
# testserver: The systemd-nspawn machine: boot, readiness, stop, teardown, and the up/down/ssh/status commands.
# Sourced by testserver.sh, which sets the constants and run globals these functions use.
# shellcheck disable=SC2154,SC2034  # the run globals are shared across these parts

#######################################
# Prints the pids of this run's systemd-nspawn processes.
# Globals:
#   NETNS
#######################################
nspawn_pids() {
  local f pid arg
  local -a argv
  for f in /proc/[0-9]*/cmdline; do
    pid="${f#/proc/}"
    pid="${pid%/cmdline}"
    mapfile -d '' -t argv 2>/dev/null <"${f}" || continue
    ((${#argv[@]})) || continue
    [[ "${argv[0]##*/}" == "systemd-nspawn" ]] || continue
    for arg in "${argv[@]}"; do
      if [[ "${arg}" == "--network-namespace-path=/run/netns/${NETNS}" ]]; then
        echo "${pid}"
        break
      fi
    done
  done
}

# True if the process exists and is not a zombie.
pid_alive() {
  local state
  state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "${state}" && "${state}" != "Z" ]]
}

#######################################
# Waits until none of the pids is alive.
# Arguments:
#   $1: timeout in tenths of a second; remaining: pids.
# Returns:
#   0 if all are gone, 1 on timeout.
#######################################
wait_gone() {
  local ticks="$1" pid alive
  shift
  while :; do
    alive=0
    for pid in "$@"; do
      if pid_alive "${pid}"; then
        alive=1
      fi
    done
    ((alive)) || return 0
    ((ticks-- > 0)) || return 1
    sleep 0.1
  done
}

#######################################
# Stops the container: SIGTERM to nspawn (orderly guest poweroff), SIGKILL
# after a timeout, then kills anything still left in the netns.
#######################################
stop_container() {
  local pid pgid
  local -a pids=()
  mapfile -t pids < <(nspawn_pids)
  if ((${#pids[@]})); then
    log "stopping ${NAME} (nspawn pid ${pids[*]})"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    if ! wait_gone $((STOP_TIMEOUT * 10)) "${pids[@]}"; then
      err "${NAME} did not stop in ${STOP_TIMEOUT} s; killing"
      for pid in "${pids[@]}"; do
        pgid="$(ps -o pgid= -p "${pid}" 2>/dev/null | tr -d ' ')" || true
        if [[ "${pgid}" == "${pid}" ]]; then
          kill -KILL -- "-${pid}" 2>/dev/null || true
        fi
        kill -KILL "${pid}" 2>/dev/null || true
      done
      wait_gone 50 "${pids[@]}" || err "nspawn pids ${pids[*]} still alive"
    fi
  fi
  if netns_exists; then
    mapfile -t pids < <(ip netns pids "${NETNS}" 2>/dev/null || true)
    if ((${#pids[@]})); then
      log "killing ${#pids[@]} leftover processes in netns ${NETNS}"
      kill -KILL "${pids[@]}" 2>/dev/null || true
      wait_gone 50 "${pids[@]}" || err "processes ${pids[*]} still alive"
    fi
  fi
}

#######################################
# Removes every resource of the run; each step tolerates absent state.
#######################################
teardown() {
  stop_container
  remove_server_cgroups
  if mountpoint -q "${ROOT_DIR}" 2>/dev/null; then
    umount "${ROOT_DIR}" 2>/dev/null || umount -l "${ROOT_DIR}" ||
      err "could not unmount ${ROOT_DIR}"
  fi
  if netns_exists; then
    ip netns delete "${NETNS}" || err "could not delete netns ${NETNS}"
  fi
  # The netns' deletion takes the pair's host end with it, at the kernel's pace: gone is fine.
  if ip link show dev "${VETH_HOST}" >/dev/null 2>&1; then
    ip link delete dev "${VETH_HOST}" 2>/dev/null ||
      ! ip link show dev "${VETH_HOST}" >/dev/null 2>&1 ||
      err "could not delete ${VETH_HOST}"
  fi
  if nft list table ip "${NFT_TABLE}" >/dev/null 2>&1; then
    nft delete table ip "${NFT_TABLE}" || err "could not delete nft table"
  fi
  if [[ -e "${RUN_DIR}" ]]; then
    remove_tree "${RUN_DIR}"
  fi
  release_image
}

#######################################
# Prints this server's own cgroup directories, one per hierarchy systemd
# uses (the unified one, and name=systemd on hybrid hosts), below the
# caller's cgroup.
#######################################
server_cgroups() {
  local id controllers path mount_point
  while IFS=: read -r id controllers path; do
    case "${controllers}" in
      "") mount_point="$(findmnt -rn -t cgroup2 -o TARGET | head -n 1)" ;;
      name=systemd)
        mount_point="$(findmnt -rn -t cgroup -o TARGET,OPTIONS |
          awk '$2 ~ /(^|,)name=systemd(,|$)/ { print $1; exit }')"
        ;;
      *) continue ;;
    esac
    [[ -n "${mount_point}" ]] || continue
    echo "${mount_point}${path%/}/ai4artsed-testserver-${NAME}"
  done </proc/self/cgroup
}

#######################################
# Moves the calling process into cgroups of this server's own, recorded in
# the run dir for teardown. systemd-nspawn --keep-unit puts the guest below
# its caller's cgroup; servers booted from one process would share one
# tree, and one guest's systemd would remove the cgroup of another's
# same-named unit as it starts ("Failed to spawn executor").
# Arguments:
#   $1: pid to move.
#######################################
enter_server_cgroups() {
  local dir
  server_cgroups >"${RUN_DIR}/cgroups"
  while IFS= read -r dir; do
    mkdir -p "${dir}"
    echo "$1" >"${dir}/cgroup.procs"
  done <"${RUN_DIR}/cgroups"
}

# Removes the server's cgroups (deepest first) once its processes are gone.
remove_server_cgroups() {
  local dir
  [[ -f "${RUN_DIR}/cgroups" ]] || return 0
  while IFS= read -r dir; do
    [[ -d "${dir}" ]] || continue
    find "${dir}" -depth -type d -exec rmdir {} + 2>/dev/null ||
      err "could not remove cgroup ${dir}"
  done <"${RUN_DIR}/cgroups"
}

boot_container() {
  log "booting ${NAME} at ${GUEST_IP}"
  (
    # The container outlives this script: it must not inherit our locks.
    local fd
    for fd in "${LOCK_FDS[@]}"; do
      exec {fd}>&-
    done
    enter_server_cgroups "${BASHPID}"
    SYSTEMD_NSPAWN_API_VFS_WRITABLE=network exec setsid systemd-nspawn \
      -D "${ROOT_DIR}" --boot --register=no --keep-unit \
      --network-namespace-path="/run/netns/${NETNS}" \
      --capability=CAP_NET_ADMIN -M "${NAME}" --console=passive \
      --tmpfs="${GUEST_TMP_TMPFS}" \
      </dev/null >"${RUN_DIR}/console.log" 2>&1
  ) &
  echo "$!" >"${RUN_DIR}/nspawn.pid"
}

#######################################
# Waits until SSH with the pinned host key works and systemd finished
# booting (running or degraded).
#######################################
wait_ready() {
  local deadline state pid
  set_ssh_args
  pid="$(<"${RUN_DIR}/nspawn.pid")"
  deadline=$((SECONDS + BOOT_TIMEOUT))
  while :; do
    pid_alive "${pid}" || die "systemd-nspawn exited during boot"
    state="$(ssh "${SSH_ARGS[@]}" -o ConnectTimeout=2 "root@${GUEST_IP}" \
      systemctl is-system-running --wait 2>/dev/null)" || true
    case "${state}" in
      running) return 0 ;;
      degraded)
        err "${NAME} is degraded; failed units:"
        ssh "${SSH_ARGS[@]}" "root@${GUEST_IP}" \
          systemctl --failed --no-legend --plain >&2 || true
        return 0
        ;;
    esac
    ((SECONDS < deadline)) ||
      die "${NAME} not ready after ${BOOT_TIMEOUT} s (state '${state}')"
    sleep 0.2
  done
}

cmd_up() {
  parse_args none "$@"
  load_name
  require_root
  require_tools systemd-nspawn nft ip ssh ssh-keygen flock findmnt \
    mountpoint setsid
  local start="${SECONDS}" path
  for path in "${IMAGE_DIR}" "${RUN_DIR}"; do
    [[ "${path}" != *[,:]* ]] || die "path must not contain ',' or ':': ${path}"
  done
  lock_file "${RUN_BASE}/.locks/${NAME}"
  UP_IN_PROGRESS=1
  teardown # a fresh server every time, whatever was left before
  ensure_image
  protect_image
  install -d -m 0700 "${RUN_DIR}"
  mkdir -p "${RUN_DIR}/upper" "${RUN_DIR}/work" "${ROOT_DIR}"
  mount -t overlay overlay \
    -o "lowerdir=${IMAGE_DIR},upperdir=${RUN_DIR}/upper,workdir=${RUN_DIR}/work" \
    "${ROOT_DIR}"
  unlock_image
  claim_network
  prepare_guest
  setup_network
  boot_container
  wait_ready
  write_env
  UP_IN_PROGRESS=""
  log "${NAME} ready in $((SECONDS - start)) s (ssh root@${GUEST_IP})"
  echo "${RUN_DIR}/env"
}

cmd_down() {
  parse_args none "$@"
  load_name
  require_root
  lock_file "${RUN_BASE}/.locks/${NAME}"
  teardown
}

cmd_ssh() {
  parse_args rest "$@"
  load_name
  [[ -f "${RUN_DIR}/env" ]] || die "${NAME} is not up (no ${RUN_DIR}/env)"
  set_ssh_args
  exec ssh "${SSH_ARGS[@]}" "root@${GUEST_IP}" "${REST[@]}"
}

cmd_status() {
  parse_args none "$@"
  load_name
  local -a pids=() left=()
  mapfile -t pids < <(nspawn_pids)
  if ((${#pids[@]})) && [[ -f "${RUN_DIR}/env" ]]; then
    echo "${NAME}: running (nspawn pid ${pids[*]}), address ${GUEST_IP}," \
      "env ${RUN_DIR}/env"
    return 0
  fi
  ((${#pids[@]})) && left+=("nspawn pid ${pids[*]}")
  mountpoint -q "${ROOT_DIR}" 2>/dev/null && left+=("mount ${ROOT_DIR}")
  netns_exists && left+=("netns ${NETNS}")
  ip link show dev "${VETH_HOST}" >/dev/null 2>&1 && left+=("link ${VETH_HOST}")
  nft list table ip "${NFT_TABLE}" >/dev/null 2>&1 &&
    left+=("nft table ${NFT_TABLE}")
  [[ -e "${RUN_DIR}" ]] && left+=("dir ${RUN_DIR}")
  if ((${#left[@]})); then
    echo "${NAME}: not running; leftovers: $(IFS=,; echo "${left[*]}")"
  else
    echo "${NAME}: not running"
  fi
  return 3
}
