#!/bin/bash
# Build the frontend tree once per content key into frontends/<key>/dist; reuse it afterwards.
# node_modules is kept per lockfile and install command: while both stay the same, a build
# reuses it and does not run the install (npm ci would wipe it first). Install and build run as
# the build user, writing only in the build's own directory (lib/sandbox.sh).
set -euo pipefail
STEP="${STEP:-frontend}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/sandbox.sh
[[ -n "${AI4ARTSED_SANDBOX_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/sandbox.sh"
# shellcheck source=SCRIPTDIR/lib/build.sh
[[ -n "${AI4ARTSED_BUILD_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/build.sh"

readonly LOCKFILES=(package-lock.json npm-shrinkwrap.json yarn.lock pnpm-lock.yaml)

# dependencies_key: the lockfiles' blob ids, the install command and the Node.js version,
# hashed; nothing when the tree has no lockfile (then every build installs).
dependencies_key() {
  local file blob locks=""
  for file in "${LOCKFILES[@]}"; do
    if blob="$(git --git-dir="${INSTALL_DIR}/repo.git" rev-parse -q --verify "${FRONTEND_TREE}:${file}" 2>/dev/null)"; then
      locks+="${file} ${blob}"$'\n'
    fi
  done
  [[ -n "${locks}" ]] || return 0
  printf '%s%s\n%s\n' "${locks}" "${INSTALL_COMMAND}" "$(node --version 2>/dev/null || true)" | sha256sum | cut -c1-24
}

# build_as_builder WORK COMMAND: COMMAND in WORK/src as the build user, writing only in WORK
# (npm's cache included: WORK goes when the build is done), its output appended to the build log.
build_as_builder() {
  # The build user's: the export, and node_modules borrowed from an earlier build (even one root made).
  find "$1" ! -user "${BUILD_USER}" -exec chown -h "${BUILD_USER}:" {} +
  as_builder "$1/src" "$1" --setenv=npm_config_cache="$1/.npm" --setenv=npm_config_update_notifier=false -- \
    /bin/bash -c "$2" </dev/null >>"$1/build.log" 2>&1
}

# fail WORK MESSAGE: show the build log's end, remove the work dir, stop.
fail() {
  tail -n 40 "$1/build.log" >&2
  rm -rf "$1"
  die "$2"
}

main() {
  require_vars INSTALL_DIR FRONTEND_TREE BUILD_KEY INSTALL_COMMAND BUILD_COMMAND BUILD_USER ENV_DIR
  local target="${INSTALL_DIR}/frontends/${BUILD_KEY}"
  already_built "${target}" "${target}/dist" && return 0
  begin_build "${INSTALL_DIR}/frontends" "the frontend ${FRONTEND_TREE}"
  local work="${INSTALL_DIR}/frontends/.build-${BUILD_KEY}" deps_root="${INSTALL_DIR}/frontends/.deps"
  rm -rf "${work}" "${target}"
  mkdir -p "${work}/src"
  git --git-dir="${INSTALL_DIR}/repo.git" archive --format=tar "${FRONTEND_TREE}" | tar -x -C "${work}/src"
  local key deps=""
  key="$(dependencies_key)"
  [[ -z "${key}" ]] || deps="${deps_root}/${key}"
  if [[ -n "${deps}" && -f "${deps}/.complete" ]]; then
    # Borrowed for the build (a rename): a build cut meanwhile leaves no complete copy behind.
    rm -f "${deps}/.complete"
    mv -T "${deps}/node_modules" "${work}/src/node_modules"
    log "building frontend ${FRONTEND_TREE}: ${BUILD_COMMAND} (node_modules reused: same lockfile and install command)"
  else
    log "building frontend ${FRONTEND_TREE}: ${INSTALL_COMMAND} && ${BUILD_COMMAND} (as ${BUILD_USER})"
    build_as_builder "${work}" "${INSTALL_COMMAND}" \
      || fail "${work}" "frontend install failed (last lines above); nothing was switched, the serving release is untouched"
  fi
  local built=yes
  build_as_builder "${work}" "${BUILD_COMMAND}" || built=no
  if [[ -n "${deps}" && -d "${work}/src/node_modules" ]]; then
    # Keep only this lockfile's node_modules: older builds keep their dist, not their install.
    find "${deps_root}" -mindepth 1 -maxdepth 1 ! -name "${key}" -exec rm -rf {} + 2>/dev/null || true
    mkdir -p "${deps}"
    mv -T "${work}/src/node_modules" "${deps}/node_modules"
    touch "${deps}/.complete"
  fi
  [[ "${built}" == yes ]] || fail "${work}" "frontend build failed (last lines above); nothing was switched, the serving release is untouched"
  [[ -f "${work}/src/dist/index.html" ]] || {
    rm -rf "${work}"
    die "the build command ran but wrote no dist/index.html; check app.frontendBuildCommand"
  }
  mkdir -p "${work}/out"
  mv "${work}/src/dist" "${work}/out/dist"
  # What the app serves is root's, read-only to everyone else.
  chown -R root:root "${work}/out"
  chmod -R go-w "${work}/out"
  touch "${work}/out/.complete"
  mv -T "${work}/out" "${target}"
  rm -rf "${work}"
  log "built ${target}/dist"
}

main "$@"
