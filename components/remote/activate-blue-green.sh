#!/bin/bash
# Blue-green: start the release as the idle color beside the serving one, gate it through its own
# socket, move the proxy to it, watch it for the stability window with the old color still running,
# then let the old color drain and stop in the background. A failed gate leaves the old color
# serving, untouched; a failure inside the window moves traffic back to it at once.
set -euo pipefail
STEP="${STEP:-activate/blue-green}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/releases.sh
[[ -n "${AI4ARTSED_RELEASES_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/releases.sh"
# shellcheck source=SCRIPTDIR/lib/health.sh
[[ -n "${AI4ARTSED_HEALTH_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/health.sh"
# shellcheck source=SCRIPTDIR/lib/colors.sh
[[ -n "${AI4ARTSED_COLORS_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/colors.sh"
# shellcheck source=SCRIPTDIR/lib/detached.sh
[[ -n "${AI4ARTSED_DETACHED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/detached.sh"
# shellcheck source=SCRIPTDIR/lib/result.sh
[[ -n "${AI4ARTSED_RESULT_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/result.sh"

legacy_file() { printf '%s' "${LEGACY_UNIT_FILE}"; }

# stop_legacy: the restart strategy's unit binds the port the proxy needs (once, on the move
# from restart to blue-green: requests in flight on it are cut).
stop_legacy() {
  [[ -e "$(legacy_file)" ]] || return 0
  systemctl disable --quiet --now "${LEGACY_UNIT}" 2>/dev/null || true
  log "stopped ${LEGACY_UNIT} (restart strategy); ${PROXY_UNIT} takes over its port"
}

# restore_legacy: the proxy did not come up; give the port back to the restart unit.
restore_legacy() {
  [[ -e "$(legacy_file)" ]] || return 0
  systemctl stop "${PROXY_UNIT}" || true
  systemctl enable --quiet --now "${LEGACY_UNIT}" || true
  err "${LEGACY_UNIT} serves again"
}

remove_legacy() {
  [[ -e "$(legacy_file)" ]] || return 0
  rm -f "$(legacy_file)"
  systemctl daemon-reload
  log "removed ${LEGACY_UNIT}; blue-green serves through ${PROXY_UNIT}"
}

# move_traffic COLOR: point the serving link at the color; start the proxy when it is not running.
# Returns 1 when the public URL does not answer afterwards.
move_traffic() {
  switch_link "$(color_socket "$1")" "${SERVING_LINK}"
  if ! systemctl is-active --quiet "${PROXY_UNIT}"; then
    stop_legacy
    systemctl reset-failed "${PROXY_UNIT}" 2>/dev/null || true
    systemctl start "${PROXY_UNIT}" || return 1
  fi
  systemctl is-enabled --quiet "${PROXY_UNIT}" || systemctl enable --quiet "${PROXY_UNIT}"
  wait_healthy 5 "${PUBLIC_HEALTH_URL}" && return 0
  err "${HEALTH_FAILURE}"
  return 1
}

fail_gate() {
  local next="$1" serving="$2" failure="${HEALTH_FAILURE}"
  rm -f "${STANDBY_LINK}"
  err "health gate failed for ${COMMIT}${SETTINGS_CHANGED:+ with changed settings: ${SETTINGS_CHANGED}} on $(app_unit "${next}"): ${failure}. Last lines of its journal:"
  journalctl --unit "$(app_unit "${next}")" --lines 20 --no-pager --output cat >&2 || true
  stop_color "${next}"
  # The serving color's files on disk are its own again: a later restart or a reboot keeps it.
  restore_settings || true
  record "${COMMIT}" "failed: ${failure}${SETTINGS_CHANGED:+ (changed settings: ${SETTINGS_CHANGED})}"
  if [[ -z "${serving}" ]] && systemctl is-active --quiet "${LEGACY_UNIT}"; then
    die "deploy of ${COMMIT}${SETTINGS_CHANGED:+ with changed settings: ${SETTINGS_CHANGED}} failed (${failure}); $(basename "$(readlink "${INSTALL_DIR}/current")") is still serving on ${LEGACY_UNIT}, untouched. Fix the commit${SETTINGS_CHANGED:+ or the settings} and run 'pulumi up' again."
  fi
  if [[ -z "${serving}" ]]; then
    die "deploy of ${COMMIT}${SETTINGS_CHANGED:+ with changed settings: ${SETTINGS_CHANGED}} failed (${failure}); no color is serving. Fix the commit${SETTINGS_CHANGED:+ or the settings} and run 'pulumi up' again."
  fi
  die "deploy of ${COMMIT}${SETTINGS_CHANGED:+ with changed settings: ${SETTINGS_CHANGED}} failed (${failure}); $(basename "$(readlink "$(color_link "${serving}")")") is still serving on $(app_unit "${serving}"), untouched. Fix the commit${SETTINGS_CHANGED:+ or the settings} and run 'pulumi up' again."
}

# revert NEXT SERVING PREVIOUS: NEXT failed inside the watch window. Traffic goes back first, to the
# old color still running (or the restart unit it replaced), then NEXT stops. Exits non-zero.
revert() {
  local next="$1" serving="$2" previous="$3" failure="${HEALTH_FAILURE}" now_serving
  if [[ -n "${serving}" ]]; then
    switch_link "$(color_socket "${serving}")" "${SERVING_LINK}"
    now_serving="$(basename "$(readlink "$(color_link "${serving}")")") serves again on $(app_unit "${serving}")"
  elif [[ -e "$(legacy_file)" ]]; then
    restore_legacy
    now_serving="$(basename "${previous}") serves again on ${LEGACY_UNIT}"
  else
    now_serving="there is no previous release to go back to; $(app_unit "${next}") keeps running and restarting"
  fi
  rm -f "${STANDBY_LINK}"
  [[ -z "${previous}" ]] || switch_link "${previous}" "${INSTALL_DIR}/current"
  restore_settings || true
  err "${COMMIT}${SETTINGS_CHANGED:+ with changed settings: ${SETTINGS_CHANGED}} reverted: ${failure}. Last lines of its journal:"
  journalctl --unit "$(app_unit "${next}")" --lines 20 --no-pager --output cat >&2 || true
  record "${COMMIT}" "reverted: ${failure}${SETTINGS_CHANGED:+ (changed settings: ${SETTINGS_CHANGED})}"
  if [[ -n "${serving}" || -e "$(legacy_file)" ]]; then
    stop_color "${next}"
    record "$(basename "${previous}")" "serving again after reverted ${COMMIT}"
  fi
  die "deploy of ${COMMIT}${SETTINGS_CHANGED:+ with changed settings: ${SETTINGS_CHANGED}} reverted (${failure}); ${now_serving}. Fix the commit${SETTINGS_CHANGED:+ or the settings} and run 'pulumi up' again."
}

main() {
  require_vars INSTALL_DIR COMMIT APP_TEMPLATE BRIDGE_TEMPLATE PROXY_UNIT LEGACY_UNIT LEGACY_UNIT_FILE SOCKET_PREFIX \
    SERVING_LINK STANDBY_LINK COLOR_LINK_PREFIX HEALTH_PATH PUBLIC_HEALTH_URL HEALTH_TIMEOUT_SECONDS STABLE_SECONDS \
    DRAIN_TIMEOUT_SECONDS DRAIN_PREFIX DRAIN_PROGRAM_PREFIX KEEP_RELEASES DEPLOY_STAMP
  # From here on the server finishes the deploy by itself, whatever happens to this session.
  run_detached
  local release="${INSTALL_DIR}/releases/${COMMIT}" current="${INSTALL_DIR}/current"
  local stamp_file="${INSTALL_DIR}/.deployed"
  [[ -f "${release}/.complete" ]] || die "release ${release} is missing or incomplete; run the release step first"
  take_host_lock
  local serving previous
  serving="$(serving_color)"
  previous="$(readlink "${current}" || true)"
  if [[ -n "${serving}" && "$(readlink "$(color_link "${serving}")")" == "${release}" ]] \
    && [[ "$(cat "${stamp_file}" 2>/dev/null || true)" == "${DEPLOY_STAMP}" ]] \
    && systemctl is-active --quiet "${PROXY_UNIT}" "$(app_unit "${serving}")" && probe_health "${PUBLIC_HEALTH_URL}"; then
    log "${COMMIT} already serving and healthy on $(app_unit "${serving}"); nothing to do"
    step_result servingUnit "$(app_unit "${serving}")"
    return 0
  fi
  local next
  next="$(other_color "${serving:-green}")"
  # Named in every failure message: a settings-only change fails as clearly as a commit.
  SETTINGS_CHANGED="$(changed_settings)"
  wait_drained "${next}"
  stop_color "${next}"
  log "starting ${COMMIT} on $(app_unit "${next}") beside $([[ -n "${serving}" ]] && app_unit "${serving}" || printf 'nothing')"
  # Early, so the proxy has seen the standby up before traffic moves.
  [[ -z "${serving}" ]] || switch_link "$(color_socket "${serving}")" "${STANDBY_LINK}"
  start_color "${next}" "${release}"
  wait_color_healthy "${next}" || fail_gate "${next}" "${serving}"
  if ! move_traffic "${next}"; then
    rm -f "${STANDBY_LINK}"
    if [[ -n "${serving}" ]]; then
      switch_link "$(color_socket "${serving}")" "${SERVING_LINK}"
    else
      restore_legacy
    fi
    stop_color "${next}"
    restore_settings || true
    record "${COMMIT}" "failed: ${PROXY_UNIT} did not serve it"
    die "deploy of ${COMMIT} failed: ${PROXY_UNIT} did not answer on ${PUBLIC_HEALTH_URL} after the switch; see 'journalctl -u ${PROXY_UNIT}'."
  fi
  switch_link "${release}" "${current}"
  systemctl enable --quiet "$(app_unit "${next}")" "$(bridge_socket "${next}")"
  watch_color "${next}" || revert "${next}" "${serving}" "${previous}"
  rm -f "${STANDBY_LINK}"
  remove_legacy
  keep_settings
  printf '%s\n' "${DEPLOY_STAMP}" >"${stamp_file}"
  record "${COMMIT}" "ok (${next})"
  log "${COMMIT} is serving on $(app_unit "${next}") through ${PROXY_UNIT} (${PUBLIC_HEALTH_URL})"
  if [[ -n "${serving}" ]]; then
    drain_in_background "${serving}"
  fi
  prune_releases "${release}" "${previous}"
  step_result servingUnit "$(app_unit "${next}")"
}

main "$@"
