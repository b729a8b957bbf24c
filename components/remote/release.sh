#!/bin/bash
# Export releases/<commit> from the mirror, link venv, dist and shared paths, byte-compile;
# the release appears under its final name only when whole.
set -euo pipefail
STEP="${STEP:-release}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/sandbox.sh
[[ -n "${AI4ARTSED_SANDBOX_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/sandbox.sh"
# shellcheck source=SCRIPTDIR/lib/build.sh
[[ -n "${AI4ARTSED_BUILD_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/build.sh"
# shellcheck source=SCRIPTDIR/lib/app-imports.sh
[[ -n "${AI4ARTSED_APP_IMPORTS_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/app-imports.sh"

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

# in_release_sandbox WORK DIR COMMAND...: COMMAND in DIR as the service user (lib/sandbox.sh), with
# the venv on PATH, a private writable /tmp as HOME, the unit's AI_TOOLS_BASE (the app looks for
# its tool dirs there at import) and everything else read-only; stdin is passed through.
in_release_sandbox() {
  local work="$1" dir="$2" extra=()
  shift 2
  [[ -z "${AI_TOOLS_BASE:-}" ]] || extra+=(--setenv=AI_TOOLS_BASE="${AI_TOOLS_BASE}")
  [[ -z "${APP_IMPORTS_KNOWN:-}" ]] || extra+=(--setenv=APP_IMPORTS_KNOWN="${APP_IMPORTS_KNOWN}")
  SANDBOX_SECONDS="${TEST_TIMEOUT_SECONDS:-600}" SANDBOX_PATH="${work}/venv/bin:/usr/local/bin:/usr/bin:/bin" \
    sandboxed "${SERVICE_USER}" "${dir}" --setenv=HOME=/tmp --setenv=TMPDIR=/tmp --setenv=VIRTUAL_ENV="${work}/venv" \
    --setenv=PYTHONDONTWRITEBYTECODE=1 "${extra[@]}" -- "$@"
}

# check_app_imports WORK: the modules the app's entry scripts (APP_ENTRIES) import, followed
# through its own modules, import from the venv. One the app imports at start that fails stops
# the deploy (the app would die at start); one imported lazily or in a try block is a warning.
# What imported once is recorded in the venv and not imported again by later releases.
check_app_imports() {
  local work="$1" known="${VENV_DIR}/.app-imports-ok" output entry entries=()
  while IFS= read -r entry; do
    [[ -n "${entry}" ]] && entries+=("${work}/${entry}")
  done <<<"${APP_ENTRIES}"
  local status=0
  output="$(APP_IMPORTS_KNOWN="$(tr "\n" " " 2>/dev/null <"${known}" || true)" \
    in_release_sandbox "${work}" "${work}" "${VENV_DIR}/bin/python" -I -B - "${entries[@]}" \
    < <(app_imports_program) 2>&1)" || status=$?
  local line imported=""
  while IFS= read -r line; do
    case "${line}" in
      "@@imported "*) imported="${line#@@imported }" ;;
      "optional "*) log "warning: release ${COMMIT}: the app imports ${line#optional } (lazily or in a try block, so not refused: it fails when the app reaches it)" ;;
    esac
  done <<<"${output}"
  if ((status != 0)); then
    rm -rf "${work}"
    die "the app imports at start what venv ${VENV_DIR##*/} cannot import (a missing requirement, a" \
      "missing Debian library, a broken wheel?); nothing was switched:"$'\n'"$(grep -v '^@@imported\|^optional ' <<<"${output}")"
  fi
  tr ' ' '\n' <<<"${imported}" | grep . | sort -u >"${known}.tmp" || true
  mv -f "${known}.tmp" "${known}"
  log "the app's imports load from venv ${VENV_DIR##*/} ($(grep -c . "${known}" || true) modules)"
}

# run_test_command WORK: app.testCommand in the release's sandbox. A failure removes the export
# (nothing switched, the next deploy tests again) and shows the last 40 lines.
run_test_command() {
  local work="$1"
  [[ -n "${TEST_COMMAND:-}" ]] || return 0
  local output
  output="$(mktemp)"
  log "testing ${COMMIT}: ${TEST_COMMAND}"
  if ! in_release_sandbox "${work}" "${work}" /bin/bash -c "${TEST_COMMAND}" </dev/null >"${output}" 2>&1; then
    rm -rf "${work}"
    die "app.testCommand failed for ${COMMIT} (or ran longer than ${TEST_TIMEOUT_SECONDS:-600}s), nothing was switched." \
      "Last lines of its output:"$'\n'"$(tail -n 40 "${output}")"
  fi
  rm -f "${output}"
  log "app.testCommand passed"
}

main() {
  require_vars INSTALL_DIR COMMIT VENV_DIR SERVICE_USER APP_ENTRIES
  local release="${INSTALL_DIR}/releases/${COMMIT}"
  already_built "${release}" "release ${COMMIT}" && return 0
  [[ -f "${VENV_DIR}/.complete" ]] || die "venv ${VENV_DIR} is not built; run the python-env step first"
  begin_build "${INSTALL_DIR}/releases" "release ${COMMIT}"
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
  # The backend's directory and each extra service's: where the app's entry scripts are.
  # No site (-S): the venv's .pth files are the registries' code, and this runs as root.
  local output dir
  while IFS= read -r entry; do
    [[ -n "${entry}" ]] || continue
    dir="$(dirname "${entry}")"
    if ! output="$("${VENV_DIR}/bin/python" -I -S -m compileall -q "${work}/${dir}" 2>&1)"; then
      rm -rf "${work}"
      die "byte-compiling ${dir} of ${COMMIT} failed, nothing was switched: ${output}"
    fi
  done <<<"${APP_ENTRIES}"
  chown -R -h root:root "${work}"
  chmod -R go-w "${work}"
  check_app_imports "${work}"
  run_test_command "${work}"
  touch "${work}/.complete"
  mv -T "${work}" "${release}"
  log "release ${COMMIT} ready"
}

main "$@"
