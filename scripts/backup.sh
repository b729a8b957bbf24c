#!/bin/bash
# List or restore a stack's pre-deploy backups on its server, or its off-host snapshots (restic):
# scripts/backup.sh list|restore <stack> [name|latest]; snapshots|restore-offsite <stack> [snapshot|latest] [path];
# repair-offsite <stack>
set -euo pipefail
shopt -s inherit_errexit
STEP="backup"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK_DIR=""

err() {
  printf '[%s] %s\n' "${STEP}" "$*" >&2
}

die() {
  err "$@"
  exit 1
}

usage() {
  echo "usage: scripts/backup.sh list <stack>" >&2
  echo "       scripts/backup.sh restore <stack> [<backup name>|latest]" >&2
  echo "       scripts/backup.sh snapshots <stack>" >&2
  echo "       scripts/backup.sh restore-offsite <stack> [<snapshot id>|latest] [<path below shared/>]" >&2
  echo "       scripts/backup.sh repair-offsite <stack>" >&2
  exit 2
}

cleanup() {
  [[ -n "${WORK_DIR}" ]] && rm -rf "${WORK_DIR}"
  return 0
}

# config KEY [DEFAULT]: a stack setting (as `pulumi config set --path` wrote it), or DEFAULT.
config() {
  local value
  if value="$(pulumi config get --path "$1" --stack "${STACK}" 2>/dev/null)"; then
    printf '%s\n' "${value}"
  elif (($# > 1)); then
    printf '%s\n' "$2"
  else
    die "stack ${STACK} has no setting $1; see README (Setting up a stack)"
  fi
}

output() {
  pulumi stack output "$1" --stack "${STACK}" 2>/dev/null \
    || die "stack ${STACK} has no output $1; run 'pulumi up -s ${STACK}' first"
}

# render ACTION BACKUP [PATH]: the remote script, rendered by the program's own renderer.
render() {
  local environment service_name release_path install_dir unit url repository
  environment="$(config environment "${STACK}")"
  service_name="$(config app.serviceName "ai4artsed-${environment}")"
  release_path="$(output releasePath)"
  install_dir="$(config app.installDir "$(dirname "$(dirname "${release_path}")")")"
  unit="$(output serviceName)"
  url="$(output url)"
  repository="$(config backup.offsite.repository "")"
  if [[ "$1" == *offsite || "$1" == snapshots ]] && [[ -z "${repository}" ]]; then
    die "stack ${STACK} has no off-host backup (backup.offsite.repository); see README: Off-host backups"
  fi
  (cd "${ROOT}" && node --import tsx scripts/backup-script.ts "$1" "$2" "${install_dir}" "${unit}" "${service_name}" "${url}" \
    "${STACK}" "${repository}" "${3:-}" "$(config app.healthTimeoutSeconds "")" "$(config app.drainTimeoutSeconds "")")
}

# run_remote SCRIPT: over SSH with the stack's key and pinned host key, as root.
run_remote() {
  local address port user host_key
  address="$(config server.address)"
  port="$(config server.port 22)"
  user="$(config server.user root)"
  # server.hostKey, else the key the stack recorded when it first connected (output serverHostKey).
  host_key="$(config server.hostKey "")"
  [[ -n "${host_key}" ]] || host_key="$(output serverHostKey)"
  [[ -n "${host_key}" ]] || die "stack ${STACK} pins no server.hostKey and has recorded none; run 'pulumi up' once, or pin it (README: Setting up a stack)"
  WORK_DIR="$(mktemp -d)"
  config server.privateKey >"${WORK_DIR}/key"
  chmod 600 "${WORK_DIR}/key"
  if [[ "${port}" == 22 ]]; then
    printf '%s %s\n' "${address}" "${host_key}" >"${WORK_DIR}/known_hosts"
  else
    printf '[%s]:%s %s\n' "${address}" "${port}" "${host_key}" >"${WORK_DIR}/known_hosts"
  fi
  local -a remote=(bash -s)
  [[ "${user}" == root ]] || remote=(sudo -n bash -s)
  ssh -i "${WORK_DIR}/key" -p "${port}" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="${WORK_DIR}/known_hosts" "${user}@${address}" "${remote[@]}" <<<"$1"
}

main() {
  (($# >= 2)) || usage
  local action="$1"
  STACK="$2"
  case "${action}" in
    list | snapshots | repair-offsite) (($# == 2)) || usage ;;
    restore) (($# <= 3)) || usage ;;
    restore-offsite) (($# <= 4)) || usage ;;
    *) usage ;;
  esac
  command -v pulumi >/dev/null || die "pulumi is not on PATH"
  [[ -d "${ROOT}/node_modules" ]] || die "the program's npm packages are missing; run 'npm ci' in ${ROOT} first"
  trap cleanup EXIT
  local script
  script="$(render "${action}" "${3:-latest}" "${4:-}")"
  run_remote "${script}"
}

main "$@"
