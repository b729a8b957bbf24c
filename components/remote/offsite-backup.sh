#!/bin/bash
# Back up all of shared/ to the stack's off-host restic repository (run by its systemd timer), then
# forget and prune by the retention, and read back a subset of the data when a check is due.
# Writes its result to OFFSITE_STATE_FILE; the health monitor alerts on a failure or a stale result.
set -euo pipefail
STEP="${STEP:-offsite-backup}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/state.sh
[[ -n "${AI4ARTSED_STATE_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/state.sh"
# shellcheck source=SCRIPTDIR/lib/restic.sh
[[ -n "${AI4ARTSED_RESTIC_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/restic.sh"

WORK_DIR=""
RECORDED=""
REPOSITORY_ID=""

# fail MESSAGE: record the failure for the health monitor, and stop.
fail() {
  set_state "${OFFSITE_STATE_FILE}" last_result=failed "last_attempt=$(date +%s)" "last_message=$1"
  RECORDED=yes
  die "$1"
}

# explain WHAT OUTPUT: one line saying what went wrong, in the words of the setting that fixes it.
explain() {
  local what="$1" output="$2" detail
  detail="$(grep -v -e '^[[:space:]]*$' <<<"${output}" | tail -n 3 | tr '\n' ' ' | sed 's/ *$//')"
  case "${output}" in
    *"wrong password"*)
      printf '%s failed: restic cannot open %s with backup.offsite.password (wrong password or no key found); set the password the repository was made with (pulumi config set --path --secret backup.offsite.password ...) and run pulumi up' "${what}" "${REPOSITORY}"
      ;;
    *"Host key verification failed"* | *"REMOTE HOST IDENTIFICATION HAS CHANGED"*)
      printf "%s failed: the backup server's SSH host key is not backup.offsite.hostKey; check it on that server's console and pin it again: %s" "${what}" "${detail}"
      ;;
    *"Permission denied"*)
      printf '%s failed: the backup server refused the key backup.offsite.sshKey for %s; add its public key to that account (docs/runbook.md: The backup server): %s' "${what}" "${SFTP_LOGIN:-the account}" "${detail}"
      ;;
    *"write /"*"no space left on device"*)
      printf "%s failed: this server's disk is full (restic writes its temporary files to /var/tmp): %s; make room here (journalctl --vacuum-size, a lower app.keepReleases), then run systemctl start %s" "${what}" "${detail}" "${OFFSITE_UNIT}.service"
      ;;
    *"no space left on device"* | *"No space left on device"* | *"disk quota exceeded"* | *"SSH_FX_FAILURE"* | *'sftp: "Failure"'*)
      printf "%s failed: the backup server's disk is full (or refused the write): %s; make room there (docs/runbook.md: When a backup fails), then run systemctl start %s" "${what}" "${detail}" "${OFFSITE_UNIT}.service"
      ;;
    *"repository contains errors"* | *"blobs are missing"* | *"number of used blobs is larger"* | *"pack file cannot be listed"* | *"is damaged"* | *"not found in index"*)
      printf '%s failed: the repository %s is damaged: %s; repair it (docs/runbook.md: When a backup fails): scripts/backup.sh repair-offsite %s' "${what}" "${REPOSITORY}" "${detail}" "${STACK}"
      ;;
    *"kex_exchange_identification"* | *"Connection reset"*)
      printf "%s failed: the backup server's sshd dropped the connection before the login: after failed logins it refuses a source for a while (OpenSSH's PerSourcePenalties), or it is overloaded (MaxStartups); the next run tries again: %s" "${what}" "${detail}"
      ;;
    *"ssh: connect to host"* | *"Connection timed out"* | *"Connection refused"* | *"No route to host"* | *"Could not resolve"* | *"unable to start the sftp session"* | *"Connection closed"*)
      printf '%s failed: cannot reach the repository %s: %s' "${what}" "${REPOSITORY}" "${detail}"
      ;;
    *) printf '%s failed: %s' "${what}" "${detail}" ;;
  esac
}

# failure_output: restic's stderr of the failed command, and ssh's own words when the sftp
# session did not start.
failure_output() {
  {
    cat "${WORK_DIR}/err"
    # Only when restic's relay of ssh's words lacks the cause: each failed login counts against
    # this server in the backup server's sshd (PerSourcePenalties).
    if [[ -n "${SFTP_LOGIN:-}" ]] && grep -q 'unable to start the sftp session' "${WORK_DIR}/err" \
      && ! grep -q -e 'Permission denied' -e 'Host key verification failed' -e 'Connection refused' -e 'Connection timed out' \
        -e 'No route to host' -e 'kex_exchange_identification' "${WORK_DIR}/err"; then
      sftp_diagnosis
    fi
  } | tr -d '\r'
}

