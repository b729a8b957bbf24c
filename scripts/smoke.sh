#!/bin/bash
# The after-deploy check of a stack: npm run smoke -- -s <stack> [--screenshot FILE] (scripts/smoke.ts).
set -euo pipefail
STEP="smoke"
# shellcheck source=scripts/lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"

ensure_node_modules
ensure_browser
pulumi_on_path
node --import tsx "${SETUP_ROOT}/scripts/smoke.ts" "$@"
