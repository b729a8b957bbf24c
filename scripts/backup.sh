#!/bin/bash
# List or restore a stack's pre-deploy backups on its server, or its off-host snapshots (restic),
# from the checkout that deploys the stack (scripts/backup.ts does the work):
#   scripts/backup.sh list|restore <stack> [name|latest]
#   scripts/backup.sh snapshots|restore-offsite <stack> [snapshot|latest] [path below shared/]
#   scripts/backup.sh repair-offsite <stack>
set -euo pipefail
STEP="backup"
# shellcheck source=scripts/lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"

ensure_node_modules
node --import tsx "${SETUP_ROOT}/scripts/backup.ts" "$@"