# run_restic WHAT ARGS...: restic with its stdout in WORK_DIR/out; on failure, fail with what went wrong.
run_restic() {
  local what="$1"
  shift
  if ! offsite_restic "$@" >"${WORK_DIR}/out" 2>"${WORK_DIR}/err"; then
    fail "$(explain "${what}" "$(failure_output)")"
  fi
}

# new_history_procedure: how an operator starts a new history on purpose (the state keeps the old lineage).
new_history_procedure() {
  printf "to start a new, empty history there on purpose, run on this server: sed -i '/^lineage=/d' %s && systemctl start %s" \
    "${OFFSITE_STATE_FILE}" "${OFFSITE_UNIT}.service"
}

# open_repository: REPOSITORY_ID of the repository. One that does not exist yet is made (restic
# init) only for a server that never backed up to one nor restored from one: a repository that
# is gone from under a recorded history (a wiped backup disk, a moved path) is never replaced
# by a new, empty one without a word.
open_repository() {
  local status=0 lineage
  lineage="$(state_value "${OFFSITE_STATE_FILE}" lineage)"
  offsite_restic cat config >"${WORK_DIR}/out" 2>"${WORK_DIR}/err" || status=$?
  # restic 0.17+ exits 10 for a missing repository; older ones say so.
  if ((status == 10)) || { ((status != 0)) && grep -q 'Is there a repository at the following location' "${WORK_DIR}/err"; }; then
    [[ -z "${lineage}" ]] || fail "the repository ${REPOSITORY} (id ${lineage}), which this server's backups are in, is gone (a wiped backup disk, a moved path?); nothing was backed up and nothing was made there. Bring it back, or point backup.offsite.repository where it went; $(new_history_procedure)"
    run_restic "making the repository ${REPOSITORY}" init
    log "made the repository ${REPOSITORY}"
    offsite_restic cat config >"${WORK_DIR}/out" 2>"${WORK_DIR}/err" || status=$?
  elif ((status != 0)); then
    fail "$(explain "opening the repository" "$(failure_output)")"
  fi
  REPOSITORY_ID="$(repository_id_in "${WORK_DIR}/out")"
  [[ -n "${REPOSITORY_ID}" ]] || fail "opening the repository ${REPOSITORY} failed: restic printed no repository id"
}

