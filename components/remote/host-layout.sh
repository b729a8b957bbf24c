#!/bin/bash
# Create the service user and the environment's directory layout, and record which layout this
# is and what the stack deployed with; safe to run again.
set -euo pipefail
STEP="${STEP:-host/layout}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ensure_user USER HOME: a system user with a group of its own, no login.
ensure_user() {
  if ! id -u "$1" >/dev/null 2>&1; then
    log "creating system user $1"
    useradd --system --user-group --home-dir "$2" --no-create-home --shell /usr/sbin/nologin "$1"
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

# ensure_writable_path GROUP DIR: a directory outside INSTALL_DIR the service writes (its unit's
# ReadWritePaths=). A missing one is made for the service user; parents made on the way stay
# root's. An existing one keeps its owner (a tool installed by hand may own it): the service only
# gets a warning when it cannot write there (docs/settings.md: "Directories outside the install dir").
ensure_writable_path() {
  local group="$1" dir="$2"
  if [[ ! -d "${dir}" ]]; then
    mkdir -p "$(dirname "${dir}")"
    mkdir -m 750 "${dir}"
    chown "${SERVICE_USER}:${group}" "${dir}"
    log "created ${dir} for ${SERVICE_USER}"
  elif ! runuser -u "${SERVICE_USER}" -- test -w "${dir}" -a -x "${dir}"; then
    err "warning: ${SERVICE_USER} cannot write ${dir} ($(stat -c '%U:%G %a' "${dir}")); the app fails where it writes there." \
      "Give it group access (docs/settings.md: Directories outside the install dir) or drop the path from app.writablePaths"
  fi
}

main() {
  require_vars INSTALL_DIR SERVICE_USER BUILD_USER ENV_DIR LAYOUT_ID IDENTITY_RECORD IDENTITY
  take_host_lock
  ensure_user "${SERVICE_USER}" "${INSTALL_DIR}/shared"
  # Every build runs as this one (host-wide): code from the package registries never runs as root.
  ensure_user "${BUILD_USER}" /nonexistent
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
  local path
  while IFS= read -r path; do
    [[ -n "${path}" ]] && ensure_writable_path "${group}" "${path}"
  done <<<"${WRITABLE_PATHS:-}"
  touch "${INSTALL_DIR}/revisions.log"
  printf '%s\n' "${LAYOUT_ID}" | install_if_changed 644 root:root "${INSTALL_DIR}/.layout-id" || true
  printf '%s' "${IDENTITY}" | install_if_changed 644 root:root "${IDENTITY_RECORD}" || true
  log "layout ready in ${INSTALL_DIR} for ${SERVICE_USER}"
}

main "$@"
