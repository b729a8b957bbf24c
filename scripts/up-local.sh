#!/bin/bash
# The main job on a fresh machine: boot the local Debian test server, publish the fixture app
# to it, and run a real `pulumi up` of the development settings against it (stack `local`).
set -euo pipefail
STEP="up-local"
# shellcheck source=scripts/lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"

run_with_pulumi "the local test server" scripts/up-local.ts "$@"
