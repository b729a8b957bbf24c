#!/bin/bash
# Install cloudflared and run this stack's connector unit as the only connector of its tunnel on this host.
set -euo pipefail
STEP="${STEP:-cloudflared/install}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly UUID_RE='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'

# install_package: cloudflared from the configured apt repository, unless the package is there already.
install_package() {
  if [[ "$(dpkg-query -W -f='${Status}' cloudflared 2>/dev/null || true)" == "install ok installed" ]]; then
    return 0
  fi
  local keyring="/usr/share/keyrings/cloudflare-main.gpg" list="/etc/apt/sources.list.d/cloudflared.list"
  local key_tmp
  key_tmp="$(mktemp)"
  curl --fail --silent --show-error --location --max-time 60 --output "${key_tmp}" "${APT_KEY_URL}" \
    || die "could not fetch the signing key ${APT_KEY_URL}; check the server's internet access or set cloudflare.connector.packageSource installed"
  install_if_changed 644 root:root "${keyring}" <"${key_tmp}" || true
  rm -f "${key_tmp}"
  printf 'deb [signed-by=%s] %s any main\n' "${keyring}" "${APT_REPOSITORY}" | install_if_changed 644 root:root "${list}" || true
  log "installing cloudflared from ${APT_REPOSITORY}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends cloudflared >/dev/null
}

# check_binary: the unit's binary exists and reads its token from a file (cloudflared 2025.4.0 or later).
check_binary() {
  [[ -x "${BINARY}" ]] || die "no executable cloudflared at ${BINARY}; install it or set cloudflare.connector.binaryPath"
  local help
  help="$("${BINARY}" tunnel run --help 2>&1 || true)"
  [[ "${help}" == *--token-file* ]] \
    || die "${BINARY} has no --token-file option (needs cloudflared 2025.4.0 or later); upgrade it or use cloudflare.connector.packageSource cloudflare-apt"
}

# token_tunnel TOKEN: the tunnel id inside a tunnel token (base64 JSON, key "t"); never prints the token.
token_tunnel() {
  local token="$1"
  while ((${#token} % 4)); do token+="="; done
  printf '%s' "${token}" | base64 -d 2>/dev/null | grep -o '"t":"[^"]*"' | cut -d'"' -f4 || true
}

# config_tunnel FILE: the `tunnel:` of a cloudflared config file.
config_tunnel() {
  [[ -r "$1" ]] || return 0
  local ids
  ids="$(sed -n -E 's/^tunnel:[[:space:]]*["'\'']?([0-9a-fA-F-]{36}).*/\1/p' "$1")"
  printf '%s' "${ids%%$'\n'*}"
}

# tunnel_of ARG...: the tunnel a cloudflared command line runs, when it names one.
tunnel_of() {
  local arg want="" found=""
  for arg in "$@"; do
    case "${want}" in
      token) found="$(token_tunnel "${arg}")" ;;
      token-file) [[ -r "${arg}" ]] && found="$(token_tunnel "$(<"${arg}")")" ;;
      config) found="$(config_tunnel "${arg}")" ;;
    esac
    want=""
    case "${arg}" in
      --token | -token) want=token ;;
      --token=*) found="$(token_tunnel "${arg#*=}")" ;;
      --token-file) want="token-file" ;;
      --config) want=config ;;
      --config=*) found="$(config_tunnel "${arg#*=}")" ;;
      *) [[ "${arg}" =~ ${UUID_RE} ]] && found="${arg}" ;;
    esac
  done
  printf '%s' "${found}"
}

