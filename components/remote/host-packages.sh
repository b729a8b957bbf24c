#!/bin/bash
# Install the Debian packages a deploy needs; does nothing when all are present.
set -euo pipefail
STEP="${STEP:-host/packages}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

missing_packages() {
  local package
  for package in "$@"; do
    if [[ "$(dpkg-query -W -f='${Status}' "${package}" 2>/dev/null || true)" != "install ok installed" ]]; then
      printf '%s\n' "${package}"
    fi
  done
}

main() {
  require_vars PACKAGES
  local -a wanted missing
  read -r -a wanted <<<"${PACKAGES}"
  mapfile -t missing < <(missing_packages "${wanted[@]}")
  if ((${#missing[@]} == 0)); then
    log "all packages present: ${wanted[*]}"
    return 0
  fi
  take_host_lock
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

main "$@"
