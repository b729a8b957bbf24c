#!/bin/bash
# Create the service user and the environment's directory layout, and record which layout this
# is and what the stack deployed with; safe to run again.
set -euo pipefail
STEP="${STEP:-host/layout}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_user() {
  if ! id -u "${SERVICE_USER}" >/dev/null 2>&1; then
    log "creating system user ${SERVICE_USER}"
    useradd --system --user-group --home-dir "${INSTALL_DIR}/shared" --no-create-home \
      --shell /usr/sbin/nologin "${SERVICE_USER}"
  fi
}

# ensure_dir MODE OWNER DIR
ensure_dir() {
  local mode="$1" owner="$2" dir="$3"
  [[ -d "${dir}" ]] || mkdir -p "${dir}"
  [[ "$(stat -c '%a %U:%G' "${dir}")" == "${mode} ${owner}" ]] || {
    chmod "${mode}" "${dir}"
    chown "${owner}" "${dir}"
  }
}

main() {
  require_vars INSTALL_DIR SERVICE_USER ENV_DIR LAYOUT_ID IDENTITY_RECORD IDENTITY
  take_host_lock
  ensure_user
  local group
  group="$(id -gn "${SERVICE_USER}")"
  # Code is root-owned and read-only to the service; it writes only below shared/.
  ensure_dir 755 root:root "${INSTALL_DIR}"
  ensure_dir 755 root:root "${INSTALL_DIR}/releases"
  ensure_dir 755 root:root "${INSTALL_DIR}/venvs"
  ensure_dir 755 root:root "${INSTALL_DIR}/frontends"
  ensure_dir 700 root:root "${INSTALL_DIR}/backups"
  ensure_dir 750 "${SERVICE_USER}:${group}" "${INSTALL_DIR}/shared"
  ensure_dir 750 "${SERVICE_USER}:${group}" "${INSTALL_DIR}/shared/exports"
  ensure_dir 755 root:root "${ENV_DIR}"
  touch "${INSTALL_DIR}/revisions.log"
  printf '%s\n' "${LAYOUT_ID}" | install_if_changed 644 root:root "${INSTALL_DIR}/.layout-id" || true
  printf '%s' "${IDENTITY}" | install_if_changed 644 root:root "${IDENTITY_RECORD}" || true
  log "layout ready in ${INSTALL_DIR} for ${SERVICE_USER}"
}

main "$@"
