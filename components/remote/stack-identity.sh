#!/bin/bash
# Before anything else at program time: print the server's record of what this stack last
# deployed with, and fail when it differs from the config (the program names each setting).
# Reads only.
set -euo pipefail
STEP="${STEP:-stack-identity}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars IDENTITY_RECORD IDENTITY
  [[ -f "${IDENTITY_RECORD}" ]] || return 0
  local recorded
  recorded="$(cat "${IDENTITY_RECORD}")"
  [[ "${recorded}" == "${IDENTITY%$'\n'}" ]] && return 0
  printf '@@ identity\n%s\n' "${recorded}"
  exit 3
}

main "$@"
