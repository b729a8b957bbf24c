#!/bin/bash
# The main job on a fresh machine: boot the local Debian test server, publish the fixture app
# to it, and run a real `pulumi up` of the development settings against it (stack `local`).
set -euo pipefail
STEP="up-local"
# shellcheck source=scripts/lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"

main() {
  require_root "the local test server"
  ensure_system_packages
  ensure_node_modules
  pulumi_on_path
  cd "${SETUP_ROOT}"
  node --import tsx scripts/up-local.ts "$@"
}

main "$@"
