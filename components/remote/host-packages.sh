#!/bin/bash
# Install the Debian packages a deploy needs, and uv (pinned, from PyPI) in a venv of its own;
# does nothing when all are present.
set -euo pipefail
STEP="${STEP:-host/packages}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/packages.sh
[[ -n "${AI4ARTSED_PACKAGES_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/packages.sh"

ensure_debian_packages() {
  local -a wanted
  read -r -a wanted <<<"${PACKAGES}"
  install_packages "${wanted[@]}"
}

# ensure_uv: UV_DIR is a venv holding uv==UV_VERSION from PyPI (a wheel: the binary is inside).
# A build that was cut leaves no working uv of that version, so the next run builds again.
ensure_uv() {
  if [[ "$("${UV_DIR}/bin/uv" --version 2>/dev/null || true)" == "uv ${UV_VERSION}"* ]]; then
    log "uv ${UV_VERSION} present"
    return 0
  fi
  take_host_lock
  local scratch="${UV_DIR}.tmp"
  rm -rf "${UV_DIR}" "${scratch}"
  mkdir -p "${scratch}"
  log "installing uv ${UV_VERSION} into ${UV_DIR}"
  python3 -m venv "${UV_DIR}"
  # Temporary files on disk, not in /tmp (often a small tmpfs).
  if ! TMPDIR="${scratch}" "${UV_DIR}/bin/pip" install --quiet --disable-pip-version-check --no-input \
    --only-binary=:all: "uv==${UV_VERSION}"; then
    rm -rf "${UV_DIR}" "${scratch}"
    die "installing uv ${UV_VERSION} from PyPI failed; nothing was changed"
  fi
  rm -rf "${scratch}"
  "${UV_DIR}/bin/uv" --version
}

main() {
  require_vars PACKAGES UV_VERSION UV_DIR
  ensure_debian_packages
  ensure_uv
}

main "$@"
