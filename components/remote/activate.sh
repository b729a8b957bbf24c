#!/bin/bash
# Switch `current` to the release, restart the unit, gate on health; on failure switch back.
set -euo pipefail
STEP="${STEP:-activate}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/releases.sh
[[ -n "${AI4ARTSED_RELEASES_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/releases.sh"

healthy_once() {
  curl --silent --fail --output /dev/null --max-time 5 "${HEALTH_URL}"
}

# crashed: the unit's process exited and systemd waits to restart it, or gave up.
crashed() {
  local state
  state="$(systemctl show --property=ActiveState,SubState --value "${UNIT_NAME}" | paste -sd' ')"
  [[ "${state}" == "failed "* || "${state}" == *" auto-restart" ]]
}

# wait_healthy: 0 when the health URL answers within the timeout; 1 when it does not,
# or when the service crashed meanwhile.
wait_healthy() {
  local deadline=$((SECONDS + HEALTH_TIMEOUT_SECONDS))
  while ((SECONDS < deadline)); do
    if healthy_once; then
      return 0
    fi
    if crashed; then
      GATE_FAILURE="the service exited during startup"
      return 1
    fi
    sleep 0.5
  done
  GATE_FAILURE="${HEALTH_URL} did not answer 2xx within ${HEALTH_TIMEOUT_SECONDS}s"
  return 1
}

restart_and_wait() {
  systemctl restart "${UNIT_NAME}"
  wait_healthy
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

main() {
  require_vars INSTALL_DIR COMMIT UNIT_NAME HEALTH_URL HEALTH_TIMEOUT_SECONDS KEEP_RELEASES DEPLOY_STAMP
  local release="${INSTALL_DIR}/releases/${COMMIT}" current="${INSTALL_DIR}/current"
  local stamp_file="${INSTALL_DIR}/.deployed"
  [[ -f "${release}/.complete" ]] || die "release ${release} is missing or incomplete; run the release step first"
  take_host_lock
  retire_units
  systemctl is-enabled --quiet "${UNIT_NAME}" || systemctl enable --quiet "${UNIT_NAME}"
  local previous
  previous="$(readlink "${current}" || true)"
  if [[ "${previous}" == "${release}" && "$(cat "${stamp_file}" 2>/dev/null || true)" == "${DEPLOY_STAMP}" ]] \
    && systemctl is-active --quiet "${UNIT_NAME}" && healthy_once; then
    log "${COMMIT} already serving and healthy; nothing to do"
    return 0
  fi
  GATE_FAILURE=""
  switch_link "${release}" "${current}"
  log "current -> ${release}; restarting ${UNIT_NAME}"
  if restart_and_wait; then
    printf '%s\n' "${DEPLOY_STAMP}" >"${stamp_file}"
    record "${COMMIT}" "ok"
    prune_releases "${release}" "${previous}"
    log "${COMMIT} is serving and healthy (${HEALTH_URL})"
    return 0
  fi
  local failure="${GATE_FAILURE}"
  err "health gate failed for ${COMMIT}: ${failure}. Last lines of the service's journal:"
  journalctl --unit "${UNIT_NAME}" --lines 20 --no-pager --output cat >&2 || true
  record "${COMMIT}" "failed: ${failure}"
  if [[ -z "${previous}" || "${previous}" == "${release}" ]]; then
    die "deploy of ${COMMIT} failed (${failure}) and there is no previous release to roll back to; ${UNIT_NAME} is not serving. Fix the commit and run 'pulumi up' again."
  fi
  switch_link "${previous}" "${current}"
  if restart_and_wait; then
    record "$(basename "${previous}")" "rolled back after failed ${COMMIT}"
    die "deploy of ${COMMIT} failed (${failure}); rolled back: $(basename "${previous}") is serving and healthy again. Fix the commit and run 'pulumi up' again."
  fi
  die "deploy of ${COMMIT} failed (${failure}); rolled back to $(basename "${previous}"), but it is not healthy either (${GATE_FAILURE}); check 'journalctl -u ${UNIT_NAME}'."
}

main "$@"
