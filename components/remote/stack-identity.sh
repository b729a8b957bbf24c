#!/bin/bash
# Before anything else at program time: print the records of the stacks deployed on this server
# (ENV_DIR/<stack>.stack, written by host-layout), this stack's and every other's, one
# "@@ stack:<name>" section each. The program compares them with the config (stackIdentity.ts)
# before it sends anything that changes the server. Reads only.
set -euo pipefail
STEP="${STEP:-stack-identity}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  require_vars RECORDS_DIR
  local record
  for record in "${RECORDS_DIR}"/*.stack; do
    [[ -f "${record}" ]] || continue
    printf '@@ stack:%s\n' "$(basename "${record}" .stack)"
    cat "${record}"
  done
}

main "$@"
