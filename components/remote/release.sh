#!/bin/bash
# Export releases/<commit> from the mirror, link venv, dist and shared paths, byte-compile;
# the release appears under its final name only when whole.
set -euo pipefail
STEP="${STEP:-release}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# link_shared_path RELEASE PATH: replace PATH in the release by a link into shared/.
# A trailing slash marks a directory. The first time, shared/ is seeded from the release. A file
# the app has not written yet is linked all the same: the app creates it through the link, in a
# directory of shared/ that the service user owns.
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
    fi
    chown -R "${SERVICE_USER}:${group}" "$(dirname "${shared}")"
  fi
  rm -rf "${release:?}/${path}"
  mkdir -p "$(dirname "${release}/${path}")"
  ln -s "${shared}" "${release}/${path}"
}

# run_test_command WORK: app.testCommand in the release, as the service user, with the venv on
# PATH, a private writable /tmp as HOME, the unit's AI_TOOLS_BASE (the app looks for its tool
# dirs there at import) and everything else read-only. A failure removes the
# export (nothing switched, the next deploy tests again) and shows the last 40 lines.
run_test_command() {
  local work="$1"
  [[ -n "${TEST_COMMAND:-}" ]] || return 0
  local output
  output="$(mktemp)"
  log "testing ${COMMIT}: ${TEST_COMMAND}"
  if ! systemd-run --quiet --wait --pipe --collect --uid="${SERVICE_USER}" --gid="$(id -gn "${SERVICE_USER}")" \
    --working-directory="${work}" --setenv=HOME=/tmp --setenv=TMPDIR=/tmp --setenv=VIRTUAL_ENV="${work}/venv" \
    ${AI_TOOLS_BASE:+--setenv=AI_TOOLS_BASE="${AI_TOOLS_BASE}"} \
    --setenv=PATH="${work}/venv/bin:/usr/local/bin:/usr/bin:/bin" --setenv=PYTHONDONTWRITEBYTECODE=1 \
    --property=ProtectSystem=strict --property=ProtectHome=yes --property=PrivateTmp=yes \
    --property=NoNewPrivileges=yes --property=RuntimeMaxSec="${TEST_TIMEOUT_SECONDS:-600}" \
    /bin/bash -c "${TEST_COMMAND}" </dev/null >"${output}" 2>&1; then
    rm -rf "${work}"
    die "app.testCommand failed for ${COMMIT} (or ran longer than ${TEST_TIMEOUT_SECONDS:-600}s), nothing was switched." \
      "Last lines of its output:"$'\n'"$(tail -n 40 "${output}")"
  fi
  rm -f "${output}"
  log "app.testCommand passed"
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
  run_test_command "${work}"
  touch "${work}/.complete"
  mv -T "${work}" "${release}"
  log "release ${COMMIT} ready"
}

main "$@"
