#!/bin/bash
# Remove the code this stack deployed (releases, venvs, builds, mirror); keep shared/ and
# backups/ (pupils' exports, keys, settings): a destroy never deletes what users keep.
set -euo pipefail
STEP="${STEP:-host/remove}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars INSTALL_DIR
  # The fetch cache resolve.sh keeps beside a hand-made checkout that was never adopted.
  rm -rf "${INSTALL_DIR:?}.mirror.git"
  # The stack is gone from this server: its settings may differ on the next deploy.
  [[ -z "${IDENTITY_RECORD:-}" ]] || rm -f "${IDENTITY_RECORD}"
  [[ -d "${INSTALL_DIR}" ]] || return 0
  take_host_lock
  rm -rf "${INSTALL_DIR:?}/releases" "${INSTALL_DIR:?}/venvs" "${INSTALL_DIR:?}/frontends" \
    "${INSTALL_DIR:?}/repo.git" "${INSTALL_DIR:?}/current" "${INSTALL_DIR:?}/activation" "${INSTALL_DIR:?}/services" "${INSTALL_DIR:?}/.deployed" "${INSTALL_DIR:?}/.layout-id"
  log "removed code from ${INSTALL_DIR}; kept shared/, backups/ and revisions.log"
}

main "$@"
