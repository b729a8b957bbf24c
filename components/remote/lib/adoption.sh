#!/bin/bash
# Helpers of the adoption scripts (adopt.sh, adopt-switch.sh); the renderer inlines this file
# after lib.sh. When a script runs by hand from a checkout, it sources this file instead.

export AI4ARTSED_ADOPTION_LIB=1

# What this program keeps in INSTALL_DIR; anything else there belongs to the old checkout.
LAYOUT_NAMES=" repo.git releases venvs frontends shared backups restore current revisions.log activation services .deployed .adoption .layout-id serving.sock standby.sock color-blue color-green "

# is_layout_name NAME
is_layout_name() {
  [[ "${LAYOUT_NAMES}" == *" $1 "* ]]
}

# shared_entries: the configured shared paths, one a line, without their trailing slash.
shared_entries() {
  local entry
  while IFS= read -r entry; do
    [[ -n "${entry}" ]] && printf '%s\n' "${entry%/}"
  done <<<"${SHARED_PATHS:-}"
  return 0
}

# managed_unit_file FILE: whether this program wrote FILE (its first line says so).
managed_unit_file() {
  head -n 1 "$1" | grep -q '^# Managed by the ai4artsed Pulumi program'
}

# marker KEY: a value adopt.sh recorded in INSTALL_DIR/.adoption.
marker() {
  sed -n "s/^$1=//p" "${INSTALL_DIR}/.adoption" | tail -n 1
}

# copy_shared: copy the checkout's shared paths into shared/, keeping owner, mode and times.
# Files are copied whole; directories get what is missing or newer, so a second run is quick.
copy_shared() {
  local path source target
  install -d -m 750 "${INSTALL_DIR}/shared"
  while IFS= read -r path; do
    source="${INSTALL_DIR}/${path}" target="${INSTALL_DIR}/shared/${path}"
    [[ -e "${source}" ]] || continue
    mkdir -p "$(dirname "${target}")"
    if [[ -d "${source}" && ! -L "${source}" ]]; then
      mkdir -p "${target}"
      cp -a --update "${source}/." "${target}/"
    else
      cp -a -T "${source}" "${target}"
    fi
  done < <(shared_entries)
}
