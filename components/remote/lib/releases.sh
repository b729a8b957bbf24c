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
# previous one, then drop venvs and frontend builds that no kept release links to.
prune_releases() {
  local serving="$1" previous="$2"
  local -a releases
  mapfile -t releases < <(find "${INSTALL_DIR}/releases" -mindepth 1 -maxdepth 1 -printf '%T@ %f\n' | sort -rn | cut -d' ' -f2)
  local index=0 name
  for name in "${releases[@]}"; do
    [[ "${name}" == .* ]] && continue
    index=$((index + 1))
    local path="${INSTALL_DIR}/releases/${name}"
    if ((index > KEEP_RELEASES)) && [[ "${path}" != "${serving}" && "${path}" != "${previous}" ]]; then
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
}
