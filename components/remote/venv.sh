#!/bin/bash
# Build venvs/<requirements blob> once; a venv whose build was cut is rebuilt, a finished one reused.
set -euo pipefail
STEP="${STEP:-python-env}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars INSTALL_DIR REQUIREMENTS_BLOB PYTHON
  local venv="${INSTALL_DIR}/venvs/${REQUIREMENTS_BLOB}"
  if [[ -f "${venv}/.complete" ]]; then
    log "reusing ${venv}"
    return 0
  fi
  take_host_lock
  # A venv records its absolute path, so it is built in place; the marker says it is whole.
  rm -rf "${venv}"
  # Downloads and unpacked wheels go to disk beside the venvs, never to /tmp: a tmpfs there
  # (Debian 13) is a fraction of RAM, too small for PyTorch's wheels. Builds cut short leave
  # theirs behind; the host lock says none is running.
  local work_tmp="${INSTALL_DIR}/venvs/.tmp-${REQUIREMENTS_BLOB}"
  rm -rf "${INSTALL_DIR}"/venvs/.tmp-*
  mkdir -m 700 "${work_tmp}"
  export TMPDIR="${work_tmp}"
  log "building ${venv}"
  "${PYTHON}" -m venv "${venv}"
  git --git-dir="${INSTALL_DIR}/repo.git" cat-file blob "${REQUIREMENTS_BLOB}" >"${venv}/requirements.txt"
  if ! "${venv}/bin/pip" install --quiet --disable-pip-version-check --no-input \
    -r "${venv}/requirements.txt"; then
    rm -rf "${venv}" "${work_tmp}"
    die "pip install failed for requirements ${REQUIREMENTS_BLOB}; the serving release keeps its own venv"
  fi
  rm -rf "${work_tmp}"
  touch "${venv}/.complete"
  log "built ${venv}"
}

main "$@"
