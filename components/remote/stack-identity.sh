#!/bin/bash
# Before anything else at program time: print the server's record of what this stack last
# deployed with when it differs from the config (its identity lines; the port is a claim only),
# and each line of CLAIMS that another stack's record holds too (its install dir, unit name or
# port), then fail; the program names each setting. Reads only.
set -euo pipefail
STEP="${STEP:-stack-identity}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars IDENTITY_RECORD IDENTITY CLAIMS
  local recorded status=0 other claim
  if [[ -f "${IDENTITY_RECORD}" ]]; then
    recorded="$(grep -v '^app\.port=' "${IDENTITY_RECORD}" || true)"
    if [[ "${recorded}" != "${IDENTITY%$'\n'}" ]]; then
      printf '@@ identity\n%s\n' "${recorded}"
      status=3
    fi
  fi
  local claimed=""
  for other in "$(dirname "${IDENTITY_RECORD}")"/*.stack; do
    [[ -f "${other}" && "${other}" != "${IDENTITY_RECORD}" ]] || continue
    while IFS= read -r claim; do
      [[ -n "${claim}" ]] && grep -qxF -- "${claim}" "${other}" && claimed+="$(basename "${other}" .stack) ${claim}"$'\n'
    done <<<"${CLAIMS}"
  done
  if [[ -n "${claimed}" ]]; then
    printf '@@ claimed\n%s' "${claimed}"
    status=3
  fi
  exit "${status}"
}

main "$@"
