#!/bin/bash
# observe.sh's sections for the off-host backup; inlined into observe.sh, which defines the helpers.

# observe_offsite_backup: the timer's state, the plain files, the credential files as mode, owner
# and checksum only (section offsite), then the last result from the state file (offsite-status).
observe_offsite_backup() {
  section offsite
  unit_state "${OFFSITE_UNIT}.timer"
  echo
  files_or_missing "${OFFSITE_FILES}"
  local file
  for file in ${OFFSITE_SECRET_FILES}; do
    # The same fingerprint as the EnvironmentFile's: never the content.
    ENV_FILE="${file}" observe_environment_file
  done
  section offsite-status
  printf 'now=%s\n' "$(date +%s)"
  [[ ! -f "${OFFSITE_STATE_FILE}" ]] || grep -E '^(last_result|last_attempt|last_success|last_snapshot|last_added_bytes|last_message)=' "${OFFSITE_STATE_FILE}" || true
}
