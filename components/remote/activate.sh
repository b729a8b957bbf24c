#!/bin/bash
# Switch `current` to the release, restart the unit, gate on health, watch it for the stability
# window; on a failure of either, switch back and restart the previous release. The app's own
# extra services (app.services) run the same way from a link of their own (CURRENT_LINK), say
# what they are in every message (SUBJECT), and restart only when their own inputs changed.
set -euo pipefail
STEP="${STEP:-activate}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/releases.sh
[[ -n "${AI4ARTSED_RELEASES_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/releases.sh"
# shellcheck source=SCRIPTDIR/lib/health.sh
[[ -n "${AI4ARTSED_HEALTH_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/health.sh"
# shellcheck source=SCRIPTDIR/lib/detached.sh
[[ -n "${AI4ARTSED_DETACHED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/detached.sh"
# shellcheck source=SCRIPTDIR/lib/result.sh
[[ -n "${AI4ARTSED_RESULT_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/result.sh"

# free_port: the service's port (TAKE_OVER_PORT) must be free for its unit. Its hand-started
# instance (a process run from a directory named like the service's, with its entry script on
# the command line: the operators' terminal today) is stopped, gracefully: one short gap. Anything
# else there stops the deploy, saying what holds the port; nothing is killed by port.
free_port() {
  [[ -n "${TAKE_OVER_PORT:-}" ]] || return 0
  local pid cwd command owner
  for pid in $(ss -Hltnp "sport = :${TAKE_OVER_PORT}" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    owner="$(systemctl whoami "${pid}" 2>/dev/null || ps -o unit= -p "${pid}" 2>/dev/null || true)"
    [[ "${owner}" != "${UNIT_NAME}" ]] || continue
    cwd="$(readlink "/proc/${pid}/cwd" || true)"
    command="$(tr '\0' ' ' <"/proc/${pid}/cmdline" || true)"
    if [[ "${cwd##*/}" == "${TAKE_OVER_DIR}" && " ${command}" == *" ${TAKE_OVER_ENTRY}"* ]]; then
      log "taking over the hand-started ${SUBJECT%% *} (pid ${pid}: ${command}in ${cwd}): stopping it"
      kill -TERM "${pid}"
      local waited=0
      while kill -0 "${pid}" 2>/dev/null && ((waited++ < 300)); do
        sleep 0.1
      done
      if kill -0 "${pid}" 2>/dev/null; then
        die "the hand-started ${SUBJECT%% *} (pid ${pid}) did not stop within 30 s; stop it yourself, then run 'pulumi up' again"
      fi
    else
      die "port ${TAKE_OVER_PORT}, which ${UNIT_NAME} needs, is held by pid ${pid} (${command}in ${cwd:-?}${owner:+, unit ${owner}})," \
        "which is not this program's; nothing was changed. Stop it yourself (its terminal, or 'systemctl stop <unit>'), or choose another port, then run 'pulumi up' again."
    fi
  done
}

restart_and_wait() {
  systemctl restart "${UNIT_NAME}"
  wait_healthy "${HEALTH_TIMEOUT_SECONDS}" "${HEALTH_URL}" "" "${UNIT_NAME}"
}

# retire_units: stop and disable what another deploy strategy left running (the blue-green
# proxy holds the port, the colors their sockets); does nothing when there is nothing.
retire_units() {
  local unit
  for unit in ${RETIRE_UNITS:-}; do
    if systemctl is-active --quiet "${unit}" || [[ "$(systemctl is-enabled "${unit}" 2>/dev/null)" == enabled ]]; then
      systemctl disable --quiet --now "${unit}" 2>/dev/null || systemctl stop "${unit}"
      log "stopped ${unit}, left by the blue-green strategy"
    fi
  done
}

# roll_back WHAT PREVIOUS: the new release failed (WHAT: "failed" at the gate, "reverted" after
# the watch window); show why, record it, and serve PREVIOUS again. Always exits non-zero.
roll_back() {
  local what="$1" previous="$2" failure="${HEALTH_FAILURE}" settings deployed fix="the commit"
  settings="$(changed_settings)"
  deployed="${SUBJECT}${settings:+ with changed settings: ${settings}}"
  [[ -z "${settings}" ]] || fix="the commit or the settings"
  err "${deployed} ${what}: ${failure}. Its main process: $(unit_exit "${UNIT_NAME}"). Last lines of the service's journal:"
  journalctl --unit "${UNIT_NAME}" --lines 20 --no-pager --output cat >&2 || true
  record "${RECORD_PREFIX:-}${COMMIT}" "${what}: ${failure}${settings:+ (changed settings: ${settings})}"
  # The previous release comes back with its own settings (a settings-only change: the same commit).
  restore_settings || true
  [[ -n "${settings}" && -z "${previous}" ]] && previous="${INSTALL_DIR}/releases/${COMMIT}"
  if [[ -z "${previous}" || ("${previous}" == "${INSTALL_DIR}/releases/${COMMIT}" && -z "${settings}") ]]; then
    die "deploy of ${deployed} ${what} (${failure}) and there is no previous release to roll back to; ${UNIT_NAME} is not serving. Fix ${fix} and run 'pulumi up' again."
  fi
  switch_link "${previous}" "${CURRENT_LINK}"
  if restart_and_wait; then
    record "${RECORD_PREFIX:-}$(basename "${previous}")" "rolled back after ${what} ${COMMIT}${settings:+ (changed settings)}"
    die "deploy of ${deployed} ${what} (${failure}); rolled back: $(basename "${previous}") is serving and healthy again with its last good settings. Fix ${fix} and run 'pulumi up' again."
  fi
  die "deploy of ${deployed} ${what} (${failure}); rolled back to $(basename "${previous}"), but it is not healthy either (${HEALTH_FAILURE}); check 'journalctl -u ${UNIT_NAME}'."
}

main() {
  require_vars INSTALL_DIR COMMIT UNIT_NAME HEALTH_URL HEALTH_TIMEOUT_SECONDS STABLE_SECONDS KEEP_RELEASES DEPLOY_STAMP
  # The app's: `current`, its stamp, messages about the commit. An extra service's: its own.
  CURRENT_LINK="${CURRENT_LINK:-${INSTALL_DIR}/current}"
  SUBJECT="${SUBJECT:-${COMMIT}}"
  # From here on the server finishes the deploy by itself, whatever happens to this session.
  run_detached
  local release="${INSTALL_DIR}/releases/${COMMIT}" current="${CURRENT_LINK}"
  local stamp_file="${STAMP_FILE:-${INSTALL_DIR}/.deployed}"
  [[ -f "${release}/.complete" ]] || die "release ${release} is missing or incomplete; run the release step first"
  take_host_lock
  retire_units
  systemctl is-enabled --quiet "${UNIT_NAME}" || systemctl enable --quiet "${UNIT_NAME}"
  local previous
  previous="$(readlink "${current}" || true)"
  # The stamp is what the deploy installs, hashed (the app's names its commit; an extra service's
  # its directory's tree and its venv, so a change elsewhere leaves it running on its release).
  if [[ "$(cat "${stamp_file}" 2>/dev/null || true)" == "${DEPLOY_STAMP}" ]] \
    && systemctl is-active --quiet "${UNIT_NAME}" && probe_health "${HEALTH_URL}"; then
    log "${SUBJECT} already serving and healthy; nothing to do"
    step_result servingUnit "${UNIT_NAME}"
    return 0
  fi
  free_port
  mkdir -p "$(dirname "${current}")"
  switch_link "${release}" "${current}"
  log "${current} -> ${release}; restarting ${UNIT_NAME}"
  restart_and_wait || roll_back failed "${previous}"
  # One unit holds the port, so the previous release cannot run beside this one: a revert is a switch and a restart.
  watch_stable "${STABLE_SECONDS}" "${HEALTH_URL}" "" "${UNIT_NAME}" || roll_back reverted "${previous}"
  keep_settings
  printf '%s\n' "${DEPLOY_STAMP}" >"${stamp_file}"
  record "${RECORD_PREFIX:-}${COMMIT}" "ok"
  # The app's deploy prunes (keeping what the extra services run); an extra service's does not.
  [[ "${PRUNE:-yes}" != yes ]] || prune_releases "${release}" "${previous}"
  log "${SUBJECT} is serving and healthy (${HEALTH_URL})"
  step_result servingUnit "${UNIT_NAME}"
}

main "$@"
