#!/bin/bash
# Switch `current` to the release, restart the unit, gate on health, watch it for the stability
# window; on a failure of either, switch back and restart the previous release.
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
  deployed="${COMMIT}${settings:+ with changed settings: ${settings}}"
  [[ -z "${settings}" ]] || fix="the commit or the settings"
  err "${deployed} ${what}: ${failure}. Its main process: $(unit_exit "${UNIT_NAME}"). Last lines of the service's journal:"
  journalctl --unit "${UNIT_NAME}" --lines 20 --no-pager --output cat >&2 || true
  record "${COMMIT}" "${what}: ${failure}${settings:+ (changed settings: ${settings})}"
  # The previous release comes back with its own settings (a settings-only change: the same commit).
  restore_settings || true
  [[ -n "${settings}" && -z "${previous}" ]] && previous="${INSTALL_DIR}/releases/${COMMIT}"
  if [[ -z "${previous}" || ("${previous}" == "${INSTALL_DIR}/releases/${COMMIT}" && -z "${settings}") ]]; then
    die "deploy of ${deployed} ${what} (${failure}) and there is no previous release to roll back to; ${UNIT_NAME} is not serving. Fix ${fix} and run 'pulumi up' again."
  fi
  switch_link "${previous}" "${INSTALL_DIR}/current"
  if restart_and_wait; then
    record "$(basename "${previous}")" "rolled back after ${what} ${COMMIT}${settings:+ (changed settings)}"
    die "deploy of ${deployed} ${what} (${failure}); rolled back: $(basename "${previous}") is serving and healthy again with its last good settings. Fix ${fix} and run 'pulumi up' again."
  fi
  die "deploy of ${deployed} ${what} (${failure}); rolled back to $(basename "${previous}"), but it is not healthy either (${HEALTH_FAILURE}); check 'journalctl -u ${UNIT_NAME}'."
}

main() {
  require_vars INSTALL_DIR COMMIT UNIT_NAME HEALTH_URL HEALTH_TIMEOUT_SECONDS STABLE_SECONDS KEEP_RELEASES DEPLOY_STAMP
  # From here on the server finishes the deploy by itself, whatever happens to this session.
  run_detached
  local release="${INSTALL_DIR}/releases/${COMMIT}" current="${INSTALL_DIR}/current"
  local stamp_file="${INSTALL_DIR}/.deployed"
  [[ -f "${release}/.complete" ]] || die "release ${release} is missing or incomplete; run the release step first"
  take_host_lock
  retire_units
  systemctl is-enabled --quiet "${UNIT_NAME}" || systemctl enable --quiet "${UNIT_NAME}"
  local previous
  previous="$(readlink "${current}" || true)"
  if [[ "${previous}" == "${release}" && "$(cat "${stamp_file}" 2>/dev/null || true)" == "${DEPLOY_STAMP}" ]] \
    && systemctl is-active --quiet "${UNIT_NAME}" && probe_health "${HEALTH_URL}"; then
    log "${COMMIT} already serving and healthy; nothing to do"
    step_result servingUnit "${UNIT_NAME}"
    return 0
  fi
  switch_link "${release}" "${current}"
  log "current -> ${release}; restarting ${UNIT_NAME}"
  restart_and_wait || roll_back failed "${previous}"
  # One unit holds the port, so the previous release cannot run beside this one: a revert is a switch and a restart.
  watch_stable "${STABLE_SECONDS}" "${HEALTH_URL}" "" "${UNIT_NAME}" || roll_back reverted "${previous}"
  keep_settings
  printf '%s\n' "${DEPLOY_STAMP}" >"${stamp_file}"
  record "${COMMIT}" "ok"
  prune_releases "${release}" "${previous}"
  log "${COMMIT} is serving and healthy (${HEALTH_URL})"
  step_result servingUnit "${UNIT_NAME}"
}

main "$@"
