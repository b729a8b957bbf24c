#!/bin/bash
# Build the frontend tree once per content key into frontends/<key>/dist; reuse it afterwards.
set -euo pipefail
STEP="${STEP:-frontend}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars INSTALL_DIR FRONTEND_TREE BUILD_KEY INSTALL_COMMAND BUILD_COMMAND
  local target="${INSTALL_DIR}/frontends/${BUILD_KEY}"
  if [[ -f "${target}/.complete" ]]; then
    log "reusing ${target}/dist"
    return 0
  fi
  take_host_lock
  local work="${INSTALL_DIR}/frontends/.build-${BUILD_KEY}"
  rm -rf "${work}" "${target}"
  mkdir -p "${work}/src"
  git --git-dir="${INSTALL_DIR}/repo.git" archive --format=tar "${FRONTEND_TREE}" | tar -x -C "${work}/src"
  log "building frontend ${FRONTEND_TREE}: ${INSTALL_COMMAND} && ${BUILD_COMMAND}"
  if ! (cd "${work}/src" && bash -c "${INSTALL_COMMAND}" && bash -c "${BUILD_COMMAND}") >"${work}/build.log" 2>&1; then
    tail -n 40 "${work}/build.log" >&2
    rm -rf "${work}"
    die "frontend build failed (last lines above); nothing was switched, the serving release is untouched"
  fi
  [[ -f "${work}/src/dist/index.html" ]] || {
    rm -rf "${work}"
    die "the build command ran but wrote no dist/index.html; check app.frontendBuildCommand"
  }
  mkdir -p "${work}/out"
  mv "${work}/src/dist" "${work}/out/dist"
  touch "${work}/out/.complete"
  mv -T "${work}/out" "${target}"
  rm -rf "${work}"
  log "built ${target}/dist"
}

main "$@"
