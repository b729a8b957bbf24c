#!/bin/bash
# Print the path of Debian's promtool, which the alert rules' tests run. Unpacked from its Debian
# package into the cache, not installed: this machine gets no Prometheus service. Rebuilt when missing.
# Environment: AI4ARTSED_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/ai4artsed-deploy).
set -euo pipefail

readonly DIR="${AI4ARTSED_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/ai4artsed-deploy}/promtool"

main() {
  local promtool="${DIR}/usr/bin/promtool"
  if [[ -x "${promtool}" ]]; then
    printf '%s\n' "${promtool}"
    return 0
  fi
  # Debian 13 ships it as a package of its own; Debian 12 inside prometheus.
  local package=promtool
  apt-cache show promtool >/dev/null 2>&1 || package=prometheus
  if ! apt-cache show "${package}" >/dev/null 2>&1; then
    ((EUID == 0)) || { echo "[promtool] no package lists: run 'apt-get update' as root" >&2; exit 1; }
    apt-get update -qq
  fi
  SCRATCH="$(mktemp -d)"
  trap 'rm -rf "${SCRATCH}"' EXIT
  chmod 777 "${SCRATCH}" # apt downloads as its own user
  echo "[promtool] unpacking Debian's ${package} package into ${DIR}" >&2
  (cd "${SCRATCH}" && apt-get download -qq "${package}" >/dev/null)
  rm -rf "${DIR}.tmp"
  dpkg-deb -x "${SCRATCH}"/*.deb "${DIR}.tmp"
  rm -rf "${DIR}"
  mv "${DIR}.tmp" "${DIR}"
  "${promtool}" --version >&2
  printf '%s\n' "${promtool}"
}

main "$@"
