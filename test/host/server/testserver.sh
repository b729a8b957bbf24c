#!/usr/bin/env bash
#
# Boots throwaway Debian trixie servers (systemd-nspawn, systemd as PID 1,
# each in its own network namespace with NAT) for deployment tests.
#
# Usage:
#   testserver.sh image                      build the cached base image
#   testserver.sh up [--name NAME]           boot a fresh server, print env file
#   testserver.sh down [--name NAME]         stop it and remove all its state
#   testserver.sh ssh [--name NAME] [--] [CMD...]   run CMD in it over SSH
#   testserver.sh status [--name NAME]       exit 0 if running, 3 if not
#   testserver.sh link --name NAME --to OTHER [--port PORT]    let NAME reach OTHER on one TCP port (22)
#   testserver.sh unlink --name NAME --to OTHER [--port PORT]  close that pair again
#
# `up` boots an overlay (per-run upper layer) over the cached image in netns
# NAME, guest address 10.213.X.Y+2/30 derived from a hash of NAME, NAT via
# nftables table "ai4artsed-testserver-NAME"; it prints the path of an env
# file (sh-quoted TESTSERVER_NAME, _ADDRESS, _SSH_PORT, _USER, _KEY_FILE,
# _HOST_KEY, _KNOWN_HOSTS). `up` on a name that is up gives a fresh server.
# `ssh` passes CMD to the remote shell like ssh(1) does (words joined).
# Servers cannot reach each other; `link` opens exactly one pair and port
# (NAME -> OTHER, replies only back), `unlink` or `down` of either closes it.
# While servers run, the image is bind-mounted read-only onto itself.
#
# Needs root and: debootstrap systemd-container nftables iproute2
# openssh-client util-linux.
#
# Environment:
#   AI4ARTSED_CACHE_DIR   cache root (default ${XDG_CACHE_HOME:-~/.cache}/ai4artsed-deploy)
#   AI4ARTSED_RUN_DIR     run state root (default /run/ai4artsed-testserver)
#   AI4ARTSED_TESTSERVER_BOOT_TIMEOUT  seconds to wait for SSH (default 90)
#   AI4ARTSED_TESTSERVER_KEEP_FAILED   1: keep the state of a failed `up`

set -euo pipefail

# Bump whenever the image recipe below changes: cached images with another
# version are rebuilt.
readonly IMAGE_VERSION="2"
readonly SUITE="trixie"
readonly MIRROR="http://deb.debian.org/debian"
readonly SECURITY_MIRROR="http://deb.debian.org/debian-security"
readonly -a INCLUDE_PACKAGES=(
  systemd systemd-sysv dbus openssh-server ufw python3 python3-venv
  python3-pip git iproute2 curl sudo ca-certificates
)
readonly -a EXTRA_PACKAGES=(nodejs npm)
readonly HOST_CA_DIR="/usr/local/share/ca-certificates"
readonly GUEST_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt"
readonly STAMP_FILE="etc/ai4artsed-testserver-image"

readonly DEFAULT_NAME="ai4artsed-test"
readonly NET_PREFIX="10.213"
readonly SSH_PORT="22"
readonly STOP_TIMEOUT=15
# /tmp in the guest: a small tmpfs, as on Debian 13 (there 10 % of RAM), smaller than the
# fixture's downloaded wheels, so a package install that unpacks into /tmp fails as it does on
# a real server with the real app's PyTorch stack.
readonly GUEST_TMP_TMPFS="/tmp:mode=1777,size=64M"

readonly CACHE_DIR="${AI4ARTSED_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/ai4artsed-deploy}/testserver"
readonly IMAGE_DIR="${CACHE_DIR}/${SUITE}-base"
readonly RUN_BASE="${AI4ARTSED_RUN_DIR:-/run/ai4artsed-testserver}"
readonly BOOT_TIMEOUT="${AI4ARTSED_TESTSERVER_BOOT_TIMEOUT:-90}"

