#!/bin/bash
# Debian package installs shared by the host's packages and the monitoring; the renderer inlines
# this file after lib.sh. When a script runs by hand from a checkout, it sources this file instead.

export AI4ARTSED_PACKAGES_LIB=1

# missing_packages PACKAGE...: those not installed, one a line.
missing_packages() {
  local package
  for package in "$@"; do
    if [[ "$(dpkg-query -W -f='${Status}' "${package}" 2>/dev/null || true)" != "install ok installed" ]]; then
      printf '%s\n' "${package}"
    fi
  done
}

# install_packages PACKAGE...: apt-get install those missing, without recommends, under the host
# lock; PACKAGES_INSTALLED says whether any was.
install_packages() {
  local -a missing
  # shellcheck disable=SC2034  # read by the script this file is inlined into
  PACKAGES_INSTALLED=no
  mapfile -t missing < <(missing_packages "$@")
  if ((${#missing[@]} == 0)); then
    log "all packages present: $*"
    return 0
  fi
  take_host_lock
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed; check the server's package sources (/etc/apt/sources.list*)"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "installing ${missing[*]} failed (apt-get's messages above)"
  # shellcheck disable=SC2034  # read by the script this file is inlined into
  PACKAGES_INSTALLED=yes
}
