#!/bin/bash
# Export releases/<commit> from the mirror, link venv, dist and shared paths, byte-compile;
# the release appears under its final name only when whole.
set -euo pipefail
STEP="${STEP:-release}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# link_shared_path RELEASE PATH: replace PATH in the release by a link into shared/.
# A trailing slash marks a directory. The first time, shared/ is seeded from the release.
link_shared_path() {
  local release="$1" entry="$2"
  local path="${entry%/}" shared="${INSTALL_DIR}/shared/${entry%/}"
  local group
  group="$(id -gn "${SERVICE_USER}")"
  if [[ ! -e "${shared}" ]]; then
    mkdir -p "$(dirname "${shared}")"
    if [[ -e "${release}/${path}" ]]; then
      cp -a "${release}/${path}" "${shared}"
    elif [[ "${entry}" == */ ]]; then
      mkdir -p "${shared}"
    else
      # A file the app has not written yet: nothing to link until it exists.
      return 0
    fi
    chown -R "${SERVICE_USER}:${group}" "$(dirname "${shared}")"
  fi
  rm -rf "${release:?}/${path}"
  mkdir -p "$(dirname "${release}/${path}")"
  ln -s "${shared}" "${release}/${path}"
}

main() {
  require_vars INSTALL_DIR COMMIT VENV_DIR BACKEND_DIR SERVICE_USER
  local release="${INSTALL_DIR}/releases/${COMMIT}"
  if [[ -f "${release}/.complete" ]]; then
    log "release ${COMMIT} exists"
    return 0
  fi
  [[ -f "${VENV_DIR}/.complete" ]] || die "venv ${VENV_DIR} is not built; run the python-env step first"
  take_host_lock
  local work="${INSTALL_DIR}/releases/.export-${COMMIT}"
  rm -rf "${work}" "${release}"
  mkdir -p "${work}"
  git --git-dir="${INSTALL_DIR}/repo.git" archive --format=tar "${COMMIT}" | tar -x -C "${work}"
  ln -s "${VENV_DIR}" "${work}/venv"
  if [[ -n "${DIST_DIR:-}" ]]; then
    rm -rf "${work:?}/${FRONTEND_DIR}/dist"
    ln -s "${DIST_DIR}" "${work}/${FRONTEND_DIR}/dist"
  fi
  local entry
  while IFS= read -r entry; do
    [[ -n "${entry}" ]] && link_shared_path "${work}" "${entry}"
  done <<<"${SHARED_PATHS:-}"
  # Compiling here catches syntax errors before anything switches, and spares the
  # read-only release any __pycache__ writes at run time.
  local output
  if ! output="$("${VENV_DIR}/bin/python" -m compileall -q "${work}/${BACKEND_DIR}" 2>&1)"; then
    rm -rf "${work}"
    die "byte-compiling ${BACKEND_DIR} of ${COMMIT} failed, nothing was switched: ${output}"
  fi
  chown -R -h root:root "${work}"
  chmod -R go-w "${work}"
  touch "${work}/.complete"
  mv -T "${work}" "${release}"
  log "release ${COMMIT} ready"
}

main "$@"