# Set by parse_args / load_name.
NAME=""
REST=()
SSH_ARGS=()
LOCK_FDS=()
IMAGE_LOCK_FD=""
RUN_DIR=""
ROOT_DIR=""
NETNS=""
VETH_HOST=""
NFT_TABLE=""
SUBNET=""
HOST_IP=""
GUEST_IP=""
# Cleanup state for the EXIT trap.
BUILD_TMP=""
UP_IN_PROGRESS=""

#######################################
# Prints an error message to stderr.
# Arguments:
#   Message words.
#######################################
err() {
  echo "[$(date +'%Y-%m-%dT%H:%M:%S%z')] testserver: $*" >&2
}

#######################################
# Prints a progress message to stderr (stdout is kept for results).
#######################################
log() {
  echo "testserver: $*" >&2
}

die() {
  err "$@"
  exit 1
}

usage() {
  sed -n '6,14s/^# \{0,1\}//p' "$0" >&2
}

require_root() {
  ((EUID == 0)) || die "must run as root"
}

require_tools() {
  local tool
  local -a missing=()
  for tool in "$@"; do
    command -v "${tool}" >/dev/null 2>&1 || missing+=("${tool}")
  done
  if ((${#missing[@]})); then
    die "missing tools: ${missing[*]} (apt-get install debootstrap" \
      "systemd-container nftables iproute2 openssh-client util-linux)"
  fi
}

#######################################
# Parses [--name NAME] [--] [rest...].
# Globals:
#   NAME, REST (set)
# Arguments:
#   $1: "rest" if trailing arguments are allowed, else "none".
#   Remaining: the subcommand's arguments.
#######################################
parse_args() {
  local allow_rest="$1"
  shift
  NAME="${DEFAULT_NAME}"
  REST=()
  while (($#)); do
    case "$1" in
      --name)
        (($# >= 2)) || die "--name needs a value"
        NAME="$2"
        shift 2
        ;;
      --name=*)
        NAME="${1#--name=}"
        shift
        ;;
      -h | --help)
        usage
        exit 0
        ;;
      --)
        shift
        REST+=("$@")
        break
        ;;
      *)
        [[ "${allow_rest}" == "rest" ]] || die "unexpected argument: $1"
        REST+=("$@")
        break
        ;;
    esac
  done
}

#######################################
# Derives every per-run resource name and address from the run name.
# Globals:
#   NAME (read); RUN_DIR ROOT_DIR NETNS VETH_HOST NFT_TABLE SUBNET HOST_IP
#   GUEST_IP (set)
#######################################
load_name() {
  if [[ ! "${NAME}" =~ ^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$ ]]; then
    die "invalid name '${NAME}' (lowercase letters, digits, '-'; max 32)"
  fi
  local hash slot third fourth
  hash="$(printf '%s' "${NAME}" | sha256sum)"
  # 14 bits of the hash pick one of 16384 /30 networks in 10.213.0.0/16.
  slot=$((16#${hash:0:4} & 0x3fff))
  third=$((slot >> 6))
  fourth=$(((slot & 63) * 4))
  SUBNET="${NET_PREFIX}.${third}.${fourth}/30"
  HOST_IP="${NET_PREFIX}.${third}.$((fourth + 1))"
  GUEST_IP="${NET_PREFIX}.${third}.$((fourth + 2))"
  VETH_HOST="ai4t-${hash:0:8}"
  NETNS="${NAME}"
  NFT_TABLE="ai4artsed-testserver-${NAME}"
  RUN_DIR="${RUN_BASE}/${NAME}"
  ROOT_DIR="${RUN_DIR}/root"
}

#######################################
# Takes an exclusive lock on a file (until exit or unlock_fd).
# Globals:
#   LOCK_FDS (the new fd is appended)
# Arguments:
#   $1: lock file; $2: timeout in seconds (default 600).
#######################################
lock_file() {
  local fd
  mkdir -p "$(dirname "$1")"
  exec {fd}>"$1"
  flock -w "${2:-600}" "${fd}" || die "timed out waiting for lock $1"
  LOCK_FDS+=("${fd}")
}

# Releases a lock taken with lock_file.
unlock_fd() {
  local fd="$1" i
  exec {fd}>&-
  for i in "${!LOCK_FDS[@]}"; do
    if [[ "${LOCK_FDS[i]}" == "${fd}" ]]; then
      unset 'LOCK_FDS[i]'
    fi
  done
}

# Serializes image builds and the image's read-only protection mount.
lock_image() {
  [[ -z "${IMAGE_LOCK_FD}" ]] || return 0
  lock_file "${RUN_BASE}/.locks/image" 3600
  IMAGE_LOCK_FD="${LOCK_FDS[-1]}"
}

unlock_image() {
  [[ -n "${IMAGE_LOCK_FD}" ]] || return 0
  unlock_fd "${IMAGE_LOCK_FD}"
  IMAGE_LOCK_FD=""
}

#######################################
# Unmounts everything below a directory and removes it (never crosses into
# other file systems).
# Arguments:
#   $1: directory.
#######################################
remove_tree() {
  local dir="$1" target
  [[ -e "${dir}" ]] || return 0
  local -a targets=()
  while IFS= read -r target; do
    if [[ "${target}" == "${dir}" || "${target}" == "${dir}/"* ]]; then
      targets+=("${target}")
    fi
  done < <(findmnt -rn -o TARGET | sort -r)
  for target in "${targets[@]}"; do
    umount "${target}" 2>/dev/null || umount -l "${target}" || true
  done
  rm -rf --one-file-system -- "${dir}"
}

# ---------------------------------------------------------------- image

image_ok() {
  [[ -f "${IMAGE_DIR}/${STAMP_FILE}" ]] &&
    [[ "$(<"${IMAGE_DIR}/${STAMP_FILE}")" == "${IMAGE_VERSION}" ]]
}

#######################################
# Runs a command inside an unbooted image tree (host network).
# Arguments:
#   $1: image root; remaining: command.
#######################################
run_in_image() {
  local root="$1"
  shift
  systemd-nspawn -q -D "${root}" --register=no --keep-unit --pipe \
    --resolv-conf=bind-host --timezone=off --link-journal=no \
    -E DEBIAN_FRONTEND=noninteractive -E LC_ALL=C.UTF-8 -- "$@" </dev/null
}

#######################################
# Bakes CA trust, Node.js/npm, sshd policy and generic defaults into a
# freshly debootstrapped tree.
# Arguments:
#   $1: image root.
#######################################
configure_image() {
  local root="$1"
  local -a certs=()

  # Trust the machine's extra CAs (the registries are reached through them).
  install -d -m 0755 "${root}${HOST_CA_DIR}"
  if [[ -d "${HOST_CA_DIR}" ]]; then
    mapfile -t certs < <(find "${HOST_CA_DIR}" -maxdepth 1 -name '*.crt' -type f)
  fi
  if ((${#certs[@]})); then
    install -m 0644 "${certs[@]}" "${root}${HOST_CA_DIR}/"
  fi

  rm -f "${root}/etc/apt/sources.list"
  cat >"${root}/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${MIRROR}
Suites: ${SUITE} ${SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${SECURITY_MIRROR}
Suites: ${SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

  cat >"${root}/etc/pip.conf" <<EOF
[global]
cert = ${GUEST_CA_BUNDLE}
EOF

  install -d -m 0755 "${root}/etc/ssh/sshd_config.d"
  cat >"${root}/etc/ssh/sshd_config.d/10-ai4artsed-testserver.conf" <<'EOF'
# Test server: root may log in, with a key only.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
EOF

  cat >"${root}/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
  echo "localhost" >"${root}/etc/hostname"
  # No locales package: C.UTF-8 is built in (and pam_env wants this file).
  echo "LANG=C.UTF-8" >"${root}/etc/default/locale"

  # shellcheck disable=SC2016  # expanded inside the image
  run_in_image "${root}" /bin/sh -euc '
    update-ca-certificates >/dev/null
    apt-get -q update
    apt-get -qy dist-upgrade
    apt-get -qy install --no-install-recommends "$@"
    apt-get clean
    rm -rf /var/lib/apt/lists/partial/*
    npmrc="$(npm config get globalconfig)"
    mkdir -p "$(dirname "$npmrc")"
    touch "$npmrc"
    grep -q "^cafile=" "$npmrc" || echo "cafile='"${GUEST_CA_BUNDLE}"'" >>"$npmrc"
  ' sh "${EXTRA_PACKAGES[@]}" >&2

  # Generic image: no host keys, no machine id, no authorized keys.
  rm -f "${root}"/etc/ssh/ssh_host_*
  : >"${root}/etc/machine-id"
  : >"${root}/etc/resolv.conf"
  install -d -m 0700 "${root}/root/.ssh"
  find "${root}/root/.ssh" -mindepth 1 -delete
}

#######################################
# Builds the base image into a temporary directory and renames it into
# place, so an interrupted build is never taken for a cached one.
# Globals:
#   BUILD_TMP (set while building)
#######################################
build_image() {
  local old="" stale start
  start="${SECONDS}"
  for stale in "${IMAGE_DIR}".tmp.* "${IMAGE_DIR}".old.*; do
    [[ -d "${stale}" ]] || continue
    log "removing stale ${stale}"
    remove_tree "${stale}"
  done
  BUILD_TMP="$(mktemp -d "${IMAGE_DIR}.tmp.XXXXXX")"
  chmod 0755 "${BUILD_TMP}"
  log "debootstrap ${SUITE} into ${BUILD_TMP}"
  local includes
  includes="$(IFS=,; echo "${INCLUDE_PACKAGES[*]}")"
  debootstrap --variant=minbase --include="${includes}" \
    "${SUITE}" "${BUILD_TMP}" "${MIRROR}" >&2
  log "debootstrap done after $((SECONDS - start)) s; configuring image"
  configure_image "${BUILD_TMP}"
  echo "${IMAGE_VERSION}" >"${BUILD_TMP}/${STAMP_FILE}"
  if [[ -e "${IMAGE_DIR}" ]]; then
    old="${IMAGE_DIR}.old.$$"
    mv -T "${IMAGE_DIR}" "${old}"
  fi
  mv -T "${BUILD_TMP}" "${IMAGE_DIR}"
  BUILD_TMP=""
  if [[ -n "${old}" ]]; then
    remove_tree "${old}"
  fi
  log "image built in $((SECONDS - start)) s: ${IMAGE_DIR}"
}

# True if a running server's overlay uses the image as its lower layer.
image_in_use() {
  local opts
  opts="$(findmnt -rn -t overlay -o OPTIONS)" || return 1
  [[ "${opts}" == *"lowerdir=${IMAGE_DIR},"* ]]
}

#######################################
# Builds the image if it is missing or outdated. Takes the image lock
# (kept until unlock_image).
#######################################
ensure_image() {
  lock_image
  image_ok && return 0
  if mountpoint -q "${IMAGE_DIR}"; then
    if image_in_use; then
      die "cached image is outdated but used by running servers; 'down' them"
    fi
    umount "${IMAGE_DIR}"
  fi
  require_tools debootstrap systemd-nspawn findmnt
  mkdir -p "${CACHE_DIR}"
  build_image
}

#######################################
# While servers use the image, it is bind-mounted read-only onto itself, so
# that neither a guest nor a stray `rm -rf` of the cache can change it
# underneath their overlays. Call with the image lock held.
#######################################
protect_image() {
  mountpoint -q "${IMAGE_DIR}" && return 0
  mount --bind "${IMAGE_DIR}" "${IMAGE_DIR}"
  mount -o remount,bind,ro "${IMAGE_DIR}"
}

# Drops the protection mount once no server uses the image.
release_image() {
  mountpoint -q "${IMAGE_DIR}" 2>/dev/null || return 0
  lock_image
  if mountpoint -q "${IMAGE_DIR}" && ! image_in_use; then
    umount "${IMAGE_DIR}" || err "could not unmount ${IMAGE_DIR}"
  fi
  unlock_image
}

cmd_image() {
  parse_args none "$@"
  require_root
  require_tools flock findmnt mountpoint
  ensure_image
  unlock_image
  echo "${IMAGE_DIR}"
}

# ---------------------------------------------------------------- links

LINK_TO=""
LINK_PORT="22"

# Parses the link commands' --to OTHER [--port PORT] from REST.
parse_link_args() {
  set -- "${REST[@]}"
  LINK_TO=""
  LINK_PORT="22"
  while (($#)); do
    case "$1" in
      --to)
        (($# >= 2)) || die "--to needs a value"
        LINK_TO="$2"
        shift 2
        ;;
      --port)
        (($# >= 2)) || die "--port needs a value"
        LINK_PORT="$2"
        shift 2
        ;;
      *) die "unexpected argument: $1" ;;
    esac
  done
  [[ -n "${LINK_TO}" ]] || die "--to OTHER is required"
  [[ "${LINK_PORT}" =~ ^[0-9]{1,5}$ ]] || die "invalid port '${LINK_PORT}'"
}

#######################################
# Prints "TABLE GUEST_IP" of a running server, and fails if it is not up.
# Arguments:
#   $1: server name.
#######################################
link_end() {
  NAME="$1"
  load_name
  nft list table ip "${NFT_TABLE}" >/dev/null 2>&1 || die "${NAME} is not up"
  echo "${NFT_TABLE} ${GUEST_IP}"
}

# Deletes the rules of one link (by comment) from a server's forward chain.
delete_link_rules() {
  local table="$1" comment="$2" handle
  for handle in $(nft -a list chain ip "${table}" forward 2>/dev/null |
    sed -n "s/.*comment \"${comment}\" # handle \([0-9]*\)$/\1/p"); do
    nft delete rule ip "${table}" forward handle "${handle}"
  done
}

#######################################
# Lets NAME open TCP connections to OTHER's PORT, and OTHER answer them; every
# other pair stays dropped. The rules sit in the two servers' own tables.
#######################################
cmd_link() {
  parse_args rest "$@"
  parse_link_args
  require_root
  local from="${NAME}" from_table from_ip to_table to_ip
  read -r from_table from_ip < <(link_end "${from}")
  read -r to_table to_ip < <(link_end "${LINK_TO}")
  [[ -n "${from_table}" && -n "${to_table}" ]] || die "both ${from} and ${LINK_TO} must be up"
  local comment="link ${from} to ${LINK_TO}:${LINK_PORT}"
  delete_link_rules "${from_table}" "${comment}"
  delete_link_rules "${to_table}" "${comment}"
  nft insert rule ip "${from_table}" forward ip saddr "${from_ip}" ip daddr "${to_ip}" \
    tcp dport "${LINK_PORT}" ct state new,established accept comment "\"${comment}\""
  nft insert rule ip "${to_table}" forward ip saddr "${to_ip}" ip daddr "${from_ip}" \
    tcp sport "${LINK_PORT}" ct state established accept comment "\"${comment}\""
  log "${from} reaches ${LINK_TO} (${to_ip}) on TCP ${LINK_PORT}"
}

cmd_unlink() {
  parse_args rest "$@"
  parse_link_args
  require_root
  local from="${NAME}" from_table to_table
  read -r from_table _ < <(link_end "${from}")
  read -r to_table _ < <(link_end "${LINK_TO}")
  local comment="link ${from} to ${LINK_TO}:${LINK_PORT}"
  [[ -z "${from_table}" ]] || delete_link_rules "${from_table}" "${comment}"
  [[ -z "${to_table}" ]] || delete_link_rules "${to_table}" "${comment}"
  log "${from} no longer reaches ${LINK_TO} on TCP ${LINK_PORT}"
}

# ---------------------------------------------------------------- runs

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

netns_exists() {
  [[ -e "/run/netns/${NETNS}" ]]
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
  if mountpoint -q "${ROOT_DIR}" 2>/dev/null; then
    umount "${ROOT_DIR}" 2>/dev/null || umount -l "${ROOT_DIR}" ||
      err "could not unmount ${ROOT_DIR}"
  fi
  if netns_exists; then
    ip netns delete "${NETNS}" || err "could not delete netns ${NETNS}"
  fi
  if ip link show dev "${VETH_HOST}" >/dev/null 2>&1; then
    ip link delete dev "${VETH_HOST}" || err "could not delete ${VETH_HOST}"
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
# Creates the netns, the veth pair with the run's /30, the default route
# and the NAT table.
#######################################
setup_network() {
  local other
  other="$(ip -o -4 addr show to "${HOST_IP}/32" 2>/dev/null | awk '{ print $2 }')"
  if [[ -n "${other}" ]]; then
    die "subnet ${SUBNET} of '${NAME}' is in use by ${other}; pick another name"
  fi
  ip netns add "${NETNS}"
  ip -n "${NETNS}" link set lo up
  ip link add "${VETH_HOST}" type veth peer name eth0 netns "${NETNS}"
  ip addr add "${HOST_IP}/30" dev "${VETH_HOST}"
  ip link set "${VETH_HOST}" up
  ip -n "${NETNS}" addr add "${GUEST_IP}/30" dev eth0
  ip -n "${NETNS}" link set eth0 up
  ip -n "${NETNS}" route add default via "${HOST_IP}"
  if [[ "$(</proc/sys/net/ipv4/ip_forward)" != "1" ]]; then
    sysctl -qw net.ipv4.ip_forward=1
  fi
  nft -f - <<EOF
table ip ${NFT_TABLE}
delete table ip ${NFT_TABLE}
table ip ${NFT_TABLE} {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr ${SUBNET} oifname != "${VETH_HOST}" masquerade
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    # Test servers must not reach each other.
    ip saddr ${SUBNET} ip daddr ${NET_PREFIX}.0.0/16 drop
  }
}
EOF
}

#######################################
# Writes the per-run files into the (overlay-mounted) guest root and the
# run dir: hostname, machine id, resolv.conf, SSH host and client keys.
#######################################
prepare_guest() {
  local resolv="/etc/resolv.conf"
  echo "${NAME}" >"${ROOT_DIR}/etc/hostname"
  printf '127.0.1.1\t%s\n' "${NAME}" >>"${ROOT_DIR}/etc/hosts"
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"${ROOT_DIR}/etc/machine-id"
  echo >>"${ROOT_DIR}/etc/machine-id"
  # A host stub resolver on loopback is useless in the guest's netns.
  if grep -qE '^nameserver[[:space:]]+127\.' "${resolv}" 2>/dev/null &&
    [[ -f /run/systemd/resolve/resolv.conf ]]; then
    resolv="/run/systemd/resolve/resolv.conf"
  fi
  rm -f "${ROOT_DIR}/etc/resolv.conf"
  cp -L "${resolv}" "${ROOT_DIR}/etc/resolv.conf"
  chmod 0644 "${ROOT_DIR}/etc/resolv.conf"

  ssh-keygen -q -A -f "${ROOT_DIR}" >/dev/null
  ssh-keygen -q -t ed25519 -N '' -C "ai4artsed-testserver-${NAME}" \
    -f "${RUN_DIR}/id_ed25519"
  install -d -m 0700 "${ROOT_DIR}/root/.ssh"
  install -m 0600 "${RUN_DIR}/id_ed25519.pub" \
    "${ROOT_DIR}/root/.ssh/authorized_keys"

  local key_type key_data
  read -r key_type key_data _ <"${ROOT_DIR}/etc/ssh/ssh_host_ed25519_key.pub"
  echo "${key_type} ${key_data}" >"${RUN_DIR}/host_key.pub"
  echo "${GUEST_IP} ${key_type} ${key_data}" >"${RUN_DIR}/known_hosts"
}

boot_container() {
  log "booting ${NAME} at ${GUEST_IP}"
  (
    # The container outlives this script: it must not inherit our locks.
    local fd
    for fd in "${LOCK_FDS[@]}"; do
      exec {fd}>&-
    done
    SYSTEMD_NSPAWN_API_VFS_WRITABLE=network exec setsid systemd-nspawn \
      -D "${ROOT_DIR}" --boot --register=no --keep-unit \
      --network-namespace-path="/run/netns/${NETNS}" \
      --capability=CAP_NET_ADMIN -M "${NAME}" --console=passive \
      --tmpfs="${GUEST_TMP_TMPFS}" \
      </dev/null >"${RUN_DIR}/console.log" 2>&1
  ) &
  echo "$!" >"${RUN_DIR}/nspawn.pid"
}

# Sets SSH_ARGS to the ssh client arguments for the run.
set_ssh_args() {
  SSH_ARGS=(
    -F none -i "${RUN_DIR}/id_ed25519" -p "${SSH_PORT}"
    -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes
    -o "UserKnownHostsFile=${RUN_DIR}/known_hosts"
    -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR
    -o ConnectTimeout=5 -o ServerAliveInterval=15
  )
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

# Prints NAME='value' with the value single-quoted for sh.
env_line() {
  local q="'\\''"
  printf "%s='%s'\n" "$1" "${2//\'/${q}}"
}

write_env() {
  {
    env_line TESTSERVER_NAME "${NAME}"
    env_line TESTSERVER_ADDRESS "${GUEST_IP}"
    env_line TESTSERVER_SSH_PORT "${SSH_PORT}"
    env_line TESTSERVER_USER root
    env_line TESTSERVER_KEY_FILE "${RUN_DIR}/id_ed25519"
    env_line TESTSERVER_HOST_KEY "$(<"${RUN_DIR}/host_key.pub")"
    env_line TESTSERVER_KNOWN_HOSTS "${RUN_DIR}/known_hosts"
  } >"${RUN_DIR}/env.tmp"
  mv -f "${RUN_DIR}/env.tmp" "${RUN_DIR}/env"
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

#######################################
# EXIT trap: removes a cut image build and tears down a failed `up`.
#######################################
on_exit() {
  local rc=$?
  if [[ -n "${BUILD_TMP}" ]]; then
    err "image build failed; removing ${BUILD_TMP}"
    remove_tree "${BUILD_TMP}"
  fi
  if [[ -n "${UP_IN_PROGRESS}" ]] && ((rc != 0)); then
    if [[ -f "${RUN_DIR}/console.log" ]]; then
      err "last console lines of ${NAME}:"
      tail -n 30 "${RUN_DIR}/console.log" >&2 || true
    fi
    if [[ "${AI4ARTSED_TESTSERVER_KEEP_FAILED:-0}" == "1" ]]; then
      err "keeping state of failed run in ${RUN_DIR}; run: $0 down --name ${NAME}"
    else
      teardown || true
    fi
  fi
  exit "${rc}"
}

main() {
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local cmd="${1:-}"
  (($#)) && shift
  case "${cmd}" in
    image) cmd_image "$@" ;;
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    ssh) cmd_ssh "$@" ;;
    status) cmd_status "$@" ;;
    link) cmd_link "$@" ;;
    unlink) cmd_unlink "$@" ;;
    -h | --help | help) usage ;;
    *)
      usage
      die "unknown command '${cmd}'"
      ;;
  esac
}

main "$@"