# check_lineage REPOSITORY_ID: a server that never backed up to this repository nor restored from it
# (a new machine) must not add its own, maybe empty, shared/ as the newest snapshot; and a
# repository that is not the one this server's history is in (replaced by another) is refused.
check_lineage() {
  local lineage
  lineage="$(state_value "${OFFSITE_STATE_FILE}" lineage)"
  [[ "${lineage}" == "$1" ]] && return 0
  [[ -z "${lineage}" ]] || fail "the repository at ${REPOSITORY} is id $1, not ${lineage}, which this server's backups are in: it was replaced or moved; nothing was backed up. Point backup.offsite.repository at the repository ${lineage}, or $(new_history_procedure)"
  run_restic "listing the snapshots" snapshots --json
  local others
  others="$(grep -o '"stack:[^"]*"' "${WORK_DIR}/out" | tr -d '"' | sed 's/^stack://' | grep -vxF "${STACK}" | LC_ALL=C sort -u | paste -sd, - || true)"
  # One repository a stack: its retention, its restores and its lineage are the stack's alone.
  [[ -z "${others}" ]] || fail "the repository ${REPOSITORY} already holds the backups of stack ${others}; nothing was backed up. Each stack needs a repository of its own: set backup.offsite.repository of ${STACK} to another path (docs/runbook.md: The backup server makes one per stack) and run pulumi up"
  if grep -q "\"stack:${STACK}\"" "${WORK_DIR}/out"; then
    fail "the repository ${REPOSITORY} holds snapshots of ${STACK}, but this server never backed up to it nor restored from it (a new or re-imaged server?): restore first (scripts/backup.sh restore-offsite ${STACK} latest); to keep this server's shared/ as the newest snapshot instead, run on the server: echo lineage=$1 >>${OFFSITE_STATE_FILE}"
  fi
}

# write_owners: the names of the owners and groups in shared/, backed up beside it, so a restore
# gives files to the same names on a machine whose ids differ.
write_owners() {
  mkdir -p "$(dirname "${OWNERS_FILE}")"
  find "${INSTALL_DIR}/shared" -printf 'u %U %u\ng %G %g\n' | LC_ALL=C sort -u >"${OWNERS_FILE}.tmp"
  mv -f "${OWNERS_FILE}.tmp" "${OWNERS_FILE}"
}

# summary_field NAME: a number from restic's JSON summary of the backup.
summary_field() {
  grep '"message_type":"summary"' "${WORK_DIR}/out" | tail -n 1 | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"
}

# remove_stale_locks: a run killed midway (a reboot, the OOM killer, a stopped unit) leaves its
# lock in the repository, and the next prune would refuse to start. restic's unlock removes only
# stale locks: of a process gone from this host, or not refreshed for 30 minutes.
remove_stale_locks() {
  run_restic "removing stale locks" unlock
  local removed
  removed="$(sed -n 's/.*removed \([0-9][0-9]*\) \(stale \)\{0,1\}locks\{0,1\}.*/\1/p' "${WORK_DIR}/out" "${WORK_DIR}/err" | head -n 1)"
  [[ -z "${removed}" || "${removed}" == 0 ]] || log "removed ${removed} stale lock(s) of an earlier run that did not finish"
}

check_if_due() {
  local last now
  last="$(state_value "${OFFSITE_STATE_FILE}" last_check)"
  now="$(date +%s)"
  if [[ -n "${last}" ]] && ((now - last < CHECK_EVERY_DAYS * 86400)); then
    return 0
  fi
  run_restic "checking the repository (a ${CHECK_SUBSET} subset of the data)" check --read-data-subset="${CHECK_SUBSET}"
  set_state "${OFFSITE_STATE_FILE}" "last_check=${now}"
  log "checked the repository, reading back ${CHECK_SUBSET} of its data"
}

on_exit() {
  local status=$?
  [[ -z "${WORK_DIR}" ]] || rm -rf "${WORK_DIR}"
  if [[ -z "${RECORDED}" ]]; then
    set_state "${OFFSITE_STATE_FILE}" last_result=failed "last_attempt=$(date +%s)" "last_message=the backup stopped unexpectedly (exit ${status}); see journalctl -u ${OFFSITE_UNIT}"
  fi
}

main() {
  require_vars STACK OFFSITE_UNIT INSTALL_DIR REPOSITORY PASSWORD_FILE OFFSITE_STATE_FILE OWNERS_FILE KEEP_WITHIN_DAYS KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY CHECK_SUBSET CHECK_EVERY_DAYS
  trap on_exit EXIT
  WORK_DIR="$(mktemp -d)"
  local started commit host
  started="$(date +%s)"
  [[ -d "${INSTALL_DIR}/shared" ]] || fail "${INSTALL_DIR}/shared does not exist; run 'pulumi up' first"
  # A restore of shared/ that is running finishes first; this backup then takes what it left.
  hold_shared_lock || fail "a restore of ${INSTALL_DIR}/shared has run for more than an hour; nothing was backed up (the next run tries again)"
  open_repository
  check_lineage "${REPOSITORY_ID}"
  remove_stale_locks
  write_owners
  commit="$(basename "$(readlink "${INSTALL_DIR}/current" || echo none)")"
  host="$(hostname)"
  run_restic "backing up ${INSTALL_DIR}/shared" backup --json --quiet --host "${host}" \
    --tag "stack:${STACK}" --tag "commit:${commit}" --tag "host:${host}" "${INSTALL_DIR}/shared" "${OWNERS_FILE}"
  local snapshot added total files
  snapshot="$(grep '"message_type":"summary"' "${WORK_DIR}/out" | sed -n 's/.*"snapshot_id":"\([0-9a-f]*\)".*/\1/p' | tail -n 1)"
  added="$(summary_field data_added)"
  total="$(summary_field total_bytes_processed)"
  files="$(summary_field total_files_processed)"
  local seconds=$(($(date +%s) - started))
  log "snapshot ${snapshot:0:8} of ${INSTALL_DIR}/shared at commit ${commit:0:12}: ${files} files, ${total} bytes, ${added} bytes added to the repository, ${seconds}s"
  retention_options
  run_restic "forgetting old snapshots" forget --quiet "${RETENTION[@]}" --prune
  check_if_due
  set_state "${OFFSITE_STATE_FILE}" last_result=ok "last_attempt=${started}" "last_success=${started}" "last_snapshot=${snapshot}" \
    "last_added_bytes=${added}" "last_total_bytes=${total}" "last_files=${files}" "last_seconds=${seconds}" "lineage=${REPOSITORY_ID}" \
    "last_message=snapshot ${snapshot:0:8}: ${files} files, ${total} bytes, ${added} bytes added"
  RECORDED=yes
}

main "$@"
