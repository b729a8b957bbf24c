#!/bin/bash
# restic against a stack's off-host repository; inlined into the backup, the restore and their checks.
# Credentials come from root-owned 0600 files (in the backup unit: its systemd credentials), never
# from a command line or the environment of this shell.

export AI4ARTSED_RESTIC_LIB=1

# credential_file NAME FILE: the unit's systemd credential NAME when running in the unit, else FILE.
credential_file() {
  if [[ -n "${CREDENTIALS_DIRECTORY:-}" ]]; then
    printf '%s/%s' "${CREDENTIALS_DIRECTORY}" "$1"
  else
    printf '%s' "$2"
  fi
}

# sftp_command: the ssh command line restic runs for an sftp repository: SFTP_LOGIN (port
# SFTP_PORT) with SSH_KEY_FILE and the pinned KNOWN_HOSTS_FILE, nothing from ssh's own config.
sftp_command() {
  printf 'ssh -F none -i %s -p %s -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=%s -o ServerAliveInterval=30 -o ServerAliveCountMax=4 %s -s sftp' \
    "$(credential_file ssh-key "${SSH_KEY_FILE}")" "${SFTP_PORT}" "$(credential_file known-hosts "${KNOWN_HOSTS_FILE}")" \
    "${CONNECT_TIMEOUT_SECONDS:-20}" "${SFTP_LOGIN}"
}

# sftp_diagnosis: what ssh itself says when it opens the sftp session. restic relays ssh's
# messages as they come and may stop before the line that names the cause (a changed host key,
# a refused key), so a failed session is opened once more to read them all.
sftp_diagnosis() {
  local -a command
  read -r -a command <<<"$(sftp_command)"
  timeout 60 "${command[@]}" </dev/null 2>&1 >/dev/null | tr -d '\r' | grep -v -e '^@' -e '^[[:space:]]*$' | tail -n 5 || true
}

# offsite_restic ARGS...: restic on REPOSITORY with PASSWORD_FILE; sftp logs in as SFTP_LOGIN
# (port SFTP_PORT) with SSH_KEY_FILE and the pinned KNOWN_HOSTS_FILE; other backends read
# their credentials from CREDENTIALS_FILE (NAME="value" lines) when there is one.
offsite_restic() {
  local password_path backend_path
  password_path="$(credential_file restic-password "${PASSWORD_FILE}")"
  [[ -r "${password_path}" ]] || die "the repository password file ${password_path} is missing; run 'pulumi up' (backup.offsite.password)"
  local -a options=()
  [[ -z "${SFTP_LOGIN:-}" ]] || options+=(-o "sftp.command=$(sftp_command)")
  backend_path="$(credential_file backend-credentials "${CREDENTIALS_FILE:-}")"
  (
    if [[ -n "${backend_path}" && -r "${backend_path}" ]]; then
      set -a
      # shellcheck source=/dev/null
      source "${backend_path}"
      set +a
    fi
    # Its temporary pack files go to disk: /tmp is a small tmpfs on Debian 13, and a big new file
    # (a recording) would fill it.
    RESTIC_REPOSITORY="${REPOSITORY}" RESTIC_PASSWORD_FILE="${password_path}" RESTIC_CACHE_DIR="${RESTIC_CACHE_DIR:-/var/cache/ai4artsed-restic}" \
      TMPDIR=/var/tmp exec restic "${options[@]}" "$@"
  )
}

# RETENTION: `restic forget`'s options for this stack's retention. All of the stack's snapshots are
# one history (--group-by ''), whatever host or paths made them: after a recovery onto a machine
# with another hostname, the old host's snapshots age out like the rest. Every snapshot of the
# last KEEP_WITHIN_DAYS days is kept, so a manual run never makes the day's earlier snapshot (the
# one from before an accidental deletion) subject to forgetting; then the newest of each of
# KEEP_DAILY days, KEEP_WEEKLY weeks and KEEP_MONTHLY months.
retention_options() {
  # shellcheck disable=SC2034  # read by the script this file is inlined into
  RETENTION=(--tag "stack:${STACK}" --group-by "" --keep-within "${KEEP_WITHIN_DAYS}d"
    --keep-daily "${KEEP_DAILY}" --keep-weekly "${KEEP_WEEKLY}" --keep-monthly "${KEEP_MONTHLY}")
}

# repository_id_in FILE: the repository id from `restic cat config` output saved in FILE.
repository_id_in() {
  sed -n 's/^ *"id": *"\([0-9a-f]*\)".*/\1/p' "$1"
}
