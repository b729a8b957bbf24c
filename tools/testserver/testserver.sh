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
#   testserver.sh cut [--name NAME]          drop every packet between this machine and it, no FIN
#   testserver.sh mend [--name NAME]         let them through again
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
SLOT=""
NETWORK_LOCK_FD=""
SUBNET=""
HOST_IP=""
GUEST_IP=""
# Cleanup state for the EXIT trap.
BUILD_TMP=""
UP_IN_PROGRESS=""

LIB_DIR="$(dirname "${BASH_SOURCE[0]}")/lib"
readonly LIB_DIR
# shellcheck source=SCRIPTDIR/lib/common.sh
source "${LIB_DIR}/common.sh"
# shellcheck source=SCRIPTDIR/lib/image.sh
source "${LIB_DIR}/image.sh"
# shellcheck source=SCRIPTDIR/lib/network.sh
source "${LIB_DIR}/network.sh"
# shellcheck source=SCRIPTDIR/lib/keys.sh
source "${LIB_DIR}/keys.sh"
# shellcheck source=SCRIPTDIR/lib/machine.sh
source "${LIB_DIR}/machine.sh"

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
    cut) cmd_cut "$@" ;;
    mend) cmd_mend "$@" ;;
    -h | --help | help) usage ;;
    *)
      usage
      die "unknown command '${cmd}'"
      ;;
  esac
}

main "$@"