# refuse_shadowing_configs: a cloudflared config naming this tunnel or hostname means a second,
# hand-made connector for it; say where, and stop before anything changes.
refuse_shadowing_configs() {
  local file
  local -a found=()
  for file in /root/.cloudflared/config.y*ml /home/*/.cloudflared/config.y*ml /etc/cloudflared/config.y*ml /usr/local/etc/cloudflared/config.y*ml; do
    [[ -f "${file}" ]] || continue
    if grep -qF -e "${TUNNEL_ID}" -e "${PUBLIC_HOSTNAME}" "${file}"; then
      found+=("${file}")
    else
      log "note: ${file} names neither tunnel ${TUNNEL_ID} nor ${PUBLIC_HOSTNAME}; ${UNIT_NAME} does not read it"
    fi
  done
  ((${#found[@]} == 0)) && return 0
  die "found cloudflared config naming tunnel ${TUNNEL_ID} or ${PUBLIC_HOSTNAME}: ${found[*]}. A connector started from it would serve ${PUBLIC_HOSTNAME} with its own ingress. Stop what runs it, move it away (mv <file> <file>.disabled) and run 'pulumi up' again."
}

# stop_connector UNIT PID WHAT: stop another connector of this tunnel, by its unit when it has one.
stop_connector() {
  local unit="$1" pid="$2" what="$3"
  if [[ "${unit}" == *.service && "${unit}" != user@* ]]; then
    systemctl disable --now --quiet "${unit}" || die "could not stop ${unit}, which runs this stack's tunnel ${TUNNEL_ID}"
    log "stopped and disabled ${unit} (${what}): it ran tunnel ${TUNNEL_ID}, which ${UNIT_NAME} now runs; one connector per tunnel per host"
  elif [[ -n "${pid}" ]]; then
    kill -TERM "${pid}" 2>/dev/null || true
    log "stopped cloudflared process ${pid} (${what}): it ran tunnel ${TUNNEL_ID}, which ${UNIT_NAME} now runs"
  fi
}

# stop_other_connectors: other units and processes running this tunnel; others are left alone.
stop_other_connectors() {
  local file unit pid tunnel exec_start
  local -a words args
  local -A seen=()
  for file in /etc/systemd/system/*.service /lib/systemd/system/*.service /usr/lib/systemd/system/*.service; do
    unit="$(basename "${file}")"
    if [[ ! -f "${file}" || "${unit}" == "${UNIT_NAME}" || -n "${seen[${unit}]:-}" ]] || ! grep -q '^ExecStart=.*cloudflared' "${file}"; then
      continue
    fi
    seen["${unit}"]=1
    exec_start="$(sed -n 's/^ExecStart=[-@+!]*//p' "${file}")"
    read -r -a words <<<"${exec_start%%$'\n'*}"
    tunnel="$(tunnel_of "${words[@]}")"
    if [[ "${tunnel}" == "${TUNNEL_ID}" ]]; then
      stop_connector "${unit}" "" "unit file ${file}"
    elif systemctl is-enabled --quiet "${unit}" 2>/dev/null; then
      log "note: ${unit} runs cloudflared for tunnel ${tunnel:-unknown}, not ${TUNNEL_ID}; left alone"
    fi
  done
  for pid in $(pgrep -f -- '(^|/)cloudflared( |$)' || true); do
    unit="$(ps -o unit= -p "${pid}" 2>/dev/null | tr -d ' ' || true)"
    [[ "${unit}" == "${UNIT_NAME}" ]] && continue
    mapfile -d '' -t args <"/proc/${pid}/cmdline" 2>/dev/null || continue
    # Only cloudflared itself (or a script of that name), not a shell whose text mentions it.
    [[ "${args[0]##*/}" == cloudflared || "${args[1]:-}" == */cloudflared ]] || continue
    tunnel="$(tunnel_of "${args[@]}")"
    if [[ -z "${tunnel}" ]]; then
      tunnel="$(token_tunnel "$(tr '\0' '\n' <"/proc/${pid}/environ" 2>/dev/null | sed -n 's/^TUNNEL_TOKEN=//p')")"
    fi
    if [[ "${tunnel}" == "${TUNNEL_ID}" ]]; then
      stop_connector "${unit}" "${pid}" "${unit:-no unit}"
    else
      log "note: cloudflared process ${pid} (${unit:-no unit}) runs tunnel ${tunnel:-unknown}, not ${TUNNEL_ID}; left alone"
    fi
  done
}

main() {
  require_vars UNIT_NAME UNIT_FILE TUNNEL_ID PUBLIC_HOSTNAME TOKEN_FILE BINARY PACKAGE_SOURCE
  [[ -s "${TOKEN_FILE}" ]] || die "token file ${TOKEN_FILE} is missing; the token step must run first"
  [[ -f "${UNIT_FILE}" ]] || die "unit ${UNIT_NAME} is not installed; the unit step must run first"
  take_host_lock
  refuse_shadowing_configs
  case "${PACKAGE_SOURCE}" in
    cloudflare-apt) require_vars APT_REPOSITORY APT_KEY_URL && install_package ;;
    installed) ;;
    *) die "unknown package source ${PACKAGE_SOURCE}; use cloudflare-apt or installed" ;;
  esac
  check_binary
  stop_other_connectors
  systemctl is-enabled --quiet "${UNIT_NAME}" || systemctl enable --quiet "${UNIT_NAME}"
  if systemctl is-active --quiet "${UNIT_NAME}"; then
    log "${UNIT_NAME} running (tunnel ${TUNNEL_ID}, ${PUBLIC_HOSTNAME})"
    return 0
  fi
  if ! systemctl start "${UNIT_NAME}"; then
    err "${UNIT_NAME} did not start. Last lines of its journal:"
    journalctl --unit "${UNIT_NAME}" --lines 20 --no-pager --output cat >&2 || true
    die "${UNIT_NAME} is not running; check the token (tunnel ${TUNNEL_ID}) and the server's outbound connections, then run 'pulumi up' again"
  fi
  log "${UNIT_NAME} started (tunnel ${TUNNEL_ID}, ${PUBLIC_HOSTNAME})"
}

main "$@"
