#!/bin/bash
# testserver: Messages, argument parsing, per-run names, locks and tree removal.
# Sourced by testserver.sh, which sets the constants and run globals these functions use.
# shellcheck disable=SC2154,SC2034  # the run globals are shared across these parts

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
#   NAME (read); RUN_DIR ROOT_DIR NETNS VETH_HOST NFT_TABLE SLOT SUBNET HOST_IP
#   GUEST_IP (set)
#######################################
load_name() {
  if [[ ! "${NAME}" =~ ^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$ ]]; then
    die "invalid name '${NAME}' (lowercase letters, digits, '-'; max 32)"
  fi
  local hash slot
  hash="$(printf '%s' "${NAME}" | sha256sum)"
  VETH_HOST="ai4t-${hash:0:8}"
  NETNS="${NAME}"
  NFT_TABLE="ai4artsed-testserver-${NAME}"
  RUN_DIR="${RUN_BASE}/${NAME}"
  ROOT_DIR="${RUN_DIR}/root"
  # 14 bits of the hash pick one of 16384 /30 networks in 10.213.0.0/16; a server that found its
  # network taken when it booted took the next free one and recorded it (setup_network).
  slot=$((16#${hash:0:4} & 0x3fff))
  [[ ! -f "${RUN_DIR}/slot" ]] || slot="$(<"${RUN_DIR}/slot")"
  set_slot "${slot}"
}

# set_slot SLOT: SUBNET, HOST_IP and GUEST_IP of /30 network number SLOT (0-16383).
set_slot() {
  SLOT="$1"
  local third=$((SLOT >> 6)) fourth=$(((SLOT & 63) * 4))
  SUBNET="${NET_PREFIX}.${third}.${fourth}/30"
  HOST_IP="${NET_PREFIX}.${third}.$((fourth + 1))"
  GUEST_IP="${NET_PREFIX}.${third}.$((fourth + 2))"
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
