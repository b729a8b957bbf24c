#!/bin/bash
# Installs what the project's commands need on this machine; sourced by scripts/*.sh.

SETUP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly SETUP_ROOT
readonly SYSTEM_PACKAGES=(shellcheck git openssh-client iproute2 nftables debootstrap systemd-container curl)

err() {
  printf '[%s] %s\n' "${STEP:-setup}" "$*" >&2
}

log() {
  printf '[%s] %s\n' "${STEP:-setup}" "$*"
}

require_root() {
  if ((EUID != 0)); then
    err "$1 boots a Debian test server with systemd-nspawn and needs root"
    exit 1
  fi
}

# ensure_system_packages: the test server and the checks need these Debian packages.
ensure_system_packages() {
  local -a missing=()
  local package
  for package in "${SYSTEM_PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "${package}" 2>/dev/null || true)" != "install ok installed" ]]; then
      missing+=("${package}")
    fi
  done
  ((${#missing[@]} == 0)) && return 0
  require_root "installing ${missing[*]}"
  err "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# ensure_node_modules: npm ci when node_modules does not match the lockfile.
ensure_node_modules() {
  if ! cmp -s "${SETUP_ROOT}/package-lock.json" "${SETUP_ROOT}/node_modules/.ai4artsed-lock" 2>/dev/null; then
    err "installing npm packages (npm ci)"
    # Its summary to stderr: a command's stdout (scripts/backup.sh list) stays its own.
    (cd "${SETUP_ROOT}" && npm ci --no-audit --no-fund --loglevel=error >&2)
    cp "${SETUP_ROOT}/package-lock.json" "${SETUP_ROOT}/node_modules/.ai4artsed-lock"
  fi
}

# ensure_browser: Debian's headless Chromium for the after-deploy check (playwright-core drives it;
# no browser is downloaded).
ensure_browser() {
  command -v chromium-headless-shell >/dev/null && return 0
  local -a as_root=()
  if ((EUID != 0)); then
    sudo -n true 2>/dev/null || {
      err "the after-deploy check needs Debian's chromium-headless-shell: install it as root (apt-get install chromium-headless-shell)"
      exit 1
    }
    as_root=(sudo -n)
  fi
  err "installing chromium-headless-shell"
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-headless-shell >/dev/null
}

# ensure_state_store: SeaweedFS's S3 server for the shared-state tests, built once from its Go
# module and cached (about 10 min the first time).
ensure_state_store() {
  "${SETUP_ROOT}/tools/statestore/ensure-weed.sh" >/dev/null
}

# pulumi_on_path: the engine and plugins, built once and cached when not installed.
pulumi_on_path() {
  local tools
  tools="$("${SETUP_ROOT}/scripts/ensure-pulumi.sh" | tail -n 1)"
  export PATH="${tools}:${PATH}"
  export PULUMI_SKIP_UPDATE_CHECK=true
}

# run_with_pulumi WHY ENTRY [ARGS...]: as root, with packages, npm modules and the engine in
# place, run a TypeScript entry point of this project (the main job, the benchmark).
run_with_pulumi() {
  require_root "$1"
  ensure_system_packages
  ensure_node_modules
  pulumi_on_path
  cd "${SETUP_ROOT}" || return 1
  node --import tsx "${@:2}"
}
