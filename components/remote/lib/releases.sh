#!/bin/bash
# Helpers of the activation scripts (both deploy strategies); the renderer inlines this file
# after lib.sh. When a script runs by hand from a checkout, it sources this file instead.

export AI4ARTSED_RELEASES_LIB=1

# record COMMIT RESULT: one line in revisions.log: when, who, what, with which result.
record() {
  printf '%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${SUDO_USER:-${USER:-root}}" "$1" "$2" \
    >>"${INSTALL_DIR}/revisions.log"
}

# prune_releases SERVING PREVIOUS: keep the newest KEEP_RELEASES, never the serving or the
# previous one nor one an extra service runs from (services/<name>/current), then drop venvs and
# frontend builds that no kept release links to.
prune_releases() {
  local serving="$1" previous="$2" link
  local -A running=()
  for link in "${INSTALL_DIR}"/services/*/current; do
    [[ -L "${link}" ]] && running["$(readlink "${link}")"]=1
  done
  local -a releases
  mapfile -t releases < <(find "${INSTALL_DIR}/releases" -mindepth 1 -maxdepth 1 -printf '%T@ %f\n' | sort -rn | cut -d' ' -f2)
  local index=0 name
  for name in "${releases[@]}"; do
    [[ "${name}" == .* ]] && continue
    index=$((index + 1))
    local path="${INSTALL_DIR}/releases/${name}"
    if ((index > KEEP_RELEASES)) && [[ "${path}" != "${serving}" && "${path}" != "${previous}" && -z "${running[${path}]:-}" ]]; then
      rm -rf "${path}"
      log "pruned release ${name}"
    fi
  done
  # Every venv and dist link in a kept release, at whatever depth app.frontendDir lies.
  local -A linked=()
  local target
  while IFS= read -r target; do
    linked["${target}"]=1
  done < <(find "${INSTALL_DIR}/releases" -mindepth 2 -type l \( -name venv -o -name dist \) -printf '%l\n')
  for path in "${INSTALL_DIR}"/venvs/* "${INSTALL_DIR}"/frontends/*; do
    [[ -d "${path}" ]] || continue
    local key="${path}"
    [[ "${path}" == "${INSTALL_DIR}"/frontends/* ]] && key="${path}/dist"
    if [[ -z "${linked[${key}]:-}" ]]; then
      rm -rf "${path}"
      log "pruned ${path}"
    fi
  done
  prune_uv_cache
}

# prune_uv_cache: drop each unpacked distribution of uv's caches (the host-wide one, UV_CACHE, and
# this stack's own fallback) that no venv links a file of any more: venvs hardlink their files
# from it, so a pruned venv frees nothing while its cache entry stays. uv fetches a dropped entry
# again when a later venv needs it. Runs under the host lock, so no venv build links meanwhile.
prune_uv_cache() {
  local cache entry freed=0 size
  for cache in ${UV_CACHE:-} "${INSTALL_DIR}/venvs/.uv-cache"; do
    [[ -d "${cache}/archive-v0" ]] || continue
    for entry in "${cache}"/archive-v0/*/; do
      [[ -d "${entry}" ]] || continue
      if [[ -z "$(find "${entry}" -type f -links +1 -print -quit)" ]]; then
        size="$(du -sm "${entry}" | cut -f1)"
        rm -rf "${entry}"
        freed=$((freed + size))
      fi
    done
  done
  ((freed == 0)) || log "pruned ${freed} MB of uv's cache that no venv uses"
}

# Settings are part of the release (SETTINGS_FILES: the EnvironmentFile and the app's unit file).
# install-file.sh keeps each file it replaces as <file>.last-good; a healthy activation drops
# those copies, a failed or reverted one puts them back, so the last good release keeps its own
# settings across any later restart and reboot.

# keep_settings: the new settings served; forget the old ones.
keep_settings() {
  local file
  for file in ${SETTINGS_FILES:-}; do
    rm -f "${file}.last-good"
  done
}

# changed_settings: what differs between each settings file and its last good copy, for the
# failure message: variable names of the EnvironmentFile (never values: they may be secret),
# and unit files by name. Prints nothing when no setting changed.
changed_settings() {
  local file names
  local -a changed=()
  for file in ${SETTINGS_FILES:-}; do
    [[ -f "${file}.last-good" ]] || continue
    if [[ "${file}" == *.env ]]; then
      names="$(diff <(sort "${file}.last-good") <(sort "${file}") | sed -n 's/^[<>] \([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' | sort -u | paste -sd, -)"
      changed+=("${file##*/} (${names:-its layout})")
    else
      changed+=("${file##*/}")
    fi
  done
  ((${#changed[@]} == 0)) || printf '%s\n' "${changed[*]}"
}

# restore_settings: put the last good settings back; returns 1 when there were none to restore.
restore_settings() {
  local file restored=1
  for file in ${SETTINGS_FILES:-}; do
    if [[ -f "${file}.last-good" ]]; then
      mv -f "${file}.last-good" "${file}"
      restored=0
    fi
  done
  ((restored == 0)) || return 1
  systemctl daemon-reload
  log "the last good settings are back: ${SETTINGS_FILES}"
}
